"""How a setting is declared once (``knob``), and Policy Split's hyper-parameters (SPEC §3).

Free of torch and of the rest of the project, so ``algo`` (the math) and ``train`` (the settings,
the CLI) both read the same declaration: ``algo.policy_split_advantages`` takes its defaults from
``PolicySplitKnobs`` and ``train.knobs.MethodKnobs`` its defaults, help texts and flags.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

# the allowed values of the choice knobs, here so the settings are checked before torch loads
CLIP_PLACEMENTS = ("inside", "outside")
ESTIMATORS = ("logprob", "entropy")
LOSS_AGG_MODES = ("token-mean", "seq-mean-token-sum", "seq-mean-token-mean")


def knob(default: Any, help: str, *flags: str) -> Any:
    """A settings field: ``default``, ``help`` (CLI help and docs) and its CLI ``flags`` (none: YAML and
    ``key=value`` only)."""
    return dataclasses.field(default=default, metadata={"help": help, "flags": flags})


@dataclass(frozen=True)
class PolicySplitKnobs:
    """Policy Split's hyper-parameters with the paper's values (Table 8): their one declaration."""

    eta: float = knob(0.03, "Policy Split: weight of the dual-mode entropy term.", "--eta")
    kappa: float = knob(2.0, "Policy Split: the term is clipped to ±|A|/kappa.", "--kappa")
    alpha: float = knob(0.5, "Policy Split: entropy (1) vs inter-mode KL (0) mix.", "--alpha")
    eta_normal: float = knob(0.0, "Policy Split: the same term on normal copies.", "--eta-normal")
    clip_placement: str = knob("inside", "inside (released trainer) | outside (Eq. 3).", "--clip-placement")
    estimator: str = knob("logprob", "logprob (surprisal) | entropy (full distribution).", "--estimator")
