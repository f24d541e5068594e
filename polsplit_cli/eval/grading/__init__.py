"""Grading of model answers: the evaluator's scores and the RL rewards (see docs/grading.md).

``grade(response, gold, kind="math"|"choice", n_options=None, timeout=5.0, grader="combined",
answer_region="after-think") -> Grade``, ``grade_many(items, ...) -> list[Grade]`` and the cheap
in-process ``extract_answer(response, answer_region="after-think") -> (answer | None, reason)``.
Model output is untrusted: it is never evaluated, and every sympy/math-verify step runs in a
worker process (``python -m polsplit_cli.eval.grading.worker``) that is killed at the time limit.
"""

from polsplit_cli.eval.grading.extract import ANSWER_REGIONS, DEFAULT_ANSWER_REGION, extract_answer
from polsplit_cli.eval.grading.grader import (
    DEFAULT_GRADER,
    DEFAULT_TIMEOUT_S,
    GRADERS,
    Grade,
    grade,
    grade_many,
    grader_manifest,
)

__all__ = ["ANSWER_REGIONS", "DEFAULT_ANSWER_REGION", "DEFAULT_GRADER", "DEFAULT_TIMEOUT_S", "GRADERS", "Grade",
           "extract_answer", "grade", "grade_many", "grader_manifest"]
