"""String normalizations of the PRM800K grader, written from its description.

Two passes, each compared as plain strings (the grader's cheap fast path):
``hendrycks_normalize`` (the MATH dataset's ``strip_string``) and ``normalize`` (PRM800K's
own, which also renders LaTeX to plain text). ``latex_to_plain`` is our own small LaTeX
converter; unlike pylatexenc it keeps ``\\frac{x+1}{2}`` as ``(x+1)/2`` and ``\\sqrt[3]{2}``
as ``2^(1/3)``, so different answers never normalize to the same string.
All functions are pure string work, safe in-process on answers of at most a few kB.
"""

from __future__ import annotations

import functools
import re

MAX_LATEX_DEPTH = 50

# --- pass 1: Hendrycks' strip_string ------------------------------------------------------

_HENDRYCKS_REMOVE = ("\n", "\\!", "\\left", "\\right", "^{\\circ}", "^\\circ", "\\$", "\\%")
_FRAC_ARGS = re.compile(r"\\frac\s*(\{[^{}]*\}|[^{}\s\\])\s*(\{[^{}]*\}|[^{}\s\\])")
_SQRT_BARE = re.compile(r"\\sqrt(\w)")
_INT_RATIO = re.compile(r"(-?\d+)/(\d+)")
_SHORT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]?")
_HENDRYCKS_UNIT = re.compile(r"\\text\{ (?!\s*(?:or|and)\b)[^{}]*\}(?:\^\{?\d\}?)?\s*$")


def _braced(arg: str) -> str:
    return arg if arg.startswith("{") else "{" + arg + "}"


@functools.lru_cache(maxsize=8192)  # a gold is compared with every response of its group
def hendrycks_normalize(answer: str) -> str:
    """MATH's normalization: drop LaTeX sizing, units, ``x=``, spaces; canonical ``\\frac{a}{b}``."""
    text = answer.strip()
    whole_text = re.fullmatch(r"\\text\{(.*)\}", text, re.S)
    if whole_text:
        text = whole_text.group(1).strip()
    for token in _HENDRYCKS_REMOVE:
        text = text.replace(token, "")
    text = text.replace("\\\\", "\\").replace("tfrac", "frac").replace("dfrac", "frac")
    text = _HENDRYCKS_UNIT.sub("", text)  # "10\text{ cm}", but never "5\text{ or }6"
    text = text.replace(" .", " 0.").replace("{.", "{0.")
    if text.startswith("."):
        text = "0" + text
    sides = text.split("=")
    if len(sides) == 2 and _SHORT_NAME.fullmatch(sides[0].strip()):  # "x = 3", never "7 = 11a+c"
        text = sides[1]
    text = _SQRT_BARE.sub(r"\\sqrt{\1}", text).replace(" ", "")
    text = _FRAC_ARGS.sub(lambda m: "\\frac" + _braced(m.group(1)) + _braced(m.group(2)), text)
    if text == "0.5":
        return "\\frac{1}{2}"
    ratio = _INT_RATIO.fullmatch(text)
    if ratio:
        return f"\\frac{{{ratio.group(1)}}}{{{ratio.group(2)}}}"
    return text


# --- our LaTeX -> plain text converter ----------------------------------------------------

_FRACS = {"frac", "dfrac", "tfrac", "cfrac"}
_UNWRAP = {"text", "textbf", "textit", "textrm", "textnormal", "mathrm", "mathbf", "mathit", "mbox", "hbox",
           "operatorname", "boxed", "fbox", "mathbb", "mathcal", "displaystyle"}
_DROP = {"left", "right", "!", ",", ";", ":", " ", "quad", "qquad", "textstyle", "limits",
         "big", "Big", "bigg", "Bigg", "circ", "degree"}
_SYMBOLS = {"pi": "pi", "infty": "inf", "cdot": "*", "times": "*", "div": "/", "cup": "U",
            "{": "{", "}": "}", "%": "%", "$": "$"}
_COMMAND = re.compile(r"\\([A-Za-z]+|.)", re.S)
_ATOM = re.compile(r"[A-Za-z0-9.]+")


def _atom(text: str) -> str:
    """Parenthesize unless a single number or name, so ``a/b`` and ``x^e`` keep their meaning."""
    return text if _ATOM.fullmatch(text) else f"({text})"


