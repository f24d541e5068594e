"""Math grading, the in-process part: the PRM800K-style plan, and the combined grader's rules.

The PRM800K-style plan (``plan_math``):

1. the two string normalizations (``normalize.py``): equal strings are a match;
2. tuples and intervals are split element-wise (bracket types must agree when the gold has
   several elements, counts must agree);
3. per element: equal strings match; two integers compare as integers (AIME's "033" = "33");
   two plain fractions must be identical (unreduced fractions are wrong, as in PRM800K); an
   integer against a non-integer is wrong; anything else needs sympy, which runs in a
   worker (``symbolic.py``) -- but only if both sides pass the whitelist here.

The combined grader adds, before it asks math-verify:

- ``numeric_verdict``: answers made of plain numbers (a number, ``x = 5``, a tuple, an interval,
  a set or a bare list of numbers) are settled here, as math-verify would: by value (so an
  unreduced ``\\frac{2}{4}`` is right), to ``DECIMALS`` places when a decimal is written
  (``0.0833333`` for ``\\frac{1}{12}``, not ``0.33`` for ``\\frac13``), tuples and intervals in
  order, sets and bare lists in any order, and -- beyond math-verify -- with a percent sign read
  either as a unit or as 1/100 (``10\\%`` for ``0.1`` or ``10``);
- ``brackets_conflict``: a tuple, interval or set never equals one written with other
  brackets (``(0,1)`` vs ``[0,1]``, ``(1,3)`` vs ``\\{1,3\\}``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from polsplit_cli.eval.grading.normalize import hendrycks_normalize, normalize
from polsplit_cli.eval.grading.whitelist import tokenize

_INTEGER = re.compile(r"-?\d+")
_FRACTION = re.compile(r"-?\d+/\d+")
_ASSIGNED_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]?")  # "x = 5", "k = 5", "a1 = 5"
_DIGIT_GROUPS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_PLAIN_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:/\d+)?")
_SPACING = re.compile(r"\\(?:left|right|[bB]igg?[lr]?)(?![A-Za-z])|\s|\$")
_CLOSERS = {"(": (")", "]"), "[": (")", "]"), "\\{": ("\\}",)}  # intervals may close with the other bracket
DECIMALS = 6


@dataclass(frozen=True)
class MathPlan:
    """Either a decided ``reason`` ("match", "mismatch", "unparseable") or element pairs for sympy."""

    reason: str | None
    sympy_pairs: tuple[tuple[str, str], ...] = ()


def split_elements(expr: str) -> list[str]:
    """``(1,2)`` / ``[0,1)`` -> elements; anything else (incl. nested brackets) is one element."""
    if len(expr) > 2 and expr[0] in "([" and expr[-1] in ")]" and not any(c in expr[1:-1] for c in "()[]"):
        return expr[1:-1].split(",")
    return [expr]


def _element_rule(gold: str, pred: str) -> str | None:
    """The decided reason for one element pair, or None if sympy must decide."""
    if gold == pred:
        return "match"
    gold_int, pred_int = _INTEGER.fullmatch(gold), _INTEGER.fullmatch(pred)
    if gold_int and pred_int:
        return "match" if int(gold) == int(pred) else "mismatch"
    if gold_int or pred_int or (_FRACTION.fullmatch(gold) and _FRACTION.fullmatch(pred)):
        return "mismatch"
    if tokenize(gold) is None or tokenize(pred) is None:
        return "unparseable"
    return None


def plan_math(gold: str, pred: str) -> MathPlan:
    """Everything the grader can decide without sympy; the rest as element pairs."""
    if hendrycks_normalize(gold) == hendrycks_normalize(pred):
        return MathPlan("match")
    gold_norm, pred_norm = normalize(gold), normalize(pred)
    if gold_norm == pred_norm:
        return MathPlan("match")
    if not pred_norm:
        return MathPlan("mismatch")
    gold_elements, pred_elements = split_elements(gold_norm), split_elements(pred_norm)
    if len(gold_elements) > 1 and (gold_norm[0], gold_norm[-1]) != (pred_norm[0], pred_norm[-1]):
        return MathPlan("mismatch")
    if len(gold_elements) != len(pred_elements):
        return MathPlan("mismatch")
    pairs = []
    for gold_element, pred_element in zip(gold_elements, pred_elements, strict=True):
        rule = _element_rule(gold_element, pred_element)
        if rule is None:
            pairs.append((gold_element, pred_element))
        elif rule != "match":
            return MathPlan(rule)
    return MathPlan(None, tuple(pairs)) if pairs else MathPlan("match")


def _plain_number(answer: str) -> tuple[Fraction, bool, bool] | None:
    """(value, written with a decimal point, with a percent sign) of ``3``, ``-0.25``, ``.5``,
    ``\\frac{3}{4}``, ``1,000``, ``25\\%``; None for anything else."""
    text = normalize(answer)
    if not _PLAIN_NUMBER.fullmatch(text):
        return None
    try:
        return Fraction(text), "." in text, "%" in answer
    except (ValueError, ZeroDivisionError):
        return None


def _numbers(answer: str) -> tuple[str, list[tuple[Fraction, bool, bool]]] | None:
    """An answer made of plain numbers as (shape, numbers): shape "scalar" (``x = 5`` counts as ``5``),
    "unordered" (a bare list ``1, 2`` or a set ``\\{1, 2\\}``) or the brackets of a tuple or
    interval (``"()"``, ``"[)"``); None if any part is not a plain number."""
    sides = answer.split("=")
    if len(sides) == 2 and _ASSIGNED_NAME.fullmatch(sides[0].strip()):
        answer = sides[1]
    if (number := _plain_number(answer)) is not None:  # first, so that "1,000" stays one number
        return "scalar", [number]
    if _DIGIT_GROUPS.fullmatch(answer.strip()):  # "0,111": a decimal comma to math-verify, not a list
        return None
    brackets = _enclosing(answer)
    if brackets is not None:
        text = _SPACING.sub("", answer)
        parts = _top_level_split(text[len(brackets[0]) : -len(brackets[1])])
        shape = "unordered" if brackets[0] == "\\{" else "".join(brackets)
    else:
        parts, shape = _top_level_split(answer), "unordered"
    numbers = [_plain_number(part) for part in parts]
    if len(parts) < 2 or any(number is None for number in numbers):
        return None
    return shape, numbers


def _top_level_split(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for position, char in enumerate(text):
        depth += 1 if char in "([{" else -1 if char in ")]}" else 0
        if char == "," and depth == 0:
            parts.append(text[start:position])
            start = position + 1
    return [*parts, text[start:]]


def _same_number(gold: tuple[Fraction, bool, bool], pred: tuple[Fraction, bool, bool]) -> bool:
    decimal = gold[1] or pred[1]
    return any(gold_value == pred_value or (decimal and round(gold_value, DECIMALS) == round(pred_value, DECIMALS))
               for gold_value in _readings(gold[0], gold[2]) for pred_value in _readings(pred[0], pred[2]))


def _readings(value: Fraction, percent: bool) -> tuple[Fraction, ...]:
    return (value, value / 100) if percent else (value,)


def numeric_verdict(gold: str, pred: str) -> tuple[bool, bool] | None:
    """For answers made of plain numbers: (equal as the module docstring reads them, equal in value as
    written, i.e. what the sympy step would say); None when this rule cannot tell (not plain numbers,
    or a tuple against a bare list, which math-verify decides)."""
    gold_numbers, pred_numbers = _numbers(gold), _numbers(pred)
    if gold_numbers is None or pred_numbers is None:
        return None
    (gold_shape, golds), (pred_shape, preds) = gold_numbers, pred_numbers
    exactly = [number[0] for number in golds] == [number[0] for number in preds]
    if gold_shape == pred_shape == "unordered":
        equal = (all(any(_same_number(g, p) for p in preds) for g in golds)
                 and all(any(_same_number(g, p) for g in golds) for p in preds))
    elif gold_shape == pred_shape:
        equal = len(golds) == len(preds) and all(map(_same_number, golds, preds))
    elif "scalar" in (gold_shape, pred_shape) or "unordered" not in (gold_shape, pred_shape):
        equal = False  # a number is not a list; a tuple is not one with other brackets
    else:
        return None
    return equal, exactly


def _enclosing(answer: str) -> tuple[str, str] | None:
    """The brackets around a whole tuple, interval or set (``(1,2)``, ``[0,1)``, ``\\{1,2\\}``), else None."""
    text = _SPACING.sub("", answer)
    opener = next((o for o in _CLOSERS if text.startswith(o)), None)
    closer = next((c for c in _CLOSERS.get(opener, ()) if text.endswith(c)), None)
    if opener is None or closer is None or len(text) <= len(opener) + len(closer):
        return None
    depth, comma = 0, False
    for char in text[len(opener) : -len(closer)]:  # the opener must close at the very end: "(1,2),(3,4)" is a list
        depth += 1 if char in "([{" else -1 if char in ")]}" else 0
        if depth < 0:
            return None
        comma = comma or (depth == 0 and char == ",")
    return (opener, closer) if comma else None


def brackets_conflict(gold: str, pred: str) -> bool:
    """Both answers are bracketed tuples, intervals or sets, with different brackets."""
    gold_brackets, pred_brackets = _enclosing(gold), _enclosing(pred)
    return gold_brackets is not None and pred_brackets is not None and gold_brackets != pred_brackets
