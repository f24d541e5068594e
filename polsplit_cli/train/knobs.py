"""The method's knobs (SPEC §2-3, §6), shared by the local trainer's config and verl's ``policy_split:``.

Both backends read these names and defaults (the paper's values) from one place; each adds its
own run settings around them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class MethodKnobs:
    he_mode: str = "high-entropy"  # the HE system prompt: a built-in mode name or a text file
    sharing: bool = True  # train every response under both prompts (paper Eq. 10)
    # Policy Split (SPEC §3)
    eta: float = 0.03
    kappa: float = 2.0
    alpha: float = 0.5
    eta_normal: float = 0.0
    clip_placement: str = "inside"
    estimator: str = "logprob"
    # baselines computed in the advantage step (SPEC §6)
    forking_ratio: float = 0.2
    entropy_adv_alpha: float = 0.4
    entropy_adv_kappa: float = 2.0

    def policy_split_kwargs(self) -> dict:
        """The Policy Split knobs as keyword arguments of algo.policy_split_advantages and friends."""
        return dict(
            eta=self.eta,
            kappa=self.kappa,
            alpha=self.alpha,
            eta_normal=self.eta_normal,
            clip_placement=self.clip_placement,
            estimator=self.estimator,
        )
