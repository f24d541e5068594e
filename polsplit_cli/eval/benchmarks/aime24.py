"""AIME 2024 (30 problems, integer answers)."""

from polsplit_cli.eval.benchmarks.base import HubSource

NAME = "aime-24"
KIND = "math"
SOURCE = HubSource("HuggingFaceH4/aime_2024", None, "train", "main")
NATIVE_FIELD = "problem"


def to_record(row: dict, seed: int) -> dict:
    return {"id": row["id"], "question": row["problem"], "answer": row["answer"]}
