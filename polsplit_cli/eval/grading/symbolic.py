"""Worker-side checks: the PRM800K path's sympy equality and math-verify's equivalence check.

Runs only inside grading worker processes (``worker.py``), under the worker's alarm and the
parent's kill. No answer string is ever handed to ``parse_expr``/``sympify``:

- the PRM800K path's parser below builds sympy objects from ``whitelist.tokenize`` tokens, and
  refuses powers whose result would be astronomically large (``9^{9^{9^9}}``), which no timeout
  could interrupt (the big-integer arithmetic runs in C);
- math-verify is used through its LaTeX extraction only: latex2sympy2_extended builds sympy
  objects from an ANTLR parse tree, and the only text it passes to ``sympify`` are number
  tokens (digits, ``.``, ``,``). Its plain-expression extraction (``ExprExtractionConfig``)
  calls ``parse_expr`` on raw text and is never enabled.
"""

from __future__ import annotations

import functools
import logging

import sympy
from math_verify import LatexExtractionConfig, parse, verify

from polsplit_cli.eval.grading.whitelist import tokenize

MAX_EXPONENT = 1000  # |numeric exponent| and its denominator
MAX_POWER_BITS = 400_000  # bits of the largest number a power may produce
MAX_NESTING = 50
PROBE = (sympy.Rational(19, 13), sympy.Rational(23, 17))  # a point where different answers differ

_LATEX_ONLY = [LatexExtractionConfig()]

logging.getLogger("math_verify").setLevel(logging.ERROR)  # we disable its signal timeouts on purpose


class Refused(ValueError):
    """The expression is outside what we agree to build."""


def _number_bits(expr: sympy.Expr) -> int:
    rationals = expr.atoms(sympy.Rational)
    return max((max(abs(r.p).bit_length(), r.q.bit_length()) for r in rationals), default=1)


