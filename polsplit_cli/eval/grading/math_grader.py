"""PRM800K-style math grading, the in-process part.

1. the two string normalizations (``normalize.py``): equal strings are a match;
2. tuples and intervals are split element-wise (bracket types must agree when the gold has
   several elements, counts must agree);
3. per element: equal strings match; two integers compare as integers (AIME's "033" = "33");
   two plain fractions must be identical (unreduced fractions are wrong, as in PRM800K); an
   integer against a non-integer is wrong; anything else needs sympy, which runs in a
   worker (``symbolic.py``) -- but only if both sides pass the whitelist here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from polsplit_cli.eval.grading.normalize import hendrycks_normalize, normalize
from polsplit_cli.eval.grading.whitelist import tokenize

_INTEGER = re.compile(r"-?\d+")
_FRACTION = re.compile(r"-?\d+/\d+")


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
