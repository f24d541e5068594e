"""MMLU-Pro (12,032 questions, up to 10 options), options in the dataset's order.

The revision is the one lighteval pins for this dataset.
"""

from polsplit_cli.eval.benchmarks.base import HubSource

NAME = "mmlu-pro"
KIND = "choice"
SOURCE = HubSource("TIGER-Lab/MMLU-Pro", None, "test", "3373e0b32277875b8db2aa555a333b78a08477ea")
NATIVE_FIELD = "question_id"


def to_record(row: dict, seed: int) -> dict:
    return {"id": row["question_id"], "question": row["question"], "options": row["options"], "answer": row["answer"]}
