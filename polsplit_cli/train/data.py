"""Training questions: the built-in arithmetic task or a JSONL file of {"question", "answer"} records.

Training draws questions in a seeded order that the checkpoint records (epoch, position), so a
resumed run sees exactly the questions an uninterrupted one would. Held-out questions never
appear in training: the arithmetic test split, or the last records of the JSONL file.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from polsplit_cli.data.arithmetic import (
    ARITHMETIC_TEST_SIZE,
    ARITHMETIC_TRAIN_SIZE,
    arithmetic_problems,
)
from polsplit_cli.errors import UserError
from polsplit_cli.runfiles import read_jsonl

ARITHMETIC = "arithmetic"


def load_qa_jsonl(path: str | Path) -> list[dict[str, str]]:
    """Records {"id", "question", "answer"} from a JSONL file; blank lines are skipped.

    Numbers as answers become strings (42 -> "42"); an "id" field is kept, else "<file stem>-<line>".
    Any bad line is a UserError naming the file and the line.
    """
    path = Path(path)
    records = []
    for number, record in read_jsonl(path):
        where = f"{path}:{number}"
        question, answer = record.get("question"), record.get("answer")
        if not isinstance(question, str) or not question.strip():
            raise UserError(f"{where}: 'question' must be a non-empty string")
        if isinstance(answer, bool) or not isinstance(answer, str | int | float) or not str(answer).strip():
            raise UserError(f"{where}: 'answer' must be a non-empty string or a number")
        records.append({"id": str(record.get("id", f"{path.stem}-{number}")), "question": question,
                        "answer": str(answer)})
    return records


@dataclass
class TaskData:
    """Questions to train on and held-out questions to evaluate on."""

    name: str
    train: list[dict[str, str]]
    held_out: list[dict[str, str]]


def load_task(data: str | None, *, eval_size: int, eval_data: str | None = None) -> TaskData:
    """The built-in arithmetic task (data None or "arithmetic") or a JSONL file.

    Held out: the arithmetic test split (a fixed draw of ``eval_size``), ``eval_data`` when given,
    else the last ``eval_size`` records of the JSONL file (the rest train).
    """
    if data is None or data == ARITHMETIC:
        train = arithmetic_problems(ARITHMETIC_TRAIN_SIZE, seed=0, split="train")
        held_out = arithmetic_problems(min(eval_size, ARITHMETIC_TEST_SIZE), seed=0, split="test")
        if eval_data is not None:
            held_out = load_qa_jsonl(eval_data)[:eval_size]
        return TaskData(ARITHMETIC, train, held_out)
    records = load_qa_jsonl(data)
    if eval_data is not None:
        return TaskData(data, records, load_qa_jsonl(eval_data)[:eval_size])
    if eval_size and len(records) <= eval_size:
        raise UserError(f"{data} has {len(records)} records: not enough to hold out {eval_size} for evaluation "
                        "(lower --eval-size, or give --eval-data)")
    split = len(records) - eval_size
    return TaskData(data, records[:split], records[split:])


class QuestionStream:
    """Endless seeded order over the training questions: a fresh shuffle each epoch."""

    def __init__(self, questions: list[dict[str, str]], seed: int) -> None:
        if not questions:
            raise UserError("no training questions")
        self.questions, self.seed = questions, seed
        self.epoch, self.position = 0, 0
        self._order = self._shuffled(0)

    def _shuffled(self, epoch: int) -> list[int]:
        order = list(range(len(self.questions)))
        random.Random(f"polsplit-train:{self.seed}:{epoch}").shuffle(order)
        return order

    def take(self, count: int) -> list[dict[str, str]]:
        """The next ``count`` questions (crossing into the next epoch when one ends)."""
        batch = []
        while len(batch) < count:
            if self.position == len(self._order):
                self.epoch, self.position = self.epoch + 1, 0
                self._order = self._shuffled(self.epoch)
            batch.append(self.questions[self._order[self.position]])
            self.position += 1
        return batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._order = self._shuffled(self.epoch)
