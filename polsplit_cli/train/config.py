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
from polsplit_cli.eval.grading import ANSWER_REGIONS, DEFAULT_ANSWER_REGION, DEFAULT_GRADER, GRADERS
from polsplit_cli.knobs import CLIP_PLACEMENTS, ESTIMATORS, LOSS_AGG_MODES, knob
from polsplit_cli.models import DTYPES
from polsplit_cli.resources import config_path
from polsplit_cli.train.knobs import ALGORITHM_HELP, DEFAULT_ALGORITHM, AlgorithmName, MethodKnobs
from polsplit_cli.train.loggers import LOGGERS, logger_names

DEMO_CONFIG = "train/demo.yaml"
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class TrainConfig(MethodKnobs):
    """The local trainer's settings: the method's knobs (``MethodKnobs``) plus everything below."""

    # what to train, on what
    algo: str = knob(DEFAULT_ALGORITHM, ALGORITHM_HELP, "--algo")
    model: str = knob("tiny", "Local Hugging Face model folder, or 'tiny' (built in).", "--model")
    data: str | None = knob(None, "JSONL of {question, answer} (default: built-in arithmetic).", "--data")
    eval_data: str | None = knob(None, "Held-out JSONL (default: the arithmetic test split, or the last "
                                 "eval_size records of data).")
    # schedule and batch
    steps: int = knob(40, "Optimizer steps (one batch of Q questions each).", "--steps")
    questions_per_step: int = knob(8, "Questions per step.", "--questions-per-step", "-Q")
    group_size: int = knob(8, "Responses per question (even for dual-mode).", "--group-size", "-G")
    mini_batch_size: int = knob(0, "Questions per optimizer step; 0 = all Q (one update per PPO epoch).")
    micro_batch_size: int = knob(64, "Sequences per forward pass (memory only; gradients are accumulated).")
    ppo_epochs: int = knob(1, "PPO passes over each step's rollouts.")
    # optimizer
    lr: float = knob(3e-6, "AdamW learning rate.", "--lr")
    weight_decay: float = knob(0.01, "AdamW weight decay.")
    grad_clip: float = knob(1.0, "Gradient-norm clip.")
    clip_eps: float = knob(0.2, "PPO ratio clip epsilon.")
    loss_agg: str = knob("token-mean", "Loss aggregation: " + " | ".join(LOSS_AGG_MODES) + ".")
    # sampling
    temperature: float = knob(1.0, "Rollout sampling temperature.", "--temperature")
    top_p: float = knob(1.0, "Rollout nucleus sampling (1 = off).")
    top_k: int = knob(-1, "Rollout top-k sampling (-1 or 0 = off).")
    max_new_tokens: int = knob(48, "Longest response (tokens).", "--max-new-tokens")
    # reward
    grader: str = knob(DEFAULT_GRADER, "Reward grader: combined (default: PRM800K-style path, then "
                       "math-verify), prm800k (the paper's reward) or math-verify.", "--grader")
    answer_region: str = knob(DEFAULT_ANSWER_REGION, "Where the rewarded answer is: after-think (default, the "
                              "paper's rule: no </think> = no reward), whole (the whole response) or auto "
                              "(after </think>, or the whole response when it has no <think> tag; for models "
                              "that do not think).", "--answer-region")
    # baselines verl runs itself (SPEC §6)
    entropy_coeff: float = knob(0.003, "Entropy regularization: weight of the entropy bonus.")
    clip_cov_ratio: float = knob(0.0002, "Clip-Cov: share of tokens whose gradient is cut.")
    clip_cov_lb: float = knob(1.0, "Clip-Cov: lower covariance bound.")
    clip_cov_ub: float = knob(5.0, "Clip-Cov: upper covariance bound.")
    # run
    seed: int = knob(0, "Seed of data order, sampling and initialisation.", "--seed")
    eval_every: int = knob(10, "Held-out evaluation every N steps (0 = only before and after training).")
    eval_size: int = knob(100, "Held-out questions (0 = no evaluation).")
    checkpoint_every: int = knob(0, "Checkpoint every N steps (0 = only at the end, and on Ctrl-C).")
    device: str = knob("auto", "auto (default: cuda when present) | cpu | cuda.", "--device")
    dtype: str = knob("float32", "Weight dtype: " + " | ".join(DTYPES) + ".")
    threads: int = knob(0, "CPU threads for torch (0 = torch's default, one per core).")
    logger: str = knob("", "Also log the metrics to: " + ", ".join(LOGGERS) + " (comma list; offline, "
                       "no account; metrics.jsonl is always written).", "--logger")

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
        if isinstance(value, list):  # a YAML list of names (logger)
            return ",".join(str(item) for item in value)
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
    """``configs/train/<algo>.yaml``; an unknown algorithm is a one-line error listing the built-in ones
    (checked against ``AlgorithmName``, so before torch loads)."""
    if algo not in set(AlgorithmName):
        raise UserError(f"unknown algorithm '{algo}': use one of {', '.join(AlgorithmName)}")
    return config_path(f"train/{algo}.yaml")


