"""The method's knobs (SPEC §2-3, §6), shared by the local trainer's config and verl's ``policy_split:``.

Each knob is declared once, with ``knob()``: its default (the paper's value), its help text and,
for those set from the command line, its flag. The CLI options of ``polsplit train``, the knobs
it forwards to verl and the knob tables of docs/train.md (``knob_table``) are derived from these
declarations; Policy Split's own come from ``polsplit_cli.knobs.PolicySplitKnobs``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from polsplit_cli.knobs import PolicySplitKnobs, knob


class AlgorithmName(StrEnum):
    """The built-in algorithms (SPEC §6), registered in train/algorithms.py; a plug-in registers a plain
    string. Declared here, free of torch, so the CLI's help lists them without importing the registry."""

    GRPO = "grpo"
    GRPO_SHARING = "grpo-sharing"
    POLICY_SPLIT = "policy-split"
    FORKING_TOKENS = "forking-tokens"
    CLIP_COV = "clip-cov"
    ENTROPY_DRIVEN_ADVANTAGE = "entropy-driven-advantage"
    ENTROPY_REGULARIZATION = "entropy-regularization"
    ENTROPY_ADVANTAGE = "entropy-advantage"


DEFAULT_ALGORITHM = AlgorithmName.POLICY_SPLIT.value
ALGORITHM_HELP = ", ".join([f"{DEFAULT_ALGORITHM} (default)", *(n for n in AlgorithmName if n != DEFAULT_ALGORITHM)]) + "."


def policy_split_knob(name: str) -> Any:
    """The settings field of ``PolicySplitKnobs.<name>``: its default, help and flag."""
    declared = next(f for f in dataclasses.fields(PolicySplitKnobs) if f.name == name)
    return knob(declared.default, declared.metadata["help"], *declared.metadata["flags"])


def flagged(settings: type) -> list[dataclasses.Field]:
    """The fields of a settings dataclass that have a command-line flag, in declaration order."""
    return [f for f in dataclasses.fields(settings) if f.metadata.get("flags")]


def knob_table(settings: type) -> str:
    """The docs/train.md table of a settings dataclass: knob, default, meaning (its help text)."""
    rows = ["| knob | default | meaning |", "|---|---|---|"]
    for f in dataclasses.fields(settings):
        if "help" in f.metadata:
            meaning = f.metadata["help"].replace("|", "\\|")
            rows.append(f"| `{f.name}` | {f.default} | {meaning} |")
    return "\n".join(rows)


@dataclass
class MethodKnobs:
    he_mode: str = knob("high-entropy", "The HE system prompt: a built-in mode name or a text file.")
    sharing: bool = knob(True, "Train every response under both prompts.", "--sharing/--no-sharing")
    # Policy Split (SPEC §3)
    eta: float = policy_split_knob("eta")
    kappa: float = policy_split_knob("kappa")
    alpha: float = policy_split_knob("alpha")
    eta_normal: float = policy_split_knob("eta_normal")
    clip_placement: str = policy_split_knob("clip_placement")
    estimator: str = policy_split_knob("estimator")
    # baselines computed in the advantage step (SPEC §6)
    forking_ratio: float = knob(0.2, "Forking tokens: share of the highest-entropy tokens that carry the loss.")
    entropy_adv_alpha: float = knob(0.4, "Entropy advantage: weight alpha of the entropy term.")
    entropy_adv_kappa: float = knob(2.0, "Entropy advantage: the term is capped at abs(A)/kappa.")

    def policy_split_knobs(self) -> PolicySplitKnobs:
        """The Policy Split knobs, as algo.policy_split takes them."""
        return PolicySplitKnobs(**{f.name: getattr(self, f.name) for f in dataclasses.fields(PolicySplitKnobs)})


if __name__ == "__main__":  # regenerate docs/train.md's method-knob table
    print(knob_table(MethodKnobs))
