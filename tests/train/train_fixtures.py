"""Small, fast trainer settings on the built-in tiny model (one CPU thread: exact and quick)."""

import json
from pathlib import Path

from polsplit_cli.train.config import resolve_config

TRAIN_KEYS = [
    "step", "normal/reward", "he/reward", "normal/accuracy", "he/accuracy", "normal/response_length",
    "he/response_length", "normal/entropy_bits", "he/entropy_bits", "kl/forward_bits", "kl/reverse_bits",
    "adv/normal_mean", "adv/normal_abs_mean", "adv/he_mean", "adv/he_abs_mean", "adv/entropy_term_clip_fraction",
    "clip_fraction", "approx_kl", "loss", "grad_norm", "skipped_updates", "ungradable_steps", "step_time_s", "tokens",
]
EVAL_KEYS = ["eval/normal/accuracy", "eval/he/accuracy", "eval/normal/entropy_bits", "eval/he/entropy_bits",
             "eval/kl/forward_bits"]


def small_config(**overrides):
    """2 questions x 4 responses, 12 new tokens, 8 held-out questions."""
    flags = {"steps": 2, "questions_per_step": 2, "group_size": 4, "max_new_tokens": 12, "eval_size": 8,
             "eval_every": 0, "threads": 1, "lr": 1e-3, **overrides}
    return resolve_config(flags=flags)


def read_metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
