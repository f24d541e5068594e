"""The math grader on tables of equivalent and wrong answers (verdicts written by hand)."""

import pytest

from polsplit_cli.eval.grading import GRADERS, grade, grade_many
from polsplit_cli.eval.grading.grader import gold_answer
from polsplit_cli.eval.grading.math_grader import brackets_conflict, numeric_verdict
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
    ("1000", "1,000"),
    ("1000000", r"1,\!000,\!000"),
    ("33", "033"),
    ("7", "7.0"),
    (r"\text{(C)}", "(C)"),
    (r"7\frac{3}{4}", r"\frac{31}{4}"),
    ("-5", "- 5"),
    (r"\{1,2\}", "1,2"),
]

NOT_EQUIVALENT = [  # wrong under every grader
    ("[0,1]", "(0,1)"),
    ("(0,1)", "[0,1]"),
    ("(1,3)", r"\{1,3\}"),  # a pair (or interval) is not a set, whatever math-verify says
    ("2", "-2"),
    (r"\frac{1}{3}", "0.33"),
    (r"\frac{1}{3}", "0.33333"),  # 5 decimal places are not enough
    ("7 = 11a+c", "11a+c"),  # an equation is not its right-hand side
    ("32349", "32, 349"),  # comma and space: two numbers
    ("5", "2x+1=5"),  # math-verify alone unwraps any equation in the prediction
    ("5", r"5 \text{ or } 6"),  # a hedge: MATH's unit rule used to drop " or 6"
    ("5", r"\boxed{5} \text{ or } \boxed{6}"),
    ("5", "6"),
    (r"\sqrt[3]{2}", r"\sqrt{2}"),  # pylatexenc would render both as sqrt(2)
    (r"\frac{x+1}{2}", r"x+\frac{1}{2}"),  # ... and these both as x+1/2
    (r"2\sqrt{2}", r"\sqrt{2}"),
    ("(1,2)", "(2,1)"),
    ("(1,2)", "(1,2,3)"),
    ("12", "13"),
    ("33", "330"),
    (r"\pi", "3.14"),
    ("x+1", "x-1"),
    ("5", ""),
]


# Where the paper's PRM800K-style reward is stricter than the combined grader (docs/grading.md):
# (gold, prediction, prm800k's verdict, combined's verdict)
DECISIONS = [
    (r"\frac{1}{2}", r"\frac{2}{4}", False, True),  # an unreduced fraction has the value
    ("16", "2^4", False, True),  # an integer written as an expression
    (r"\frac{1}{3}", "0.333333", False, True),  # a decimal agreeing to 6 places ...
    (r"\frac{1}{3}", "0.33", False, False),  # ... not to 2
    (r"\sqrt{2}", "1.414214", False, True),
    ("0.1", r"10\%", False, True),  # a percent of a gold that is a fraction of one
    ("0.28", "28", False, False),  # but no percent sign, no percent reading
    ("1, 2, 3", "3, 2, 1", False, True),  # a bare list of answers is unordered ...
    ("(1,2)", "(2,1)", False, False),  # ... an ordered pair is not
    ("x >= 5", r"x \geq 5", False, True),  # forms only math-verify reads
    (r"\sec^2 y", r"\tan^2 y+1", False, True),
]


@pytest.mark.parametrize(("gold", "pred"), EQUIVALENT)
@pytest.mark.parametrize("grader", ["prm800k", "combined"])
def test_equivalent_forms_are_correct(gold, pred, grader):
    result = grade(respond(pred), gold, grader=grader)
    assert result.correct, (gold, pred, result)
    assert result.reason in ("match", "sympy-equal", "numeric-equal")
    assert result.extracted == pred.strip()


@pytest.mark.parametrize(("gold", "pred"), NOT_EQUIVALENT)
@pytest.mark.parametrize("grader", GRADERS)
def test_wrong_answers_are_incorrect(gold, pred, grader):
    result = grade(respond(pred), gold, grader=grader)
    assert not result.correct, (gold, pred, result)
    assert result.reason in ("mismatch", "unparseable")


