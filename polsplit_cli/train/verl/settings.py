"""The top-level ``policy_split:`` config section, read once into a dataclass.

It lives outside ``algorithm:`` because verl's ``AlgoConfig`` rejects unknown keys.
``algorithm`` names an algorithm of the one registry (``train/algorithms.py``): verl's stock
trainer runs the ``verl_builtin`` ones, the ``polsplit`` trainer calls the advantage hooks of the
others; ``dual`` algorithms use the dual-mode agent loop (G/2 normal + G/2 HE rollouts, each
response stored under both prompts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from polsplit_cli.errors import UserError
from polsplit_cli.train.algorithms import Algorithm, get_algorithm
from polsplit_cli.train.knobs import DEFAULT_ALGORITHM, MethodKnobs


@dataclass
class PolicySplitSettings(MethodKnobs):
    algorithm: str = DEFAULT_ALGORITHM

    def __post_init__(self) -> None:
        self.registered: Algorithm = get_algorithm(self.algorithm, key="policy_split.algorithm")

    @property
    def uses_polsplit_trainer(self) -> bool:
        return not self.registered.verl_builtin

    @property
    def dual(self) -> bool:
        """True when every question has G/2 normal + G/2 HE rollouts stored under both prompts."""
        return self.registered.dual_mode

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
