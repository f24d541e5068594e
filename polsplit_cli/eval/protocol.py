"""The evaluation protocol (SPEC §7): what is sampled and measured, checked whenever one is built.

Layers, later winning: the paper preset ``configs/eval/paper.yaml`` -> a ``--config FILE`` with
the same keys -> command-line flags. ``EvalProtocol`` declares the keys and their types once;
``load_protocol`` type-checks the YAML layers against them and ``EvalProtocol`` checks ranges.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polsplit_cli.errors import UserError
from polsplit_cli.eval.backends.base import SamplingConfig
from polsplit_cli.resources import config_path

PRESET = "eval/paper.yaml"


@dataclass(frozen=True, kw_only=True)
class EvalProtocol:
    """The protocol keys of ``configs/eval/paper.yaml`` (the defaults) and ``--config`` files."""

    benchmarks: list[str]  # registered names, or 'paper'
    modes: list[str]  # mode names, mode files, or 'all'
    n: int  # samples per problem
    limit: int | None = None  # only the first N problems of each benchmark
    temperature: float
    top_k: int
    top_p: float
    max_new_tokens: int
    seed: int

    def __post_init__(self) -> None:
        for name in ("temperature", "top_p"):  # YAML and Python write 1 for 1.0; the manifest records floats
            object.__setattr__(self, name, float(getattr(self, name)))
        checks = {"n": (self.n >= 1, ">= 1"), "temperature": (self.temperature >= 0, ">= 0"),
                  "top_k": (self.top_k >= 0, ">= 0 (0 = off)"), "top_p": (0 < self.top_p <= 1, "in (0, 1]"),
                  "max_new_tokens": (self.max_new_tokens >= 1, ">= 1"),
                  "limit": (self.limit is None or self.limit >= 1, ">= 1")}
        for name, (ok, valid) in checks.items():
            if not ok:
                raise UserError(f"--{name.replace('_', '-')} must be {valid}, got {getattr(self, name)}")

    @property
    def sampling(self) -> SamplingConfig:
        return SamplingConfig(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p,
                              max_new_tokens=self.max_new_tokens, seed=self.seed)


def _base_type(hint: Any) -> type:
    """list[str] -> list, int | None -> int."""
    origin = typing.get_origin(hint)
    if origin is list:
        return list
    return next((t for t in typing.get_args(hint) if t is not type(None)), hint)


PROTOCOL_KEYS = {name: _base_type(hint) for name, hint in typing.get_type_hints(EvalProtocol).items()}


def load_protocol(config: Path | None) -> dict[str, Any]:
    """The paper preset, updated by a user YAML file (same keys), type-checked; ranges are checked by
    ``EvalProtocol``."""
    import yaml

    protocol = yaml.safe_load(config_path(PRESET).read_text(encoding="utf-8"))
    if config is not None:
        try:
            user = yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise UserError(f"cannot read eval config {config}: {' '.join(str(error).split())[:200]}") from error
        if not isinstance(user, dict):
            raise UserError(f"{config}: expected a mapping of {', '.join(PROTOCOL_KEYS)}")
        for key, value in user.items():
            expected = PROTOCOL_KEYS.get(key)
            if expected is None:
                raise UserError(f"{config}: unknown key '{key}' (known: {', '.join(PROTOCOL_KEYS)})")
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if isinstance(value, bool) or not isinstance(value, expected):
                raise UserError(f"{config}: '{key}' should be of type {expected.__name__}, got {value!r}")
            protocol[key] = value
    return protocol


def resolve_protocol(config: Path | None, flags: dict[str, Any]) -> EvalProtocol:
    """Preset <- ``config`` <- the flags that were given (None = not given)."""
    layers = load_protocol(config)
    layers.update({key: value for key, value in flags.items() if value is not None})
    return EvalProtocol(**layers)
