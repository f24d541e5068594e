"""``grade`` and ``grade_many``: the one grader of the evaluator and the RL reward.

In-process: answer extraction, choice letters, the string passes of the math grader. In
worker processes with a hard time limit: sympy equality and math-verify (``pool.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from polsplit_cli.eval.grading.extract import choice_letter, extract_answer, last_boxed
from polsplit_cli.eval.grading.math_grader import plan_math
from polsplit_cli.eval.grading.pool import Job, default_workers, shared_pool
from polsplit_cli.prompts import CHOICE_LETTERS

KINDS = ("math", "choice")
_SYMPY_REASONS = {"equal": "sympy-equal", "unequal": "mismatch", "unparseable": "unparseable",
                  "timeout": "timeout", "error": "worker-error"}


@dataclass(frozen=True)
class Grade:
    """The verdict on one response.

    ``reason`` is one of: "match" (equal after normalization), "sympy-equal", "mismatch",
    "no-think-close", "no-boxed", "unbalanced", "too-long", "invalid-choice", "unparseable",
    "timeout", "worker-error". ``second_opinion`` is math-verify's verdict when it was asked
    for (math only), else None.
    """

    correct: bool
    extracted: str | None
    reason: str
    second_opinion: bool | None = None


GradeItem = Mapping[str, Any] | Sequence[Any]


def _unpack(item: GradeItem) -> tuple[str, str, str, int | None]:
    if isinstance(item, Mapping):
        response, gold = item["response"], item["gold"]
        kind, n_options = item.get("kind", "math"), item.get("n_options")
    else:
        response, gold, *rest = item
        kind = rest[0] if rest else "math"
        n_options = rest[1] if len(rest) > 1 else None
    if kind not in KINDS:
        raise ValueError(f"grading kind must be one of {KINDS}, got {kind!r}")
    if n_options is not None and not 2 <= n_options <= len(CHOICE_LETTERS):
        raise ValueError(f"n_options must be 2-{len(CHOICE_LETTERS)}, got {n_options!r}")
    return str(response), str(gold), kind, n_options


def _gold_answer(gold: str) -> str:
    """Gold answers may come boxed (e.g. from a solution text); grade against the box content."""
    boxed, _ = last_boxed(gold)
    return boxed if boxed is not None else gold.strip()


def _gold_letter(gold: str) -> str:
    letter = choice_letter(gold)
    if letter is None:
        raise ValueError(f"a multiple-choice gold answer must be a letter, got {gold!r}")
    return letter


def _grade_choice(extracted: str, gold_letter: str, n_options: int | None) -> Grade:
    letter = choice_letter(extracted)
    if letter is None:
        return Grade(False, extracted, "unparseable")
    if n_options is not None and CHOICE_LETTERS.index(letter) >= n_options:
        return Grade(False, extracted, "invalid-choice")
    return Grade(letter == gold_letter, extracted, "match" if letter == gold_letter else "mismatch")


def grade_many(
    items: Iterable[GradeItem],
    *,
    timeout: float = 5.0,
    workers: int | None = None,
    require_think_close: bool = True,
    second_opinion: bool = False,
) -> list[Grade]:
    """Grade many responses; the sympy steps run in parallel over ``workers`` processes.

    ``items``: dicts ``{"response", "gold", "kind"="math", "n_options"=None}`` or tuples
    ``(response, gold[, kind[, n_options]])``. ``timeout`` bounds each worker job (seconds
    of wall clock); a sympy step that runs out is incorrect with reason "timeout".
    ``second_opinion=True`` also asks math-verify about every extracted math answer (one more
    worker job each, so the cheap in-process path is no longer the only cost).
    """
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    grades: list[Grade] = []
    jobs: list[Job] = []
    owners: list[tuple[int, str]] = []  # (item index, "sympy" | "verify") per job
    for index, item in enumerate(items):
        response, gold, kind, n_options = _unpack(item)
        gold = _gold_letter(gold) if kind == "choice" else _gold_answer(gold)
        extracted, reason = extract_answer(response, require_think_close=require_think_close)
        if extracted is None:
            grades.append(Grade(False, None, reason))
            continue
        if kind == "choice":
            grades.append(_grade_choice(extracted, gold, n_options))
            continue
        plan = plan_math(gold, extracted)
        if plan.reason is None:
            grades.append(Grade(False, extracted, "pending"))
            jobs.append({"sympy": [list(pair) for pair in plan.sympy_pairs], "verify": None})
            owners.append((index, "sympy"))
        else:
            grades.append(Grade(plan.reason == "match", extracted, plan.reason))
        if second_opinion:
            jobs.append({"sympy": None, "verify": [gold, extracted]})
            owners.append((index, "verify"))
    results = shared_pool(workers or default_workers()).run(jobs, timeout) if jobs else []
    for (index, job_kind), result in zip(owners, results, strict=True):
        verdict = result[job_kind] if isinstance(result, dict) else result  # else killed or died
        if job_kind == "sympy":
            reason = _SYMPY_REASONS[verdict]
            grades[index] = replace(grades[index], correct=reason == "sympy-equal", reason=reason)
        else:
            grades[index] = replace(grades[index], second_opinion=verdict if isinstance(verdict, bool) else None)
    return grades


def grade(
    response: str,
    gold: str,
    *,
    kind: str = "math",
    n_options: int | None = None,
    timeout: float = 5.0,
    require_think_close: bool = True,
    second_opinion: bool = False,
) -> Grade:
    """Grade one response against its gold answer (see ``grade_many``); uses one shared worker."""
    return grade_many([(response, gold, kind, n_options)], timeout=timeout, workers=1,
                      require_think_close=require_think_close, second_opinion=second_opinion)[0]
