"""Grader agreement on the case sets of tests/grading/data: agreement, false positives, false negatives.

Each case becomes ``<think>...</think> The answer is \\boxed{PRED}`` and is graded by each of our
graders (``grade_many``). ``--math-verify-alone`` adds math-verify 0.9 as its README uses it, on
the whole response and in this process (the case files are trusted text; our graders never run
it on model output outside a worker): ``verify(parse("$GOLD$"), parse(response))`` with its
default extraction, and its string extraction of the letters A-D for multiple choice.

    python benchmarks/grading_agreement.py [--math-verify-alone] [--verbose]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from polsplit_cli.eval.grading import GRADERS, grade_many

DATA = Path(__file__).resolve().parents[1] / "tests" / "grading" / "data"


def respond(pred: str) -> str:
    return f"<think>...</think> The answer is \\boxed{{{pred}}}"


def ours(rows: list[dict], grader: str) -> list[bool]:
    items = [(respond(row["pred"]), row["gold"], row["kind"], row["n_options"]) for row in rows]
    return [result.correct for result in grade_many(items, grader=grader)]


def math_verify_alone(rows: list[dict]) -> list[bool]:
    from math_verify import StringExtractionConfig, parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    verdicts = []
    for row in rows:
        if row["kind"] == "choice":
            letters = [StringExtractionConfig(strings=tuple("ABCDEFGHIJ"[: row["n_options"]]))]
            verdicts.append(bool(verify(parse(row["gold"], letters), parse(respond(row["pred"]), letters))))
        else:
            verdicts.append(bool(verify(parse(f"${row['gold']}$"), parse(respond(row["pred"])))))
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--math-verify-alone", action="store_true", help="also math-verify 0.9 by itself")
    parser.add_argument("--verbose", action="store_true", help="list the false positives and negatives")
    args = parser.parse_args()
    for path in sorted(DATA.glob("grader-cases-*.jsonl")):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        print(f"{path.name}: {len(rows)} cases ({sum(row['expected'] for row in rows)} equivalent)")
        for name in [*GRADERS, *(["math-verify 0.9 alone"] if args.math_verify_alone else [])]:
            start = time.perf_counter()
            verdicts = ours(rows, name) if name in GRADERS else math_verify_alone(rows)
            seconds = time.perf_counter() - start
            wrong = [(row, verdict) for row, verdict in zip(rows, verdicts, strict=True) if verdict != row["expected"]]
            false_positives = sum(verdict for _, verdict in wrong)
            print(f"  {name:22} agree {len(rows) - len(wrong):3}/{len(rows)}  false positives {false_positives:2}  "
                  f"false negatives {len(wrong) - false_positives:2}  ({seconds:.1f} s)")
            if args.verbose:
                for row, verdict in wrong:
                    print(f"      {'FP' if verdict else 'FN'} {row['gold']!r} | {row['pred']!r}")


if __name__ == "__main__":
    main()