def _checked_power(base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
    if exponent.is_Number:
        if abs(exponent) > MAX_EXPONENT or (exponent.is_Rational and exponent.q > MAX_EXPONENT):
            raise Refused("exponent too large")
        if _number_bits(base) * abs(exponent) > MAX_POWER_BITS:
            raise Refused("power too large")
    return base**exponent


class _Parser:
    """sum := product (+|- product)*; product := signed ((*|/) signed | implicit power)*;
    signed := (+|-) signed | power; power := atom (^ signed)?; atom := number | symbol |
    sqrt atom | pi | inf | ( sum )."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.pos, self.depth = tokens, 0, 0

    def parse(self) -> sympy.Expr:
        value = self.sum()
        if self.pos != len(self.tokens):
            raise Refused("unexpected token")
        return value

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.pos += 1
        return token

    def sum(self) -> sympy.Expr:
        value = self.product()
        while self.peek() in (("op", "+"), ("op", "-")):
            operator = self.take()[1]
            right = self.product()
            value = value + right if operator == "+" else value - right
        return value

    def product(self) -> sympy.Expr:
        value = self.signed()
        while True:
            kind, text = self.peek()
            if (kind, text) in (("op", "*"), ("op", "/")):
                self.take()
                right = self.signed()
                value = value * right if text == "*" else value / right
            elif kind in ("number", "name", "symbol") or text == "(":
                value = value * self.power()  # implicit: 2x, 2sqrt(2), (a)(b)
            else:
                return value

    def signed(self) -> sympy.Expr:
        token = self.peek()
        if token in (("op", "-"), ("op", "+")):
            self.take()
            value = self.signed()
            return -value if token[1] == "-" else value
        return self.power()

    def power(self) -> sympy.Expr:
        base = self.atom()
        if self.peek() == ("op", "^"):
            self.take()
            return _checked_power(base, self.signed())
        return base

    def atom(self) -> sympy.Expr:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise Refused("nested too deeply")
        kind, text = self.take()
        if kind == "number":
            value = sympy.Rational(text)  # exact: 0.33 is 33/100, never 1/3
        elif kind == "symbol":
            value = sympy.Symbol(text)
        elif text == "sqrt":
            value = _checked_power(self.atom(), sympy.Rational(1, 2))
        elif text == "pi":
            value = sympy.pi
        elif text == "inf":
            value = sympy.oo
        elif text == "(":
            value = self.sum()
            if self.take() != ("op", ")"):
                raise Refused("unclosed parenthesis")
        else:
            raise Refused(f"unexpected {text!r}")
        self.depth -= 1
        return value


def build(expr: str) -> sympy.Expr:
    """A sympy expression from a normalized answer string, or ``Refused``."""
    tokens = tokenize(expr)
    if not tokens:
        raise Refused("outside the whitelist")
    return _Parser(tokens).parse()


def _differs_at_a_point(difference: sympy.Expr) -> bool:
    """Whether the difference is clearly non-zero at ``PROBE`` (symbols in name order): then the two
    answers are different functions of real variables, whatever simplification would say."""
    point = dict(zip(sorted(difference.free_symbols, key=str), PROBE, strict=False))
    value = difference.subs(point).evalf(30)
    return bool(value.is_Number and value.is_finite and abs(value) > 1e-12)


def sympy_equal(gold: str, pred: str) -> str:
    """"equal" | "different" | "unequal" | "unparseable": PRM800K's ``simplify(gold - pred) == 0``.

    "different" is an "unequal" proved without ``simplify``: the difference is a non-zero constant,
    or non-zero at a sample point. ``simplify`` is only run when neither settles it.
    """
    try:
        difference = build(gold) - build(pred)
    except Exception:  # Refused, or sympy arithmetic errors on odd input
        return "unparseable"
    try:
        if difference == 0:  # sympy's automatic evaluation often settles it: 2*sqrt(2) - sqrt(8)
            return "equal"
        if _differs_at_a_point(difference):
            return "different"
        return "equal" if sympy.simplify(difference) == 0 else "unequal"
    except Exception:  # e.g. comparisons with nan from a division by zero
        return "unequal"


def sympy_equal_all(pairs: list[tuple[str, str]]) -> str:
    """The PRM800K path's verdict on a tuple's element pairs: "equal" only if every pair is, else the
    first other verdict ("different" only when every other pair is equal or different too)."""
    verdicts = [sympy_equal(gold, pred) for gold, pred in pairs]
    if all(verdict in ("equal", "different") for verdict in verdicts):
        return "different" if "different" in verdicts else "equal"
    return next(verdict for verdict in verdicts if verdict not in ("equal", "different"))


@functools.lru_cache(maxsize=4096)  # a gold is shared by a question's whole group of responses
def _math_verify_parse(answer: str) -> tuple:
    return tuple(parse("\\boxed{" + answer + "}", extraction_config=_LATEX_ONLY, parsing_timeout=None))


def math_verify_equal(gold: str, pred: str) -> str:
    """"equal" | "unequal" | "unparseable": math-verify's ``verify``, required in both directions.

    ``verify(gold, pred)`` is asymmetric by design: it unwraps an equation in the prediction
    (``2x+1=5`` passes for ``5``) and, when the gold is a relation and the prediction a set,
    turns the relation into a set. The prediction must also pass as the gold
    (``verify(pred, gold)``, with the relation-to-set step allowed both ways), so the first
    asymmetry no longer lets an arbitrary equation through while ``1 <= x <= 2`` vs ``[1, 2]``
    still counts. Its ``signal.alarm`` timeouts are off: the worker's alarm and kill bound it.
    """
    gold_parsed, pred_parsed = list(_math_verify_parse(gold)), list(_math_verify_parse(pred))
    if not gold_parsed or not pred_parsed:
        return "unparseable"
    if not verify(gold_parsed, pred_parsed, timeout_seconds=None):
        return "unequal"
    backward = verify(pred_parsed, gold_parsed, allow_set_relation_comp=True, timeout_seconds=None)
    return "equal" if backward else "unequal"


def warm_up() -> None:
    """First calls into sympy and math-verify load more code; done before a worker says it is ready,
    so that a job's time limit measures the check, not the import."""
    sympy_equal("x^2+2x+1", "(x+1)^2")  # reaches simplify
    math_verify_equal("x^2+2x+1", "(x+1)^2")