class _LatexReader:
    """Recursive-descent reader over a LaTeX string; ``MAX_LATEX_DEPTH`` bounds the recursion."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.depth = text, 0, 0

    def sequence(self, *, top: bool) -> str:
        parts = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "}":
                if not top:
                    return "".join(parts)
                self.pos += 1  # stray closing brace
            elif char in "^_":
                self.pos += 1
                parts.append(char + _atom(self.argument()))
            else:
                parts.append(self.item())
        if not top:
            raise ValueError("unbalanced braces")
        return "".join(parts)

    def item(self) -> str:
        self.depth += 1
        if self.depth > MAX_LATEX_DEPTH:
            raise ValueError("nested too deeply")
        char = self.text[self.pos]
        if char == "{":
            self.pos += 1
            out = self.sequence(top=False)
            self.pos += 1
        elif char == "\\":
            out = self.command()
        else:
            self.pos += 1
            out = char
        self.depth -= 1
        return out

    def argument(self) -> str:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1
        if self.pos >= len(self.text) or self.text[self.pos] == "}":
            raise ValueError("missing argument")
        return self.item()

    def command(self) -> str:
        match = _COMMAND.match(self.text, self.pos)
        if match is None:  # a lone backslash at the end
            self.pos += 1
            return ""
        self.pos, name = match.end(), match.group(1)
        if name in _FRACS:
            numerator = self.argument()
            return f"{_atom(numerator)}/{_atom(self.argument())}"
        if name == "sqrt":
            return self.square_root()
        if name in _UNWRAP:
            return self.argument()
        if name in _DROP:
            return ""
        return _SYMBOLS.get(name, "\\" + name)

    def square_root(self) -> str:
        rest = self.text[self.pos :].lstrip(" ")
        if rest.startswith("["):
            close = rest.find("]")
            if close < 0:
                raise ValueError("unclosed root index")
            index = latex_to_plain(rest[1:close])
            self.pos = len(self.text) - len(rest) + close + 1
            return f"{_atom(self.argument())}^(1/{_atom(index)})"
        return f"sqrt({self.argument()})"


def latex_to_plain(text: str) -> str:
    """``\\frac{\\sqrt{3}}{2}`` -> ``(sqrt(3))/2``; unknown commands stay (``\\alpha``). ValueError if malformed."""
    return _LatexReader(text).sequence(top=True)


# --- pass 2: PRM800K's own normalization --------------------------------------------------

_TEXT_COMMAND = re.compile(r"\\(?:text|textbf|textrm|textit|textnormal|mbox|mathrm)\s*\{([^{}]*)\}")
_SCALE_WORDS = {"million": "*10^6", "billion": "*10^9", "trillion": "*10^12"}
_UNITS = ("degree", "cm", "centimeter", "meter", "mile", "second", "minute", "hour", "day", "week",
          "month", "year", "foot", "feet", "inch", "inches", "yard", "unit", "dollar", "cent", "km", "kg",
          "gram", "liter", "mph")
_UNIT_WORDS = re.compile(r"\s*(?:square\s+)?\b(?:" + "|".join(_UNITS) + r")(?:es|s)?\b(?:\s*\^\s*\{?\d+\}?)?")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?")
_INTEGER_FLOAT = re.compile(r"(-?\d+)\.0*")
_MIXED_NUMBER = re.compile(r"(-?)(\d+)\s*(?:\\[dt]?frac\{(\d+)\}\{(\d+)\}|\s(\d+)/(\d+))")
_THOUSANDS = re.compile(r"-?[1-9]\d{0,2}(,\d{3})+(\.\d+)?")  # 1,000.5 but not 0,111 (a decimal comma)
_INTEGER = re.compile(r"[-+]?\d+")


def _mixed_number(match: re.Match) -> str:
    sign, whole = match.group(1), match.group(2)
    numerator, denominator = match.group(3) or match.group(5), match.group(4) or match.group(6)
    return f"{sign}({whole}+{numerator}/{denominator})"


@functools.lru_cache(maxsize=8192)
def normalize(answer: str) -> str:
    """PRM800K-style normalization to a plain, lowercase, space-free expression string."""
    text = _TEXT_COMMAND.sub(r"\1", answer)
    for token in ("\\$", "$", "\\%", "%", ",\\!", "\\!"):
        text = text.replace(token, "")
    text = text.replace(" or ", " , ").replace(" and ", " , ")
    for word, power in _SCALE_WORDS.items():
        text = text.replace(word, power)
    text = _DEGREES.sub("", text)
    text = _UNIT_WORDS.sub("", text).strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    if (mixed := _MIXED_NUMBER.fullmatch(text)) is not None:
        text = _mixed_number(mixed)
    if "\\" in text or "{" in text:
        try:
            text = latex_to_plain(text)
        except ValueError:
            pass  # malformed LaTeX stays as it is: it can still match as a string, never as sympy
    thousands = _THOUSANDS.fullmatch(text.strip()) is not None  # before spaces go: "32, 349" is a list
    text = re.sub(r"\s+", "", text).replace("{", "").replace("}", "").lower()
    if thousands:
        text = text.replace(",", "")
    if (whole := _INTEGER_FLOAT.fullmatch(text)) is not None:
        text = whole.group(1)
    if _INTEGER.fullmatch(text):
        text = str(int(text))
    return text