@pytest.mark.parametrize(("gold", "pred", "prm800k", "combined"), DECISIONS)
def test_where_the_paper_reward_is_stricter(gold, pred, prm800k, combined):
    assert grade(respond(pred), gold, grader="prm800k").correct is prm800k
    assert grade(respond(pred), gold).correct is combined


def test_sympy_is_needed_for_some_and_named_as_such():
    assert grade(respond(r"\sqrt{8}"), r"2\sqrt{2}").reason == "sympy-equal"
    assert grade(respond("0.5"), r"\frac{1}{2}").reason == "match"  # the string fast path


def test_each_checker_verdict_is_recorded():
    def verdicts(pred, gold, grader="combined"):
        result = grade(respond(pred), gold, grader=grader)
        return result.correct, result.reason, result.prm800k, result.math_verify

    # a proof by the PRM800K path is final: math-verify is not asked
    assert verdicts(r"\sqrt{8}", r"2\sqrt{2}") == (True, "sympy-equal", True, None)
    assert verdicts("033", "33") == (True, "match", True, None)
    # the PRM800K path fails, math-verify proves it
    assert verdicts(r"x \geq 5", "x >= 5") == (True, "math-verify-equal", False, True)
    # both checkers looked and found them different
    assert verdicts(r"\sec^2 y", "3") == (False, "mismatch", False, False)
    # two plain numbers are settled in-process: no math-verify job
    assert verdicts(r"\frac{2}{4}", r"\frac{1}{2}") == (True, "numeric-equal", False, None)
    assert verdicts("6", "5") == (False, "mismatch", False, None)
    # one checker only
    assert verdicts(r"x \geq 5", "x >= 5", "prm800k") == (False, "unparseable", False, None)
    assert verdicts(r"x \geq 5", "x >= 5", "math-verify") == (True, "math-verify-equal", None, True)
    assert verdicts("6", "5", "math-verify") == (False, "mismatch", None, False)
    assert grade(respond("B"), "B", kind="choice") == grade(respond("B"), "B", kind="choice", grader="prm800k")
    assert grade("<think>no answer", "4").math_verify is None


@pytest.mark.parametrize(
    ("gold", "pred", "verdict"),
    [
        ("5", "x = 5", (True, True)),
        ("(1,2)", "(1, 2)", (True, True)),
        ("(1,2)", "(2,1)", (False, False)),
        ("1,2,3", "3,2,1", (True, False)),
        (r"\{1,2\}", "2, 1", (True, False)),
        ("1,000", "1000", (True, True)),
        (r"28\%", "0.28", (True, False)),
        (r"\frac{1}{12}", "0.0833333333333333", (True, False)),
        ("32349", "32, 349", (False, False)),  # a number is not a list
        ("(0,1)", "[0,1]", (False, True)),  # same values, other brackets
        ("(1,2)", "1, 2", None),  # a tuple against a bare list: math-verify decides
        ("0,111", "0.111", None),  # a decimal comma or a list: math-verify decides
        ("x+1", "1+x", None),  # not numbers
    ],
)
def test_numeric_verdict(gold, pred, verdict):
    assert numeric_verdict(gold, pred) == verdict


def test_brackets_conflict():
    assert brackets_conflict("(0,1)", "[0,1]") and brackets_conflict(r"\left(1,3\right)", r"\{1,3\}")
    assert not brackets_conflict("(0,1)", "(0, 1)") and not brackets_conflict("[0,1)", r"\left[0,1\right)")
    assert not brackets_conflict("(1,3)", "{1,3}")  # bare braces only group: "1,3" is a bare list
    assert not brackets_conflict("(1,2),(3,4)", "[1,2]")  # a list of pairs is not one bracketed tuple
    assert not brackets_conflict("(5)", "[5]")  # no comma: brackets only group


def test_gold_escaped_twice_is_read_once():
    assert gold_answer(r"\\frac{1}{5}") == r"\frac{1}{5}"
    assert gold_answer(r"-2 \\le x \\le 7") == r"-2 \le x \le 7"
    matrix = r"\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix}"  # \\ is a row break here: kept
    assert gold_answer(matrix) == matrix
    assert grade(respond(r"\frac15"), r"\\frac{1}{5}").correct


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
