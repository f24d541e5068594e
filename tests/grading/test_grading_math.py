"""The math grader on tables of equivalent and wrong answers (verdicts written by hand)."""

import pytest

from polsplit_cli.eval.grading import grade, grade_many
from polsplit_cli.eval.grading.normalize import hendrycks_normalize, latex_to_plain, normalize


def respond(answer: str) -> str:
    return f"<think>some reasoning \\boxed{{0}}</think>The answer is $\\boxed{{{answer}}}$."


EQUIVALENT = [
    # (gold, prediction)
    (r"\frac{1}{2}", "0.5"),
    (r"\frac{1}{2}", "1/2"),
    (r"\frac{1}{2}", r"\dfrac{1}{2}"),
    (r"\frac{1}{2}", r"\tfrac12"),
    ("0.5", r"\frac{1}{2}"),
    (r"\frac{3}{4}", "0.75"),
    (r"2\sqrt{2}", r"\sqrt{8}"),
    (r"\sqrt{8}", r"2\sqrt{2}"),
    (r"\frac{\sqrt{3}}{2}", r"\sqrt{3}/2"),
    (r"\frac{\pi}{2}", r"\pi/2"),
    (r"\frac{\pi}{2}", r"\frac{1}{2}\pi"),
    (r"\frac{x+1}{2}", r"\frac{x}{2}+\frac{1}{2}"),
    (r"x^2+2x+1", r"(x+1)^2"),
    (r"2^{10}", r"2^{10}"),
    ("(1,2)", "(1, 2)"),
    (r"\left( 3, -\frac{1}{2} \right)", r"(3,-0.5)"),
    ("[0,1)", "[0, 1)"),
    (r"(-\infty, 5]", r"(-\infty,5]"),
    ("3", "x=3"),
    ("3", "x = 3"),
    ("10", r"10\text{ cm}"),
    ("10", r"10 \text{cm}"),
    ("12", r"12\text{ inches}"),
    ("30", r"30^\circ"),
    ("30", r"30^{\circ}"),
    (r"25\%", "25"),
    ("25", r"25\%"),
    ("5", r"\$5"),
    (r"\$5.00", "5"),
    ("1000.99", r"\$1,000.99"),
    ("33", "+33"),
    ("125", r"125\textnormal{ miles}"),
    ("1000", "1,000"),
    ("1000000", r"1,\!000,\!000"),
    ("33", "033"),
    ("7", "7.0"),
    (r"\text{(C)}", "(C)"),
    (r"7\frac{3}{4}", r"\frac{31}{4}"),
    ("-5", "- 5"),
    (r"\{1,2\}", "1,2"),
]

NOT_EQUIVALENT = [
    ("[0,1]", "(0,1)"),
    ("(0,1)", "[0,1]"),
    ("2", "-2"),
    (r"\frac{1}{3}", "0.33"),
    (r"\frac{1}{3}", "0.333333"),
    (r"\frac{2}{4}", r"\frac{1}{2}"),  # PRM800K is strict about unreduced fractions
    (r"\sqrt[3]{2}", r"\sqrt{2}"),  # pylatexenc would render both as sqrt(2)
    (r"\frac{x+1}{2}", r"x+\frac{1}{2}"),  # ... and these both as x+1/2
    (r"2\sqrt{2}", r"\sqrt{2}"),
    ("(1,2)", "(2,1)"),
    ("(1,2)", "(1,2,3)"),
    ("7 = 11a+c", "11a+c"),  # an equation is not its right-hand side
    ("32349", "32, 349"),  # comma and space: two numbers
    ("5", r"5 \text{ or } 6"),  # a hedge: MATH's unit rule used to drop " or 6"
    ("5", r"\boxed{5} \text{ or } \boxed{6}"),
    ("12", "13"),
    ("33", "330"),
    (r"\pi", "3.14"),
    ("x+1", "x-1"),
    ("5", ""),
]


@pytest.mark.parametrize(("gold", "pred"), EQUIVALENT)
def test_equivalent_forms_are_correct(gold, pred):
    result = grade(respond(pred), gold)
    assert result.correct, (gold, pred, result)
    assert result.reason in ("match", "sympy-equal")
    assert result.extracted == pred.strip()


@pytest.mark.parametrize(("gold", "pred"), NOT_EQUIVALENT)
def test_wrong_answers_are_incorrect(gold, pred):
    result = grade(respond(pred), gold)
    assert not result.correct, (gold, pred, result)
    assert result.reason in ("mismatch", "unparseable")


