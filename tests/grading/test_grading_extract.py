"""Answer extraction (after the last </think>, last balanced box) and multiple-choice grading."""

import pytest

from polsplit_cli.eval.grading import extract_answer, grade, grade_many
from polsplit_cli.eval.grading.extract import choice_letter, region_text


@pytest.mark.parametrize(
    ("response", "answer", "reason"),
    [
        (r"<think>x</think>\boxed{5}", "5", "ok"),
        (r"<think>\boxed{1}</think> so \boxed{2}", "2", "ok"),  # inside the thinking does not count
        (r"<think>a</think>\boxed{1} wait, \boxed{2} and finally \boxed{3}.", "3", "ok"),  # last wins
        (r"<think>a</think><think>b</think>\boxed{7}", "7", "ok"),  # after the LAST </think>
        (r"</think>\boxed{\frac{1}{\sqrt{2}}}", r"\frac{1}{\sqrt{2}}", "ok"),  # nested braces
        (r"</think>\boxed{\{1,2\}}", r"\{1,2\}", "ok"),  # escaped braces are not counted
        (r"</think>\boxed 5 apples", "5", "ok"),
        (r"</think>$\boxed 5$", "5", "ok"),
        (r"</think>\fbox{12}", "12", "ok"),
        (r"</think>\boxed{ 12 }", "12", "ok"),
        (r"<think>long reasoning \boxed{4} never closed", None, "no-think-close"),
        (r"</think>The answer is 4.", None, "no-boxed"),
        (r"</think>\boxed{4} then \boxed{\frac{1}{2}", None, "unbalanced"),  # the last box decides
        ("</think>\\boxed{" + "1" * 2000 + "}", None, "too-long"),
        # one answer in several boxes: the last box with the boxes just before it
        (r"</think>The solutions are \boxed{2} and \boxed{3}.", "2, 3", "ok"),
        (r"</think>$\boxed{-2}$ \quad \text{and} \quad $\boxed{1}$", "-2, 1", "ok"),
        (r"</think>\boxed{(1, 2)}, \boxed{(2, 1)}", "(1, 2), (2, 1)", "ok"),
        (r"</think>first \boxed{1}, then I found \boxed{2}", "2", "ok"),  # text between: only the last
        (r"</think>\boxed{\boxed{1} \text{ and } \boxed{2}}", r"1 \text{ and } 2", "ok"),  # boxes in a box
        (r"</think>\boxed{\frac{1}{2}} and \boxed{3", None, "unbalanced"),
    ],
)
def test_extract_answer(response, answer, reason):
    assert extract_answer(response) == (answer, reason)


@pytest.mark.parametrize(
    ("response", "after_think", "whole", "auto"),
    [
        (r"<think>\boxed{1}</think>\boxed{2}", r"\boxed{2}", r"<think>\boxed{1}</think>\boxed{2}", r"\boxed{2}"),
        (r"The answer is \boxed{4}", None, r"The answer is \boxed{4}", r"The answer is \boxed{4}"),  # no thinking
        (r"<think>long \boxed{4} never closed", None, r"<think>long \boxed{4} never closed", None),  # truncated
        (r"a </think> b", " b", "a </think> b", " b"),  # a template that opened <think> in the prompt
    ],
)
def test_answer_regions(response, after_think, whole, auto):
    assert region_text(response, "after-think") == after_think
    assert region_text(response, "whole") == whole
    assert region_text(response, "auto") == auto


def test_models_without_thinking_are_graded_with_an_answer_region():
    assert extract_answer(r"The answer is \boxed{4}", answer_region="auto") == ("4", "ok")
    assert extract_answer(r"The answer is \boxed{4}") == (None, "no-think-close")  # the RL rewards' default
    assert grade(r"The answer is \boxed{4}", "4", answer_region="auto").correct
    assert grade(r"<think>so \boxed{4}", "4", answer_region="auto").reason == "no-think-close"
    assert grade(r"<think>so \boxed{4}", "4", answer_region="whole").correct
    assert [g.correct for g in grade_many([(r"\boxed{4}", "4"), (r"</think>\boxed{4}", "4")],
                                          answer_region="auto")] == [True, True]
    with pytest.raises(ValueError, match="answer_region"):
        extract_answer("x", answer_region="after")