def run_config_path(config_file: str | Path | None) -> Path:
    """The run config: FILE, a shipped preset by name (``small-cpu``: configs/train/small-cpu.yaml), or the demo."""
    if config_file is None:
        return config_path(DEMO_CONFIG)
    path = Path(config_file)
    shipped = config_path(f"train/{config_file}.yaml")
    if not path.exists() and path.name == str(config_file) and shipped.is_file():
        return shipped
    if not path.is_file():
        presets = sorted({p.stem for p in config_path("train").glob("*.yaml")} - set(AlgorithmName))
        raise UserError(f"--config {config_file}: no such file (nor a shipped preset: {', '.join(presets)})")
    return path


def demo_settings() -> dict[str, Any]:
    """What the demo config sets (a plain ``polsplit train``'s values; --help shows them)."""
    return _read_yaml(config_path(DEMO_CONFIG))


def resolve_config(config_file: str | Path | None = None, flags: dict[str, Any] | None = None) -> TrainConfig:
    """The run's settings: defaults <- algorithm preset <- run config (demo, a shipped preset or FILE) <- flags."""
    flags = {key: value for key, value in (flags or {}).items() if value is not None}
    run_path = run_config_path(config_file)
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


def setting_name(key: str) -> str:
    """How the user names a setting: its long flag (``--lr``), else the key (``eval_every``)."""
    flags = _FIELDS[key].metadata.get("flags", ())
    return next((f.split("/")[0] for f in flags if f.startswith("--")), key)


# (setting, lowest value, whether the lowest is allowed); the checks say the valid range
_LOWER_BOUNDS = (
    *((name, 1, True) for name in ("steps", "questions_per_step", "ppo_epochs", "micro_batch_size", "max_new_tokens")),
    *((name, 0, True) for name in ("mini_batch_size", "eval_every", "eval_size", "checkpoint_every", "threads",
                                   "weight_decay")),
    *((name, 0, False) for name in ("lr", "temperature", "grad_clip", "clip_eps", "kappa", "entropy_adv_kappa")),
)
_RANGES = ("top_p", "forking_ratio", "clip_cov_ratio")  # shares: in (0, 1]


def validate(config: TrainConfig) -> None:
    """One-line errors, each with the valid range or choices, for settings the trainer cannot run with.

    Everything but the algorithm's own rules is checked without torch, so a mistake is reported at once.
    """
    for name, low, inclusive in _LOWER_BOUNDS:
        value = getattr(config, name)
        if not (value >= low if inclusive else value > low):
            raise UserError(f"{setting_name(name)} must be {'>=' if inclusive else '>'} {low}, got {value:g}")
    for name in _RANGES:
        if not 0 < getattr(config, name) <= 1:
            raise UserError(f"{setting_name(name)} must be in (0, 1], got {getattr(config, name):g}")
    if config.group_size < 2:
        raise UserError(f"--group-size must be >= 2 (GRPO compares responses within a group), got {config.group_size}")
    for name, allowed in (("loss_agg", LOSS_AGG_MODES), ("device", DEVICES), ("dtype", DTYPES),
                          ("clip_placement", CLIP_PLACEMENTS), ("estimator", ESTIMATORS), ("grader", GRADERS),
                          ("answer_region", ANSWER_REGIONS)):
        if getattr(config, name) not in allowed:
            raise UserError(f"{setting_name(name)} must be one of {', '.join(allowed)}, got {getattr(config, name)!r}")
    logger_names(config.logger)
    algorithm_preset(config.algo)
    if config.group_size % 2:  # only an odd group needs the registry, which loads torch
        from polsplit_cli.train.algorithms import get_algorithm

        if get_algorithm(config.algo).dual_mode:
            raise UserError(f"--group-size must be even for {config.algo} (G/2 rollouts per mode), "
                            f"got {config.group_size}")


def resume_config(saved: dict[str, Any], flags: dict[str, Any] | None = None) -> TrainConfig:
    """A resumed run's settings: those it started with (its manifest), then any flags given now."""
    flags = {key: value for key, value in (flags or {}).items() if value is not None}
    for key in ("algo", "answer_region"):  # what the run's rewards mean cannot change halfway
        before = saved.get(key, getattr(TrainConfig, key))
        if key in flags and flags[key] != before:
            raise UserError(f"--resume: the run was trained with {key}={before!r}, now {flags[key]!r}; "
                            f"{setting_name(key)} cannot change (start a new run with --out)")
    settings: dict[str, Any] = {}
    _apply(settings, saved, "manifest.json config")
    _apply(settings, flags, "command line")
    config = TrainConfig(**settings)
    validate(config)
    return config
