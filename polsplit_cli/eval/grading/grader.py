"""``grade`` and ``grade_many``: the one grader of the evaluator and both RL rewards.

Three graders (``GRADERS``), each a verdict on the extracted answer:

- "prm800k": the PRM800K-style path (the paper's reward): normalized strings in-process, then a
  guarded sympy equality in a worker;
- "math-verify": math-verify's equivalence check alone (in a worker);
- "combined" (the default): correct when either proves equality. The PRM800K path goes first
  and its string match is final, so typical right answers never reach a worker; two plain
  numbers are settled in-process (``math_grader.numeric_verdict``); anything else not yet
  proved equal becomes one worker job that runs sympy and, unless that proved equality,
  math-verify.

Both checkers' verdicts are kept on the ``Grade`` (``prm800k``, ``math_verify``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from polsplit_cli.eval.grading.extract import (
    DEFAULT_ANSWER_REGION,
    choice_letter,
    extract_answer,
    last_boxed,
    resolve_region,
)
from polsplit_cli.eval.grading.math_grader import brackets_conflict, numeric_verdict, plan_math
from polsplit_cli.eval.grading.pool import Job, default_workers, shared_pool
from polsplit_cli.eval.grading.whitelist import verify_accepts
from polsplit_cli.prompts import CHOICE_LETTERS
from polsplit_cli.runfiles import package_version

KINDS = ("math", "choice")
GRADERS = ("prm800k", "math-verify", "combined")
DEFAULT_GRADER = "combined"
DEFAULT_TIMEOUT_S = 5.0
CHECKER_PACKAGES = ("math-verify", "latex2sympy2_extended", "sympy")  # their versions go into manifests
_VERDICTS = {"equal": True, "unequal": False, "different": False}
_OUTCOMES = {"unequal": "mismatch", "different": "mismatch", "unparseable": "unparseable", "timeout": "timeout", "error": "worker-error"}
_BACKSLASHES = re.compile(r"\\+")


@dataclass(frozen=True)
class Grade:
    """The verdict on one response.

    ``reason`` is one of: "match" (equal after normalization, or the same choice letter),
    "sympy-equal", "numeric-equal" (two plain numbers, combined grader), "math-verify-equal",
    "mismatch", "no-think-close", "no-boxed", "unbalanced", "too-long", "invalid-choice",
    "unparseable", "timeout", "worker-error". ``prm800k`` and ``math_verify`` are the two
    checkers' verdicts on a math answer; None where one was not consulted or gave no verdict
    (input it refuses, a timeout, a failure).
    """

    correct: bool
    extracted: str | None
    reason: str
    prm800k: bool | None = None
    math_verify: bool | None = None


GradeItem = Mapping[str, Any] | Sequence[Any]


def grader_manifest(grader: str, answer_region: str, timeout: float) -> dict[str, Any]:
    """How a run graded, for its manifest.json: grader, answer region, time limit, checker versions."""
    versions = {package: package_version(package) for package in CHECKER_PACKAGES}
    return {"grader": grader, "answer_region": answer_region, "timeout_s": timeout, "versions": versions}


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


def gold_answer(gold: str) -> str:
    """A gold answer as the grader compares it: the content of its box if it has one, and with
    doubled backslashes halved when every backslash is doubled (``\\\\frac{1}{5}``, an escaping
    slip of the data set; ``\\\\`` alone is a LaTeX line break and stays)."""
    boxed, _ = last_boxed(gold)
    text = boxed if boxed is not None else gold.strip()
    runs = _BACKSLASHES.findall(text)
    if runs and all(len(run) % 2 == 0 for run in runs) and re.search(r"\\\\[A-Za-z]", text):
        text = _BACKSLASHES.sub(lambda run: "\\" * (len(run.group()) // 2), text)
    return text


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


def _plan(gold: str, pred: str, grader: str) -> tuple[Grade, Job | None]:
    """What can be decided in-process, and the worker job for the rest (None: nothing left to ask)."""
    sympy_pairs, prm800k, reason = None, None, "unparseable"
    if grader != "math-verify":
        plan = plan_math(gold, pred)
        if plan.reason == "match":
            return Grade(True, pred, "match", prm800k=True), None
        if grader == "combined" and (numbers := numeric_verdict(gold, pred)) is not None:
            equal, exactly = numbers  # the sympy step on two numbers would be exact equality
            prm800k = exactly if plan.reason is None else False
            return Grade(equal, pred, "numeric-equal" if equal else "mismatch", prm800k=prm800k), None
        if plan.reason is None:
            sympy_pairs = [list(pair) for pair in plan.sympy_pairs]
        else:
            prm800k, reason = False, plan.reason
    verify = None  # "(0,1)" is never "[0,1]", whatever math-verify says
    if grader != "prm800k" and verify_accepts(gold) and verify_accepts(pred) and not brackets_conflict(gold, pred):
        verify = [gold, pred]
    decided = Grade(False, pred, reason, prm800k=prm800k)  # until a worker says more
    if sympy_pairs is None and verify is None:
        return decided, None
    return decided, {"sympy": sympy_pairs, "verify": verify}


def _finish(decided: Grade, job: Job, result: dict[str, str | None] | str) -> Grade:
    """The grade once the worker has answered, or was killed ("timeout") or died ("error")."""
    if isinstance(result, str):  # no step of the job finished
        result = {step: result if job[step] is not None else None for step in ("sympy", "verify")}
    sympy, verify = result["sympy"], result["verify"]
    prm800k = _VERDICTS.get(sympy) if sympy is not None else decided.prm800k
    math_verify = _VERDICTS.get(verify) if verify is not None else None
    if prm800k or math_verify:
        reason = "sympy-equal" if prm800k else "math-verify-equal"
    else:  # the most telling outcome: a checker that found them different, then why none could tell
        outcomes = {_OUTCOMES.get(verdict) for verdict in (sympy, verify)} | {decided.reason}
        reason = next(outcome for outcome in ("mismatch", "timeout", "worker-error", "unparseable")
                      if outcome in outcomes)
    return replace(decided, correct=bool(prm800k or math_verify), reason=reason, prm800k=prm800k,
                   math_verify=math_verify)


def grade_many(
    items: Iterable[GradeItem],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    workers: int | None = None,
    grader: str = DEFAULT_GRADER,
    answer_region: str = DEFAULT_ANSWER_REGION,
    require_think_close: bool | None = None,
) -> list[Grade]:
    """Grade many responses; the worker steps run in parallel over ``workers`` processes.

    ``items``: dicts ``{"response", "gold", "kind"="math", "n_options"=None}`` or tuples
    ``(response, gold[, kind[, n_options]])``. ``grader``: one of ``GRADERS``. ``answer_region``:
    "after-think" (a response without ``</think>`` is a truncated thought, incorrect), "whole"
    or "auto" (see ``extract.region_text``); ``require_think_close`` is its older spelling.
    ``timeout`` bounds each worker step (seconds of wall clock); a step that runs out gives no
    verdict, and an answer no checker proved equal is then incorrect with reason "timeout".
    """
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    if grader not in GRADERS:
        raise ValueError(f"grader must be one of {GRADERS}, got {grader!r}")
    region = resolve_region(answer_region, require_think_close)
    grades: list[Grade] = []
    jobs: list[Job] = []
    owners: list[int] = []
    for index, item in enumerate(items):
        response, gold, kind, n_options = _unpack(item)
        gold = _gold_letter(gold) if kind == "choice" else gold_answer(gold)
        extracted, reason = extract_answer(response, answer_region=region)
        if extracted is None:
            grades.append(Grade(False, None, reason))
        elif kind == "choice":
            grades.append(_grade_choice(extracted, gold, n_options))
        else:
            decided, job = _plan(gold, extracted, grader)
            grades.append(decided)
            if job is not None:
                jobs.append(job)
                owners.append(index)
    results = shared_pool(workers or default_workers()).run(jobs, timeout)
    for index, job, result in zip(owners, jobs, results, strict=True):
        grades[index] = _finish(grades[index], job, result)
    return grades


def grade(
    response: str,
    gold: str,
    *,
    kind: str = "math",
    n_options: int | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    grader: str = DEFAULT_GRADER,
    answer_region: str = DEFAULT_ANSWER_REGION,
    require_think_close: bool | None = None,
) -> Grade:
    """Grade one response against its gold answer (see ``grade_many``); uses one shared worker."""
    return grade_many([(response, gold, kind, n_options)], timeout=timeout, workers=1, grader=grader,
                      answer_region=answer_region, require_think_close=require_think_close)[0]
