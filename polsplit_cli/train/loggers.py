"""Where else a local run's metrics go (``--logger``): TensorBoard, Weights & Biases, Trackio.

metrics.jsonl is always written and keeps its names (docs/formats.md). A logger gets the same
numbers under verl's names, so a local run's curves sit beside a verl run's: the per-mode,
advantage and held-out metrics under ``policy_split/`` (as verl's ``polsplit`` trainer reports
them), the PPO figures under verl's ``actor/`` names. Every logger runs offline and needs no
account: TensorBoard event files in ``<run>/tensorboard``, wandb in offline mode under
``<run>/wandb`` (unless WANDB_MODE says otherwise), trackio's local store.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from polsplit_cli.errors import UserError

LOGGERS = ("tensorboard", "wandb", "trackio")
PROJECT = "polsplit"
# metrics.jsonl key -> verl's name; every other figure is policy_split/<key>
VERL_NAMES = {"loss": "actor/pg_loss", "grad_norm": "actor/grad_norm", "clip_fraction": "actor/pg_clipfrac",
              "approx_kl": "actor/ppo_kl", "step_time_s": "timing_s/step"}


def logger_names(spec: str) -> list[str]:
    """The loggers of a comma list (``"tensorboard,wandb"``); an unknown name is a one-line error."""
    names = [name.strip() for name in spec.split(",") if name.strip()]
    for name in names:
        if name not in LOGGERS:
            raise UserError(f"--logger must be one of {', '.join(LOGGERS)} (comma list), got {name!r}")
    return list(dict.fromkeys(names))


def check_installed(names: list[str]) -> None:
    """A one-line error naming the pip install for a logger whose package is missing (before any model loads)."""
    for name in names:
        if importlib.util.find_spec(name) is None:
            raise UserError(f"--logger {name} needs the {name} package: pip install {name}")


def logged_name(key: str) -> str:
    """A metrics.jsonl key under verl's name."""
    return VERL_NAMES.get(key, f"policy_split/{key}")


def logged_values(record: dict[str, Any]) -> dict[str, float]:
    """A metrics.jsonl record as the loggers get it: verl's names, numbers only (no step, no None)."""
    return {logged_name(key): float(value) for key, value in record.items()
            if key != "step" and isinstance(value, int | float) and not isinstance(value, bool)}


class MetricLoggers:
    """The run's loggers; ``log`` sends one metrics.jsonl record to each, ``close`` flushes them."""

    def __init__(self, names: list[str], run_dir: Path, config: dict[str, Any]) -> None:
        self.sinks = [_open(name, Path(run_dir), config) for name in names]

    def log(self, record: dict[str, Any]) -> None:
        values = logged_values(record)
        for sink in self.sinks:
            sink.log(values, record["step"])

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


def _open(name: str, run_dir: Path, config: dict[str, Any]):
    return {"tensorboard": _TensorBoard, "wandb": _Wandb, "trackio": _Trackio}[name](run_dir, config)


class _TensorBoard:
    def __init__(self, run_dir: Path, config: dict[str, Any]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"))

    def log(self, values: dict[str, float], step: int) -> None:
        for key, value in values.items():
            self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class _Wandb:
    def __init__(self, run_dir: Path, config: dict[str, Any]) -> None:
        import wandb

        self.run = wandb.init(project=PROJECT, name=run_dir.name, dir=str(run_dir), config=config,
                              mode=os.environ.get("WANDB_MODE", "offline"),
                              settings=wandb.Settings(silent=True))  # the live display owns the terminal

    def log(self, values: dict[str, float], step: int) -> None:
        self.run.log(values, step=step, commit=True)  # a record is a whole step: no waiting for the next

    def close(self) -> None:
        self.run.finish()


class _Trackio:
    def __init__(self, run_dir: Path, config: dict[str, Any]) -> None:
        import trackio

        self.trackio = trackio
        trackio.init(project=PROJECT, name=run_dir.name, config=config)

    def log(self, values: dict[str, float], step: int) -> None:
        self.trackio.log(values, step=step)

    def close(self) -> None:
        self.trackio.finish()
