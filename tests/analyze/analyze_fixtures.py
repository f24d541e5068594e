"""Synthetic result folders in the formats of docs/formats.md, and an in-process CLI runner."""

from __future__ import annotations

import json
import sys
from pathlib import Path

HE_TEXT = "Explore many different ways of thinking."


def sample(benchmark: str, problem: str, mode: str, index: int, correct: bool | None, *,
           tokens: int = 10, entropy: float = 2.0, **extra) -> dict:
    """One samples.jsonl record; tempered entropy is half the raw entropy (a known ratio to test)."""
    return {
        "benchmark": benchmark, "problem_id": problem, "mode": mode, "sample": index, "model": "tiny",
        "seed": index, "prompt_hash": "0" * 16, "response": "r", "response_tokens": tokens,
        "finish_reason": "stop", "gold": "1", "extracted": "1" if correct else None, "correct": correct,
        "grade_reason": "", "entropy_bits_sum": entropy, "entropy_bits_sum_tempered": entropy / 2,
        "entropy_tokens": tokens, **extra,
    }


def samples_from_counts(benchmark: str, mode: str, counts: list[int], n: int, **kwargs) -> list[dict]:
    """n samples per problem p0, p1, ...: the first counts[i] of problem i correct."""
    return [sample(benchmark, f"p{i}", mode, s, s < c, **kwargs) for i, c in enumerate(counts) for s in range(n)]


def write_eval_run(folder: Path, samples: list[dict], *, modes: dict | None = None, model: str = "tiny") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"kind": "eval", "model": model, "sampling": {"temperature": 0.6},
                "modes": modes or {"normal": None, "high-entropy": HE_TEXT, "low-entropy": "Be precise."}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    return folder


def write_train_run(folder: Path, metrics: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps({"kind": "train", "model": "tiny"}))
    (folder / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    return folder


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """``polsplit ARGS`` in process: (exit code, stdout, stderr)."""
    from polsplit_cli.cli import main

    argv = sys.argv
    sys.argv = ["polsplit", *args]
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return code, captured.out, captured.err
