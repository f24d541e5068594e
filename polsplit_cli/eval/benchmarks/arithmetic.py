"""The built-in arithmetic task ("What is a+b?"), its fixed test split; no network."""

from polsplit_cli.data.arithmetic import ARITHMETIC_TEST_SIZE, arithmetic_problems

NAME = "arithmetic"
KIND = "math"
SOURCE = None
NATIVE_FIELD = None


def builtin_rows() -> list[dict]:
    """The whole test split in a fixed order (seed 0), so --limit N always means the same N problems."""
    return arithmetic_problems(ARITHMETIC_TEST_SIZE, seed=0, split="test")