def test_require_think_close_is_the_older_spelling():
    assert extract_answer(r"The answer is \boxed{4}", require_think_close=False) == ("4", "ok")
    assert extract_answer(r"a </think> b \boxed{5}", require_think_close=False) == ("5", "ok")
    assert extract_answer(r"\boxed{5}", require_think_close=True) == (None, "no-think-close")
    assert grade(r"\boxed{4}", "4", require_think_close=False).correct
    with pytest.raises(ValueError, match="contradicts"):
        extract_answer("x", answer_region="auto", require_think_close=True)


def test_grade_reports_extraction_failures():
    missing = grade(r"<think>\boxed{4}", "4")
    assert (missing.correct, missing.extracted, missing.reason) == (False, None, "no-think-close")
    assert grade(r"\boxed{4}", "4", require_think_close=False).correct
    assert grade(r"</think>\boxed{4", "4").reason == "unbalanced"
    assert grade("</think>4", "4").reason == "no-boxed"


@pytest.mark.parametrize(
    ("boxed", "letter"),
    [("B", "B"), ("(B)", "B"), (r"\text{B}", "B"), (r"\textbf{(B)}", "B"), ("B. 42 apples", "B"),
     ("(B) 42", "B"), ("B: yes", "B"), ("b", "B"), ("Both", None), ("42", None), ("AB", None),
     ("B, which is cold.", "B"), ('"C"', "C"), ("(C) Alina", "C"), (r"\text{(B) } 4", "B"),
     ("The answer is (B)", "B"), ("Answer: D", "D"), ("the correct option is A", "A"), ("**C**", "C"),
     (r"$\mathrm{E}$", "E"), ("The answer", None), ("answers", None)],
)
def test_choice_letter(boxed, letter):
    assert choice_letter(boxed) == letter


def test_choice_grading_and_validation():
    def ask(letter: str, gold: str = "C", n_options: int | None = 4):
        return grade(f"</think>\\boxed{{{letter}}}", gold, kind="choice", n_options=n_options)

    assert ask("C").correct and ask("C").reason == "match"
    assert ask(r"\text{C}").correct and ask("(C)").correct and ask("C. Paris").correct
    assert (ask("B").correct, ask("B").reason) == (False, "mismatch")
    assert (ask("E").correct, ask("E").reason) == (False, "invalid-choice")  # only A-D exist
    assert ask("J", gold="J", n_options=10).correct  # MMLU-Pro's ten options
    assert ask("E", gold="E", n_options=None).correct  # no option count given: any letter
    assert (ask("Paris").correct, ask("Paris").reason) == (False, "unparseable")
    assert ask("C", gold="(C)").correct
    assert ask("B, which is cold.", gold="B").correct and ask(r"\text{(B) } 4", gold="B").correct
    assert ask("The answer is (D)", gold="D").correct and ask('"C"').correct and ask("(C) Alina").correct
    assert (ask("The answer is (E)").correct, ask("The answer is (E)").reason) == (False, "invalid-choice")
    assert ask("C", gold="(C) Alina").correct and not ask("C", gold="(A) Cecile").correct


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="kind"):
        grade("</think>\\boxed{1}", "1", kind="essay")
    with pytest.raises(ValueError, match="n_options"):
        grade("</think>\\boxed{A}", "A", kind="choice", n_options=1)
    with pytest.raises(ValueError, match="letter"):
        grade("</think>\\boxed{A}", "42", kind="choice", n_options=4)
    with pytest.raises(ValueError, match="letter"):  # even when the response has no answer
        grade("<think>truncated", "42", kind="choice", n_options=4)
    with pytest.raises(ValueError, match="timeout"):
        grade("</think>\\boxed{1}", "1", timeout=0)
