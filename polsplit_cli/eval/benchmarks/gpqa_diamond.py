"""GPQA-Diamond (198 questions, 4 options; gated: HF_TOKEN and the dataset's terms).

The dataset lists the correct answer first, so the options are permuted: once per question, by a
hash of (seed, Record ID) — the same order for every sample, mode and model of a run.
The terms forbid publishing the questions in plain text: test fixtures are synthetic.
"""

import hashlib
import random

from polsplit_cli.eval.benchmarks.base import HubSource
from polsplit_cli.prompts import CHOICE_LETTERS

NAME = "gpqa-diamond"
KIND = "choice"
SOURCE = HubSource("Idavidrein/gpqa", "gpqa_diamond", "train", "main")
NATIVE_FIELD = "Record ID"
OPTION_COLUMNS = ("Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")


def option_order(seed: int, record_id: str, n_options: int) -> list[int]:
    """Which original option goes to each position; sha256-seeded, never Python's salted hash()."""
    digest = hashlib.sha256(f"{seed}:{record_id}".encode()).hexdigest()
    order = list(range(n_options))
    random.Random(int(digest[:16], 16)).shuffle(order)
    return order


def to_record(row: dict, seed: int) -> dict:
    options = [str(row[column]).strip() for column in OPTION_COLUMNS]
    order = option_order(seed, str(row["Record ID"]), len(options))
    return {
        "id": row["Record ID"],
        "question": str(row["Question"]).strip(),
        "options": [options[i] for i in order],
        "answer": CHOICE_LETTERS[order.index(0)],
    }
