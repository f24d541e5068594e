"""Checkpoints: an HF model folder plus the trainer state, written whole or not at all.

``<run>/checkpoints/step-000012/`` holds ``save_pretrained`` model and tokenizer files (load it
with ``polsplit_cli.models.load_model`` or ``polsplit eval --model``) and ``trainer_state.pt``
(step, optimizer, RNG states, data position). It is written to a hidden temporary folder and
renamed into place, so an interrupted save never leaves a half-written checkpoint.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from polsplit_cli.errors import UserError

STATE_FILE = "trainer_state.pt"
CHECKPOINTS = "checkpoints"


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return run_dir / CHECKPOINTS / f"step-{step:06d}"


def save_checkpoint(run_dir: Path, step: int, model, tokenizer, state: dict[str, Any]) -> Path:
    """Write the checkpoint of ``step`` atomically; returns its folder."""
    final = checkpoint_dir(run_dir, step)
    temporary = final.parent / f".tmp-{final.name}"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    model.save_pretrained(temporary)
    tokenizer.save_pretrained(temporary)
    torch.save(state, temporary / STATE_FILE)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(temporary, final)
    return final


def latest_checkpoint(run_dir: Path) -> Path:
    """The newest complete checkpoint of a run folder (one-line error if there is none)."""
    folder = Path(run_dir) / CHECKPOINTS
    found = sorted(p for p in folder.glob("step-*") if (p / STATE_FILE).is_file()) if folder.is_dir() else []
    if not found:
        raise UserError(f"--resume {run_dir}: no checkpoint found under {folder}")
    return found[-1]


def load_trainer_state(checkpoint: Path) -> dict[str, Any]:
    # our own file (optimizer state and RNG states are not plain tensors)
    return torch.load(checkpoint / STATE_FILE, map_location="cpu", weights_only=False)


def rng_states(*generators: torch.Generator) -> dict[str, Any]:
    """Every random state the run uses, for an exact resume."""
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "generators": [g.get_state() for g in generators],
    }


def restore_rng_states(states: dict[str, Any], *generators: torch.Generator) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if states["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    for generator, state in zip(generators, states["generators"], strict=True):
        generator.set_state(state)
