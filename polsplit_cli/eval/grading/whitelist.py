"""The gates in front of the worker checks: a strict tokenizer for sympy, a cheap filter for math-verify.

Model output is untrusted. Instead of ``sympy.parse_expr`` (which calls ``eval``), the worker
builds sympy objects from the tokens produced here, so no answer text is ever executed.
Anything outside the whitelist is refused before a worker sees it:

- characters: digits, ``a-z``, ``+ - * / ^ ( )``, ``.`` only inside a number, spaces;
- names: ``sqrt``, ``pi``, ``inf``; every other letter run is a product of one-letter
  symbols (``xy`` = x*y), at most ``MAX_SYMBOLS`` distinct ones (as PRM800K) -- so
  ``__import__``, ``lambda``, ``import``, ``os`` can never become identifiers;
- length at most ``MAX_SYMPY_CHARS``; no ``**`` (our power is ``^``, whose size the worker checks).
"""

from __future__ import annotations

import re

MAX_SYMPY_CHARS = 200
MAX_SYMBOLS = 2
NAMES = ("sqrt", "pi", "inf")

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?|\.\d+)|([a-z]+)|([-+*/^()]))")


def tokenize(expr: str) -> list[tuple[str, str]] | None:
    """``[(kind, text)]`` with kind in number/name/symbol/op, or None when refused."""
    if len(expr) > MAX_SYMPY_CHARS or "**" in expr:
        return None
    tokens: list[tuple[str, str]] = []
    position = 0
    expr = expr.rstrip()
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if match is None:
            return None
        number, letters, operator = match.groups()
        if number is not None:
            if tokens and tokens[-1][0] == "number":  # "1.5.3", "2 3": not a number
                return None
            tokens.append(("number", number))
        elif operator is not None:
            tokens.append(("op", operator))
        elif letters in NAMES:
            tokens.append(("name", letters))
        else:
            tokens.extend(("symbol", letter) for letter in letters)
        position = match.end()
    if len({text for kind, text in tokens if kind == "symbol"}) > MAX_SYMBOLS:
        return None
    return tokens


# --- the gate in front of math-verify -----------------------------------------------------

MAX_VERIFY_CHARS = 400
MAX_VERIFY_NESTING = 12
MAX_SCRIPT_NUMBER = 1000  # the largest integer written in an exponent (as MAX_EXPONENT for sympy)

_INTEGRAL = re.compile(r"\\[io]*int")
_FACTORIAL = re.compile(r"(?<!\\)!(?!=)")  # not "\!" (a LaTeX space) nor "!=" (not equal)
_DIGITS = re.compile(r"\d+")


def _group_end(text: str, start: int) -> int:
    """The index just after the bracket group opening at ``start`` (the end of the text if it never closes)."""
    depth = 0
    for position in range(start, len(text)):
        depth += 1 if text[position] in "([{" else -1 if text[position] in ")]}" else 0
        if depth == 0:
            return position + 1
    return len(text)


def _group_start(text: str, end: int) -> int:
    """The index of the bracket that opens the group closing at ``end - 1``."""
    depth = 0
    for position in range(end - 1, -1, -1):
        depth += 1 if text[position] in ")]}" else -1 if text[position] in "([{" else 0
        if depth == 0:
            return position
    return 0


def _largest_number(text: str) -> int:
    return max((int(digits) for digits in _DIGITS.findall(text)), default=1)


def _power_too_large(text: str, caret: int) -> bool:
    """A tower (``10^{10^{10}}``), an exponent over ``MAX_SCRIPT_NUMBER`` (``(x+1)^{10000}``), or a power of
    a power whose exponents multiply past it (``(10^{1000})^{1000}``)."""
    after = len(text) - len(text[caret + 1 :].lstrip())
    exponent = text[after : _group_end(text, after)] if text.startswith("{", after) else text[after : after + 1]
    if "^" in exponent or _largest_number(exponent) > MAX_SCRIPT_NUMBER:
        return True
    if caret and text[caret - 1] in ")]}":
        base = text[_group_start(text, caret) : caret]
        inner = [_largest_number(text_after) for text_after in base.split("^")[1:]]
        return any(number * _largest_number(exponent) > MAX_SCRIPT_NUMBER for number in inner)
    return False


def verify_accepts(text: str) -> bool:
    """Whether math-verify may see ``text``. Refused, because parsing or comparing them only ever
    ends at the time limit: over ``MAX_VERIFY_CHARS`` characters, brackets nested deeper than
    ``MAX_VERIFY_NESTING``, power towers (``10^{10^{10}}``, ``\\prod_{k=1}^{10^6}``), exponents over
    ``MAX_SCRIPT_NUMBER`` alone or multiplied (``(x+1)^{10000}``, ``(10^{1000})^{1000}``), integrals, and factorials beside a power, a 4-digit
    number or another factorial (``1000000!``, ``10^{10}!``, ``(10!)!``)."""
    if len(text) > MAX_VERIFY_CHARS or _INTEGRAL.search(text):
        return False
    factorials = len(_FACTORIAL.findall(text))
    if factorials and (factorials > 1 or "^" in text or re.search(r"\d{4}", text)):
        return False
    depth = 0
    for char in text:
        depth += 1 if char in "([{" else -1 if char in ")]}" else 0
        if depth > MAX_VERIFY_NESTING:
            return False
    return not any(_power_too_large(text, caret) for caret, char in enumerate(text) if char == "^")