def test_sympy_is_needed_for_some_and_named_as_such():
    assert grade(respond(r"\sqrt{8}"), r"2\sqrt{2}").reason == "sympy-equal"
    assert grade(respond("0.5"), r"\frac{1}{2}").reason == "match"  # the string fast path


def test_integer_golds_compare_as_integers():
    assert grade(respond("033"), "33").correct
    assert grade(respond("33"), 33).correct  # an AIME gold stored as an int
    assert not grade(respond("34"), "033").correct


def test_boxed_gold_is_unwrapped():
    assert grade(respond("4"), r"so the answer is \boxed{4}").correct


def test_grade_many_agrees_with_grade_on_the_tables():
    rows = EQUIVALENT + NOT_EQUIVALENT
    items = [{"response": respond(pred), "gold": gold} for gold, pred in rows]
    batch = grade_many(items, workers=2)
    assert [g.correct for g in batch] == [True] * len(EQUIVALENT) + [False] * len(NOT_EQUIVALENT)
    assert batch == [grade(respond(pred), gold) for gold, pred in rows]


def test_tuple_items_and_choice_mixed_in_one_batch():
    results = grade_many([(respond("1/2"), "0.5"), (respond("B"), "B", "choice", 4), (respond("x"), "y", "math")])
    assert [r.correct for r in results] == [True, True, False]


@pytest.mark.parametrize(
    ("latex", "plain"),
    [
        (r"\frac{1}{2}", "1/2"),
        (r"\frac{x+1}{2}", "(x+1)/2"),
        (r"\dfrac12", "1/2"),
        (r"\sqrt{8}", "sqrt(8)"),
        (r"\sqrt[3]{2}", "2^(1/3)"),
        (r"\frac{\sqrt{3}}{2}", "(sqrt(3))/2"),
        (r"2^{1/2}", "2^(1/2)"),
        (r"3\cdot 4", "3* 4"),
        (r"\left(1,2\right)", "(1,2)"),
        (r"\alpha+1", r"\alpha+1"),
    ],
)
def test_latex_to_plain(latex, plain):
    assert latex_to_plain(latex) == plain


@pytest.mark.parametrize("bad", [r"\frac{1}{", r"\frac{1}", "{" * 60 + "1" + "}" * 60, r"\sqrt[3{2}"])
def test_latex_to_plain_refuses_malformed_input(bad):
    with pytest.raises(ValueError):
        latex_to_plain(bad)


def test_normalizations():
    assert hendrycks_normalize(r"\dfrac{1}{2}") == r"\frac{1}{2}"
    assert hendrycks_normalize("x = 0.5") == r"\frac{1}{2}"
    assert hendrycks_normalize(r"10\text{ cm}") == "10"
    assert hendrycks_normalize("3/4") == r"\frac{3}{4}"
    assert normalize(r"\text{5 million}") == "5*10^6"
    assert normalize(r"1,000") == "1000"
    assert normalize(r"7 \frac{3}{4}") == "(7+3/4)"
    assert normalize(r"\text{Monday}") == "monday"
    assert normalize("32, 349") == "32,349"  # a comma and a space separate two numbers
    assert normalize(r"\$1,000.99") == "1000.99" and normalize("+033") == "33" and normalize("1,000.0") == "1000"
    assert normalize(r"125\textnormal{ miles}") == "125"
    assert hendrycks_normalize("7 = 11a+c") == "7=11a+c"  # only a variable name before "=" goes
    assert hendrycks_normalize(r"5 \text{ or } 6") != "5"


def test_math_verify_second_opinion_is_recorded_beside_the_verdict():
    pytest.importorskip("math_verify")
    agree = grade(respond(r"\sqrt{8}"), r"2\sqrt{2}", second_opinion=True)
    assert (agree.correct, agree.second_opinion) == (True, True)
    wrong = grade(respond("3"), "4", second_opinion=True)
    assert (wrong.correct, wrong.second_opinion) == (False, False)
    # the verdict stays ours: math-verify is more lenient with an unreduced fraction
    unreduced = grade(respond(r"\frac{2}{4}"), r"\frac{1}{2}", second_opinion=True)
    assert (unreduced.correct, unreduced.second_opinion) == (False, True)
    assert grade(respond("3"), "4").second_opinion is None  # not asked
    assert grade(respond("B"), "B", kind="choice", second_opinion=True).second_opinion is None
    assert grade("<think>no answer", "4", second_opinion=True).second_opinion is None
