"""The verl reward: the project's math grader (boxed answer after ``</think>``), 1.0 or 0.0.

Configured as ``reward.custom_reward_function.{path: pkg://polsplit_cli.train.verl.reward,
name: compute_score, reward_kwargs: {grader: combined}}`` (``grader: prm800k`` is the paper's
reward; docs/grading.md). verl's reward manager decodes the response and calls this in a
thread; ``grade`` does the risky parts (sympy, math-verify) in a worker process with a hard
wall-clock limit, so a pathological answer costs at most a few ``GRADE_TIMEOUT_S`` and scores 0.
"""

from __future__ import annotations

from typing import Any

from polsplit_cli.eval.grading import DEFAULT_GRADER, grade

GRADE_TIMEOUT_S = 5.0


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Any = None,
                  grader: str = DEFAULT_GRADER, **_: Any) -> float:
    """1.0 when the last boxed answer after ``</think>`` equals the ground truth, else 0.0."""
    verdict = grade(solution_str, str(ground_truth), kind="math", timeout=GRADE_TIMEOUT_S, grader=grader)
    return 1.0 if verdict.correct else 0.0
