"""The built-in arithmetic task: "What is a+b?" with a, b < 100.

The 10,000 ordered pairs (a, b) are split once and for all into train (~90%) and
test (~10%) by a hash of the pair, so the split never depends on a seed, a sample
size or the Python version; the seed only picks which problems of a split you get.
"""

from __future__ import annotations

import hashlib
import random
from functools import cache

SPLITS = ("train", "test")
MAX_OPERAND = 99


def _split_of(a: int, b: int) -> str:
    """'test' for about one pair in ten (fixed hash), 'train' otherwise."""
    digest = hashlib.sha256(f"arithmetic:{a}+{b}".encode()).digest()
    return "test" if digest[0] % 10 == 0 else "train"


@cache
def _pairs(split: str) -> tuple[tuple[int, int], ...]:
    return tuple(
        (a, b) for a in range(MAX_OPERAND + 1) for b in range(MAX_OPERAND + 1) if _split_of(a, b) == split
    )


def split_size(split: str) -> int:
    """How many distinct problems a split holds."""
    _check_split(split)
    return len(_pairs(split))


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown arithmetic split '{split}': use one of {', '.join(SPLITS)}")


def arithmetic_problem(a: int, b: int) -> dict[str, str]:
    """The problem a+b as an {"id", "question", "answer"} record."""
    return {"id": f"arith-{a}+{b}", "question": f"What is {a}+{b}?", "answer": str(a + b)}


def arithmetic_problems(n: int, *, seed: int = 0, split: str = "train") -> list[dict[str, str]]:
    """``n`` distinct problems of ``split``, drawn without replacement; same seed -> same list."""
    _check_split(split)
    pairs = _pairs(split)
    if not 0 <= n <= len(pairs):
        raise ValueError(f"the arithmetic {split} split has {len(pairs)} problems, asked for {n}")
    chosen = random.Random(seed).sample(pairs, n)
    return [arithmetic_problem(a, b) for a, b in chosen]


ARITHMETIC_TEST_SIZE = split_size("test")
ARITHMETIC_TRAIN_SIZE = split_size("train")
