"""Hostile model output: each one must finish quickly, incorrect, and execute nothing."""

import _thread
import os
import signal
import threading
import time

import pytest
from sympy import Rational

from polsplit_cli.eval.grading import GRADERS, grade, grade_many
from polsplit_cli.eval.grading.pool import shared_pool
from polsplit_cli.eval.grading.symbolic import PROBE, Refused, build, sympy_equal
from polsplit_cli.eval.grading.whitelist import tokenize, verify_accepts
from polsplit_cli.eval.grading.worker import settled

QUICK_S = 4.0  # generous for a loaded 2-core machine; a hang would take minutes

HOSTILE_ANSWERS = [
    r"9^{9^{9^{9}}}",
    r"10**10**10",
    r"10^{10^{10}}",
    r"(10^{1000})^{1000}",
    r"2^{2^{2^{2^{2}}}}",
    r"\sqrt{9^{9^{9}}}",
    "{" * 5000 + "1" + "}" * 5000,  # over the length cap ...
    "(" * 5000 + "1" + ")" * 5000,
    r"\frac" * 3000 + "12",
    "x" * 5000,
    "{" * 400 + "2" + "}" * 400,  # ... and just under it
    "(" * 400 + "2" + ")" * 400,
    r"\frac" * 150 + "12",
    "x" * 900,
]

# a non-integer gold makes the answers reach the whitelist and sympy; an integer one stops earlier
GOLDS = [r"\sqrt{2}", "7"]


@pytest.mark.parametrize("grader", ["combined", "math-verify"])
@pytest.mark.parametrize("gold", GOLDS)
@pytest.mark.parametrize("answer", HOSTILE_ANSWERS)
def test_hostile_answers_finish_quickly_as_incorrect(answer, gold, grader):
    start = time.monotonic()
    result = grade(f"</think>\\boxed{{{answer}}}", gold, timeout=2.0, grader=grader)
    assert time.monotonic() - start < QUICK_S
    assert not result.correct
    assert result.reason in ("mismatch", "unparseable", "too-long", "timeout")


def test_code_injection_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    payloads = [
        f"__import__('os').system('touch {marker}')",
        f"__import__(\"os\").system(\"touch {marker}\")",
        f"(lambda: __import__('os').system('touch {marker}'))()",
        f"exec(\"import os; os.system('touch {marker}')\")",
        f"x.__class__.__mro__[1].__subclasses__() or open('{marker}', 'w')",
    ]
    for payload in payloads:
        for gold in GOLDS:
            for grader in GRADERS:
                start = time.monotonic()
                result = grade(f"</think>\\boxed{{{payload}}}", gold, grader=grader)
                assert time.monotonic() - start < QUICK_S
                assert not result.correct
    assert not marker.exists()


def test_megabyte_responses_finish_quickly():
    junk = "a{b}\\boxed{" * 100_000  # 1.1 MB, every box unbalanced
    cases = [
        ("</think>" + junk, "unbalanced"),
        ("<think>" + "x" * 1_000_000, "no-think-close"),
        ("</think>" + "\\boxed{1}" + "y" * 1_000_000, None),
        ("</think>\\boxed{" + "{" * 500_000 + "1" + "}" * 500_000 + "}", "too-long"),
    ]
    for response, reason in cases:
        start = time.monotonic()
        result = grade(response, r"\sqrt{2}")
        assert time.monotonic() - start < QUICK_S
        assert not result.correct
        if reason is not None:
            assert result.reason == reason


@pytest.mark.parametrize(
    "expr",
    ["__import__('os')", "lambda", "import", "os.system", "x.n", "1.5.3", "abc", "10**10", "a_1", "e" * 201,
     "print(1)", "'1'", "[1]"],
)
def test_whitelist_refuses_everything_but_arithmetic(expr):
    assert tokenize(expr) is None


@pytest.mark.parametrize(
    "answer",
    [r"9^{9^{9^{9}}}", r"10^{10^{10}}", r"\sqrt{9^{9^{9}}}", r"(10^{1000})^{1000}", r"(x+1)^{10000}",
     r"\prod_{k=1}^{10^6} k", "1000000!", r"10^{10}!", "(10!)!", r"\int_0^1 x^{1000} e^x dx",
     "{" * 13 + "1" + "}" * 13, "x" * 401],
)
def test_math_verify_gate_refuses_what_only_ends_at_the_time_limit(answer):
    assert not verify_accepts(answer)


@pytest.mark.parametrize(
    "answer",
    [r"\left(x^2+1\right)^3", r"2^{1000}", "5!", "(n+1)!", "x != 3", r"1,\!000", r"\sum_{k=0}^{n-1} F_k F_{n-k-1}",
     r"10^{\frac{-5+\sqrt{13}}{6}}", r"\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix}"],
)
def test_math_verify_gate_lets_real_answers_through(answer):
    assert verify_accepts(answer)


def test_whitelist_accepts_arithmetic():
    assert tokenize("2sqrt(2)+pi/2-x^2") is not None
    assert tokenize("xy") == [("symbol", "x"), ("symbol", "y")]


@pytest.mark.parametrize("expr", ["9^9^9^9", "10^(10^10)", "(10^1000)^1000", "2^(1/100000)", "sqrt(9^(9^9))", "((("])
def test_builder_refuses_huge_powers_quickly(expr):
    start = time.monotonic()
    with pytest.raises(Refused):
        build(expr)
    assert time.monotonic() - start < 1.0


