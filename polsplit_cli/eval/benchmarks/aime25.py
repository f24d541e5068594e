"""AIME 2025 (30 problems, integer answers)."""

from polsplit_cli.eval.benchmarks.base import HubSource

NAME = "aime-25"
KIND = "math"
SOURCE = HubSource("math-ai/aime25", None, "test", "main")
NATIVE_FIELD = "problem"


def to_record(row: dict, seed: int) -> dict:
    return {"id": row.get("id"), "question": row["problem"], "answer": row["answer"]}
