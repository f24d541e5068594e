"""The gate in front of sympy: a strict tokenizer over normalized answer strings.

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
