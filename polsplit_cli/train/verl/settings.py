"""The top-level ``policy_split:`` config section, read once into a dataclass.

It lives outside ``algorithm:`` because verl's ``AlgoConfig`` rejects unknown keys.
``algorithm`` names which advantage step the ``polsplit`` trainer runs (SPEC §6);
``dual`` algorithms use the dual-mode agent loop (G/2 normal + G/2 HE rollouts, each
response stored under both prompts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from polsplit_cli.errors import UserError
from polsplit_cli.train.knobs import MethodKnobs

# SPEC §6. verl runs the first three itself (stock ``sync`` trainer: GRPO, ``loss_mode=clip_cov``,
# ``entropy_coeff``); the polsplit trainer computes the advantage step of the others.
VERL_BUILTIN = ("grpo", "clip-cov", "entropy-regularization")
SINGLE_MODE = ("forking-tokens", "entropy-driven-advantage", "entropy-advantage")
DUAL_MODE = ("grpo-sharing", "policy-split")
ALGORITHMS = VERL_BUILTIN + SINGLE_MODE + DUAL_MODE


@dataclass
class PolicySplitSettings(MethodKnobs):
    algorithm: str = "policy-split"

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise UserError(f"unknown policy_split.algorithm '{self.algorithm}': use one of {', '.join(ALGORITHMS)}")

    @property
    def uses_polsplit_trainer(self) -> bool:
        return self.algorithm in SINGLE_MODE + DUAL_MODE

    @property
    def dual(self) -> bool:
        """True when every question has G/2 normal + G/2 HE rollouts stored under both prompts."""
        return self.algorithm in DUAL_MODE

    @classmethod
    def from_config(cls, config: Any) -> PolicySplitSettings:
        """Read ``config.policy_split`` (a DictConfig or mapping); unknown keys are a user error."""
        section = config.get("policy_split") if isinstance(config, Mapping) or hasattr(config, "get") else None
        values = dict(section or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(f"unknown key(s) in policy_split: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**values)