def test_sympy_proves_inequality_without_simplify_where_it_can():
    assert sympy_equal("2sqrt(2)", "sqrt(7)") == "different"  # two constants
    assert sympy_equal("x^2+6x+10", "(x+3)^2") == "different"  # apart at the sample point
    assert sympy_equal("x^2", "sqrt(x^4)") == "unequal"  # equal at positive x: only simplify can tell
    assert grade(r"</think>\boxed{\sqrt{x^4}}", "x^2").reason == "math-verify-equal"  # for real x
    assert settled("equal", ["2", "x"]) and settled("different", ["x^2+6x+10", "(x+3)^2"])
    assert not settled("different", [r"\frac{1}{3}", "0.333333"])  # math-verify forgives the 7th place
    assert not settled("different", [r"\frac{x}{2y}", "x/2y"])  # an inline "/" may read otherwise
    assert not settled("unequal", ["x^2", r"\sqrt{x^4}"]) and not settled(None, ["1", "2"])


def test_builder_is_exact():
    assert sympy_equal("2sqrt(2)", "sqrt(8)") == "equal"
    assert sympy_equal("1/3", "0.33") == "different"  # 0.33 is 33/100, not a float near 1/3
    assert sympy_equal("2^10", "1024") == "equal"
    assert sympy_equal("-x^2", "-(x^2)") == "equal"
    assert sympy_equal("2^3^2", "512") == "equal"  # right-associative
    assert sympy_equal("x/2y", "xy/2") == "equal"  # implicit multiplication binds like sympy's
    assert sympy_equal("9^9^9^9", "1") == "unparseable"


# Zero at the sample point of the sympy step (symbolic.PROBE, x = 19/13), so only simplify can tell them
# apart, which takes ~30 s: a job that runs into any short time limit.
SLOW_GOLD = r"(13x-19)\frac{(x+y+1)^{50}}{(x-y)^{20}}"
SLOW_PRED = r"(13x-19)(x+1)^{30}"


def test_slow_pair_is_zero_at_the_probe_point():
    assert PROBE[0] == Rational(19, 13)


def test_worker_time_limit_gives_timeout(caplog):
    start = time.monotonic()
    result = grade(f"</think>\\boxed{{{SLOW_PRED}}}", SLOW_GOLD, timeout=0.3)
    assert time.monotonic() - start < QUICK_S
    assert (result.correct, result.reason) == (False, "timeout")
    assert "grading job timeout" in caplog.text
    assert grade(r"</think>\boxed{2\sqrt{2}}", r"\sqrt{8}").reason == "sympy-equal"  # the worker still serves


def test_stuck_worker_is_killed_and_replaced(caplog):
    """A worker that cannot answer (stopped, like one stuck in C code) is killed at the limit."""
    pool = shared_pool(1)
    assert grade(r"</think>\boxed{2\sqrt{2}}", r"\sqrt{8}").correct  # worker is up
    stuck = pool._workers[0].process
    os.kill(stuck.pid, signal.SIGSTOP)
    start = time.monotonic()
    result = grade(r"</think>\boxed{2\sqrt{2}}", r"\sqrt{8}", timeout=0.3)
    assert time.monotonic() - start < QUICK_S
    assert (result.correct, result.reason) == (False, "timeout")
    assert stuck.poll() is not None  # killed
    assert "grading job timeout" in caplog.text
    assert grade(r"</think>\boxed{2\sqrt{2}}", r"\sqrt{8}").reason == "sympy-equal"  # a fresh worker


def test_batch_with_timeouts_keeps_the_other_verdicts():
    items = [(f"</think>\\boxed{{{SLOW_PRED}}}", SLOW_GOLD), (r"</think>\boxed{2\sqrt{2}}", r"\sqrt{8}"),
             (r"</think>\boxed{0.5}", r"\frac12"), (f"</think>\\boxed{{{SLOW_PRED}}}", SLOW_GOLD)]
    results = grade_many(items, timeout=0.5, workers=2)
    assert [r.reason for r in results] == ["timeout", "sympy-equal", "match", "timeout"]


def test_jobs_queued_behind_a_killed_worker_are_requeued():
    pool = shared_pool(2)
    warm = grade_many([(r"</think>\boxed{2\sqrt{2}}", r"\sqrt{8}")] * 2, workers=2)
    assert all(r.correct for r in warm)
    os.kill(pool._workers[0].process.pid, signal.SIGSTOP)  # job 0 and those pipelined behind it
    items = [(rf"</think>\boxed{{{k}\sqrt{{2}}}}", rf"\sqrt{{{2 * k * k}}}") for k in range(2, 10)]
    results = grade_many(items, timeout=0.3, workers=2)
    assert results[0].reason == "timeout"
    assert [r.reason for r in results[1:]] == ["sympy-equal"] * 7


def test_worker_crash_mid_job_is_a_worker_error():
    pool = shared_pool(1)
    assert grade(r"</think>\boxed{2\sqrt{2}}", r"\sqrt{8}").correct
    victim = pool._workers[0].process
    threading.Timer(0.5, os.kill, (victim.pid, signal.SIGKILL)).start()
    result = grade(f"</think>\\boxed{{{SLOW_PRED}}}", SLOW_GOLD, timeout=30)
    assert (result.correct, result.reason) == (False, "worker-error")
    assert grade(r"</think>\boxed{2\sqrt{2}}", r"\sqrt{8}").reason == "sympy-equal"


def test_ctrl_c_mid_batch_leaves_no_stale_result():
    """KeyboardInterrupt while a worker is busy: the busy worker is dropped, so the next call cannot
    receive the interrupted job's answer."""
    assert grade(r"</think>\boxed{2\sqrt{2}}", r"\sqrt{8}").correct
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        grade(f"</think>\\boxed{{{SLOW_PRED}}}", SLOW_GOLD, timeout=30, grader="prm800k")
    timer.join()
    assert grade(r"</think>\boxed{3}", r"\sqrt{8}").reason == "mismatch"
    assert grade(r"</think>\boxed{2\sqrt{2}}", r"\sqrt{8}").reason == "sympy-equal"
