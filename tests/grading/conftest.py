"""Start the grading workers once, so that timed tests measure grading, not process start-up."""

import pytest

from polsplit_cli.eval.grading import grade, grade_many


@pytest.fixture(scope="session", autouse=True)
def warm_grading_workers():
    sympy_item = (r"</think>\boxed{2\sqrt{2}}", r"\sqrt{8}")
    assert grade(*sympy_item).reason == "sympy-equal"
    assert [g.reason for g in grade_many([sympy_item] * 2, workers=2)] == ["sympy-equal"] * 2
