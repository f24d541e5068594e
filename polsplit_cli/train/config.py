"""Every knob of the local trainer, and how a run's settings are resolved.

Layers, later winning: the defaults below -> ``configs/train/<algo>.yaml`` (the algorithm's
hyper-parameters, paper values) -> the run config (``configs/train/demo.yaml``, the built-in
tiny-model demo, unless ``--config FILE`` names another) -> command-line flags and
``key=value`` overrides. Unknown keys and badly typed values are one-line errors.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from polsplit_cli.errors import UserError
from polsplit_cli.eval.grading import DEFAULT_GRADER, GRADERS
from polsplit_cli.knobs import knob
from polsplit_cli.models import DTYPES
from polsplit_cli.resources import config_path
from polsplit_cli.train.knobs import ALGORITHM_HELP, DEFAULT_ALGORITHM, MethodKnobs

DEMO_CONFIG = "train/demo.yaml"
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class TrainConfig(MethodKnobs):
    """The local trainer's settings: the method's knobs (``MethodKnobs``) plus everything below."""

    # what to train, on what
    algo: str = knob(DEFAULT_ALGORITHM, ALGORITHM_HELP, "--algo")
    model: str = knob("tiny", "Local Hugging Face model folder, or 'tiny' (built in).", "--model")
    data: str | None = knob(None, "JSONL of {question, answer} (default: built-in arithmetic).", "--data")
    eval_data: str | None = None  # held-out JSONL; default: arithmetic test split / last records of data
    # schedule and batch
    steps: int = knob(40, "Optimizer steps (one batch of Q questions each).", "--steps")
    questions_per_step: int = knob(8, "Questions per step.", "--questions-per-step", "-Q")
    group_size: int = knob(8, "Responses per question (even for dual-mode).", "--group-size", "-G")
    mini_batch_size: int = 0  # questions per optimizer step; 0 = all Q (one update per PPO epoch)
    micro_batch_size: int = 64  # sequences per forward pass (memory only; gradients are accumulated)
    ppo_epochs: int = 1
    # optimizer
    lr: float = knob(3e-6, "AdamW learning rate.", "--lr")
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    clip_eps: float = 0.2
    loss_agg: str = "token-mean"
    # sampling
    temperature: float = knob(1.0, "Rollout sampling temperature.", "--temperature")
    top_p: float = 1.0
    top_k: int = -1  # -1 or 0: off
    max_new_tokens: int = knob(48, "Longest response (tokens).", "--max-new-tokens")
    # reward
    grader: str = knob(DEFAULT_GRADER, "Reward grader: combined (default: PRM800K-style path, then "
                       "math-verify), prm800k (the paper's reward) or math-verify.", "--grader")
    # baselines verl runs itself (SPEC §6)
    entropy_coeff: float = 0.003
    clip_cov_ratio: float = 0.0002
    clip_cov_lb: float = 1.0
    clip_cov_ub: float = 5.0
    # run
    seed: int = knob(0, "Seed of data order, sampling and initialisation.", "--seed")
    eval_every: int = 10  # 0 = only before and after training
    eval_size: int = 100  # held-out questions (0 = no evaluation)
    checkpoint_every: int = 0  # 0 = only at the end (and on Ctrl-C)
    device: str = knob("auto", "auto (default: cuda when present) | cpu | cuda.", "--device")
    dtype: str = "float32"
    threads: int = 0  # CPU threads for torch; 0 = torch's default (one per core)

    def resolved_device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_FIELDS = {field.name: field for field in dataclasses.fields(TrainConfig)}
_TYPES = typing.get_type_hints(TrainConfig)


def _coerce(key: str, value: Any, source: str) -> Any:
    """``value`` as the type of field ``key`` (YAML reads 1e-4 as a string; flags arrive as text)."""
    expected = _TYPES[key]
    optional = type(None) in typing.get_args(expected)
    base = next((t for t in typing.get_args(expected) if t is not type(None)), expected)
    if value is None or (optional and isinstance(value, str) and value.lower() in ("null", "none", "")):
        if optional:
            return None
        raise UserError(f"{source}: '{key}' cannot be empty")
    try:
        if base is bool:
            if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
                return value.lower() in ("true", "yes", "1")
            if isinstance(value, bool):
                return value
            raise ValueError
        if base is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if base is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise UserError(f"{source}: '{key}' must be {base.__name__}, got {value!r}") from None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UserError(f"cannot read config {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise UserError(f"config {path} is not valid YAML: {str(error).splitlines()[0]}") from error
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise UserError(f"config {path} must be a mapping of knob: value")
    return content


def _apply(settings: dict[str, Any], values: dict[str, Any], source: str) -> None:
    for key, value in values.items():
        name = str(key).replace("-", "_")
        if name not in _FIELDS:
            raise UserError(f"{source}: unknown key '{key}' (see docs/train.md for the knobs)")
        settings[name] = _coerce(name, value, source)


def parse_overrides(pairs: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``key=value`` strings -> {key: YAML-parsed value}."""
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"override '{pair}' is not key=value")
        try:
            parsed[key.strip()] = yaml.safe_load(value) if value else None
        except yaml.YAMLError:
            parsed[key.strip()] = value
    return parsed


