"""MATH-500: the 500-problem MATH subset of "Let's Verify Step by Step" (PRM800K test split)."""

from polsplit_cli.eval.benchmarks.base import HubSource

NAME = "math-500"
KIND = "math"
SOURCE = HubSource("HuggingFaceH4/MATH-500", None, "test", "main")
NATIVE_FIELD = "problem"  # rows with this column use the dataset's own schema


def to_record(row: dict, seed: int) -> dict:
    return {"id": row["unique_id"], "question": row["problem"], "answer": row["answer"]}
