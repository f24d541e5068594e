"""What a benchmark yields (``Problem``), where it comes from, and the one validator every source goes through.

Every source — a Hugging Face dataset, a ``--data-file`` JSONL, a built-in set — is first mapped to a
*generic record* and then validated here, so a bad row fails the same way wherever it came from:

- math:     {"id"?, "question": str, "answer": str | number}
- choice:   {"id"?, "question": str, "options": [str, ...] (2-26), "answer": "B" | 1 (0-based index)}
- creative: {"id"?, "question": str}                       (generation only; graded null)

A missing ``id`` becomes the 1-based row number.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from polsplit_cli.errors import UserError
from polsplit_cli.prompts import CHOICE_LETTERS, choice_task, math_task

KINDS = ("math", "choice", "creative")
HUB_PROBE_TIMEOUT_S = 3.0
OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


@dataclass(frozen=True)
class Problem:
    benchmark: str
    id: str
    question: str  # the problem text before any template
    user_text: str  # the user turn the model sees (task prompt applied)
    gold: str | None  # math answer, or the correct letter; None for creative prompts
    kind: str  # "math" | "choice" | "creative"
    n_options: int | None = None


@dataclass(frozen=True)
class HubSource:
    """A Hugging Face dataset at a pinned revision."""

    dataset: str
    config: str | None
    split: str
    revision: str

    def describe(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "config": self.config, "split": self.split, "revision": self.revision}


def problem_from_record(benchmark: str, kind: str, record: dict[str, Any], row: int, where: str) -> Problem:
    """Validate one generic record (see the module docstring); ``where`` names the file/dataset and row."""
    if not isinstance(record, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(record).__name__}")
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise UserError(f"{where}: field 'question' must be a non-empty string")
    problem_id = record.get("id")
    problem_id = row if problem_id is None else problem_id
    if isinstance(problem_id, bool) or not isinstance(problem_id, str | int) or str(problem_id) == "":
        raise UserError(f"{where}: field 'id' must be a non-empty string or an integer")
    if kind == "creative":
        return Problem(benchmark, str(problem_id), question, question, None, kind)
    answer = record.get("answer")
    if kind == "math":
        if isinstance(answer, bool) or not isinstance(answer, str | int | float) or not str(answer).strip():
            raise UserError(f"{where}: field 'answer' must be a non-empty string or a number")
        return Problem(benchmark, str(problem_id), question, math_task(question), str(answer).strip(), kind)
    options = record.get("options")
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise UserError(f"{where}: field 'options' must be a list of strings")
    if not 2 <= len(options) <= len(CHOICE_LETTERS):
        raise UserError(f"{where}: field 'options' must have 2-{len(CHOICE_LETTERS)} entries, got {len(options)}")
    letters = CHOICE_LETTERS[: len(options)]
    if isinstance(answer, int) and not isinstance(answer, bool) and 0 <= answer < len(options):
        gold = letters[answer]
    elif isinstance(answer, str) and answer.strip().upper() in letters and answer.strip():
        gold = answer.strip().upper()
    else:
        raise UserError(f"{where}: field 'answer' must be a letter {letters[0]}-{letters[-1]} or an index "
                        f"0-{len(options) - 1}, got {answer!r}")
    return Problem(benchmark, str(problem_id), question, choice_task(question, options), gold, kind, len(options))


def load_hub_rows(source: HubSource, benchmark: str) -> list[dict[str, Any]]:
    """Rows of a pinned Hugging Face dataset; offline, missing or gated -> one-line UserError.

    Without a connection to the hub, datasets retries for ~30 s before it gives up: a short probe
    first, and when the hub cannot be reached, datasets' offline mode (its local cache) instead.
    """
    unreachable = hub_unreachable()
    if unreachable is not None:
        os.environ["HF_HUB_OFFLINE"] = "1"  # read when datasets and huggingface_hub are imported
    try:
        import datasets
    except ImportError as error:
        raise UserError("the Hugging Face benchmarks need the 'datasets' package: pip install datasets") from error
    if unreachable is not None:
        datasets.config.HF_HUB_OFFLINE = True  # in case datasets was imported before
    try:
        rows = datasets.load_dataset(source.dataset, source.config, split=source.split, revision=source.revision)
    except Exception as error:  # datasets raises many types (connection, gating, not found): all become one line
        if unreachable is not None:
            raise UserError(f"{benchmark}: the Hugging Face hub cannot be reached ({unreachable}) and "
                            f"{source.dataset} is not in the local cache: pass --data-file FILE.jsonl "
                            "(see docs/eval.md)") from error
        raise hub_error(source, benchmark, error) from error
    return [dict(row) for row in rows]


def hub_unreachable() -> str | None:
    """Why the Hugging Face hub cannot be reached, or None when it answers (or when offline mode or a
    proxy is set, where datasets knows best). A TCP connect bounded by ``HUB_PROBE_TIMEOUT_S``, name
    lookup included."""
    offline = any(os.environ.get(name, "").upper() in ("1", "ON", "YES", "TRUE") for name in OFFLINE_VARS)
    if offline or any(os.environ.get(name) for name in PROXY_VARS):
        return None
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    address = (endpoint.hostname or "", endpoint.port or (80 if endpoint.scheme == "http" else 443))
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            socket.create_connection(address, timeout=HUB_PROBE_TIMEOUT_S).close()
            outcome.append(None)
        except OSError as error:
            outcome.append(f"{address[0]}: {error.strerror or error}")

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(HUB_PROBE_TIMEOUT_S)
    return outcome[0] if outcome else f"{address[0]}: no answer in {HUB_PROBE_TIMEOUT_S:g} s"


def hub_error(source: HubSource, benchmark: str, error: Exception) -> UserError:
    """One line for a failed download: gated datasets get the HF_TOKEN advice, the rest --data-file."""
    message = " ".join(str(error).split())[:300] or type(error).__name__
    if any(word in message.lower() for word in ("gated", "restricted", "authenticated", "401", "403")):
        return UserError(
            f"{benchmark}: {source.dataset} is gated: accept its terms at https://huggingface.co/datasets/"
            f"{source.dataset} and set HF_TOKEN to a token of that account (or pass --data-file)"
        )
    return UserError(
        f"{benchmark}: cannot load {source.dataset} (revision {source.revision}): {type(error).__name__}: "
        f"{message} -- without hub access pass --data-file FILE.jsonl (see docs/eval.md)"
    )