def algorithm_preset(algo: str) -> Path:
    """``configs/train/<algo>.yaml``; an unknown algorithm is a one-line error listing the known ones."""
    from polsplit_cli.train.algorithms import get_algorithm

    get_algorithm(algo)
    return config_path(f"train/{algo}.yaml")


def resolve_config(config_file: str | Path | None = None, flags: dict[str, Any] | None = None) -> TrainConfig:
    """The run's settings: defaults <- algorithm preset <- run config (demo or FILE) <- flags."""
    flags = {key: value for key, value in (flags or {}).items() if value is not None}
    run_path = Path(config_file) if config_file is not None else config_path(DEMO_CONFIG)
    run_values = _read_yaml(run_path)
    algo = str(flags.get("algo", run_values.get("algo", TrainConfig.algo)))
    settings: dict[str, Any] = {}
    preset = algorithm_preset(algo)
    _apply(settings, _read_yaml(preset), str(preset))
    _apply(settings, run_values, str(run_path))
    _apply(settings, flags, "command line")
    settings["algo"] = algo
    config = TrainConfig(**settings)
    validate(config)
    return config


def validate(config: TrainConfig) -> None:
    """One-line errors for settings the trainer cannot run with."""
    from polsplit_cli.algo.advantages import CLIP_PLACEMENTS, ESTIMATORS
    from polsplit_cli.algo.loss import LOSS_AGG_MODES
    from polsplit_cli.train.algorithms import get_algorithm

    algorithm = get_algorithm(config.algo)
    if algorithm.dual_mode and (config.group_size < 2 or config.group_size % 2):
        raise UserError(f"--group-size must be even and >= 2 for {config.algo} (G/2 rollouts per mode), "
                        f"got {config.group_size}")
    if config.group_size < 2:
        raise UserError(f"--group-size must be >= 2 (GRPO compares responses within a group), got {config.group_size}")
    for name in ("steps", "questions_per_step", "ppo_epochs", "micro_batch_size", "max_new_tokens"):
        if getattr(config, name) < 1:
            raise UserError(f"{name} must be >= 1, got {getattr(config, name)}")
    for name in ("mini_batch_size", "eval_every", "eval_size", "checkpoint_every", "threads"):
        if getattr(config, name) < 0:
            raise UserError(f"{name} must be >= 0, got {getattr(config, name)}")
    if not config.lr > 0 or not config.temperature > 0 or not 0 < config.top_p <= 1:
        raise UserError("lr and temperature must be > 0 and top_p in (0, 1]")
    for name, allowed in (("loss_agg", LOSS_AGG_MODES), ("device", DEVICES), ("dtype", DTYPES),
                          ("clip_placement", CLIP_PLACEMENTS), ("estimator", ESTIMATORS), ("grader", GRADERS)):
        if getattr(config, name) not in allowed:
            raise UserError(f"{name} must be one of {', '.join(allowed)}, got {getattr(config, name)!r}")


def resume_config(saved: dict[str, Any], flags: dict[str, Any] | None = None) -> TrainConfig:
    """A resumed run's settings: those it started with (its manifest), then any flags given now."""
    flags = {key: value for key, value in (flags or {}).items() if value is not None}
    if "algo" in flags and flags["algo"] != saved.get("algo"):
        raise UserError(f"--resume: the run trains {saved.get('algo')}; --algo cannot change it")
    settings: dict[str, Any] = {}
    _apply(settings, saved, "manifest.json config")
    _apply(settings, flags, "command line")
    config = TrainConfig(**settings)
    validate(config)
    return config
