"""Grading throughput: ``grade_many`` (worker pool) vs one-at-a-time ``grade``, 4,000 answers.

The mix is realistic for RL rewards on math: 70% decided by the in-process string pass,
25% needing sympy in a worker, 5% hostile. Every response carries a ~2 kB reasoning
trace before ``</think>``. Worker start-up is paid before timing and reported apart.

    python benchmarks/grading.py [--n 4000] [--workers N] [--timeout 5] [--second-opinion]
"""

from __future__ import annotations

import argparse
import random
import time

from polsplit_cli.eval.grading import grade, grade_many
from polsplit_cli.eval.grading.pool import default_workers

HOSTILE = [r"9^{9^{9^{9}}}", r"10**10**10", r"__import__('os').system('echo pwned')", "{" * 400 + "1" + "}" * 400,
           r"(10^{1000})^{1000}", "x" * 900, r"\frac" * 150 + "12", "(" * 5000 + ")" * 5000]


def _string_pair(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(1, 99), rng.randint(2, 99)
    right = rng.random() < 0.6
    shift = 0 if right else rng.randint(1, 5)
    return rng.choice([
        (str(a), f"{a + shift:03d}"),
        (rf"\frac{{{a}}}{{{b}}}", rf"\dfrac{{{a + shift}}}{{{b}}}"),
        (str(a), f"x = {a + shift}"),
        (f"({a},{b})", f"({a + shift}, {b})"),
        (str(a * 1000), f"{(a + shift) * 1000:,}"),
        (rf"{a}^\circ", str(a + shift)),
    ])


def _sympy_pair(rng: random.Random) -> tuple[str, str]:
    k, a = rng.choice([2, 3, 5, 6, 7]), rng.randint(2, 9)
    right = rng.random() < 0.6
    shift = 0 if right else 1
    return rng.choice([
        (rf"{a}\sqrt{{{k}}}", rf"\sqrt{{{a * a * k + shift}}}"),
        (rf"\frac{{{a}}}{{8}}", str(a / 8 + shift)),
        (rf"x^2+{2 * a}x+{a * a + shift}", rf"(x+{a})^2"),
        (rf"\frac{{\pi}}{{{a}}}", rf"\frac{{{1 + shift}}}{{{a}}}\pi"),
    ])


def make_items(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    trace = "<think>" + "Let me reason about this step by step. " * 50 + "</think>"
    items = []
    for index in range(n):
        roll = rng.random()
        if roll < 0.70:
            gold, pred = _string_pair(rng)
        elif roll < 0.95:
            gold, pred = _sympy_pair(rng)
        else:
            gold, pred = r"\sqrt{2}", HOSTILE[index % len(HOSTILE)]
        items.append((f"{trace}The answer is $\\boxed{{{pred}}}$.", gold))
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--second-opinion", action="store_true", help="also ask math-verify (slower)")
    args = parser.parse_args()
    items = make_items(args.n)
    options = {"timeout": args.timeout, "second_opinion": args.second_opinion}

    start = time.perf_counter()
    grade_many(items[:2 * args.workers], workers=args.workers, **options)  # start the pool's workers
    grade(*items[0], **options)  # and grade()'s single worker
    print(f"worker start-up (both pools): {time.perf_counter() - start:.2f} s")

    start = time.perf_counter()
    batch = grade_many(items, workers=args.workers, **options)
    batch_s = time.perf_counter() - start

    start = time.perf_counter()
    single = [grade(response, gold, **options) for response, gold in items]
    single_s = time.perf_counter() - start

    reasons: dict[str, int] = {}
    for result in batch:
        reasons[result.reason] = reasons.get(result.reason, 0) + 1
    print(f"answers: {len(items)}  reasons: {dict(sorted(reasons.items()))}")
    print(f"grade_many ({args.workers} workers): {batch_s:7.2f} s  {len(items) / batch_s:8.1f} answers/s")
    print(f"grade one at a time:     {single_s:7.2f} s  {len(items) / single_s:8.1f} answers/s")
    print(f"ratio grade_many / grade: {single_s / batch_s:.2f}x")
    agree = sum(a.correct == b.correct for a, b in zip(batch, single, strict=True))
    print(f"verdicts agree: {agree}/{len(items)}")


if __name__ == "__main__":
    main()
