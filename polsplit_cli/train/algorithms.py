"""The algorithms of SPEC §6 by name: which rollouts they sample, their advantages and loss.

The one registry both backends read, as verl's ``register_adv_est``: ``@register(name)`` on a
subclass of ``Algorithm`` (a name registered twice is an error; ``AlgorithmName`` names the
built-ins). Every number comes from ``polsplit_cli.algo``; this file only says which function
each algorithm calls and how its training copies are laid out. The local trainer calls every
hook; verl's ``polsplit`` trainer calls the advantage hooks (``token_advantages``,
``loss_mask``) on the same ``OldPolicy`` tensors, and verl's stock trainer runs the algorithms
registered with ``verl_builtin=True`` itself (their verl preset sets verl's own knobs).
Dual-mode algorithms (policy-split, grpo-sharing) sample G/2 responses per mode and train
copies under both prompts (with sharing) or under the generating prompt (without); the
baselines sample all G responses in normal mode, as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from polsplit_cli import algo
from polsplit_cli.algo import HIGH_ENTROPY, NORMAL, RolloutLayout
from polsplit_cli.errors import UserError
from polsplit_cli.train.knobs import AlgorithmName, MethodKnobs

ALGORITHMS: dict[str, type[Algorithm]] = {}


def register(name: str, *, verl_builtin: bool = False):
    """Class decorator: make the algorithm selectable as ``--algo name`` / ``policy_split.algorithm``.

    ``verl_builtin``: verl's stock trainer runs it (GRPO plus one of verl's own loss knobs), so
    its verl preset sets ``trainer.v1.trainer_mode=sync``; otherwise the ``polsplit`` trainer runs
    this class's advantage hooks.
    """
    name = str(name)
    if name in ALGORITHMS:
        raise ValueError(f"algorithm '{name}' is registered twice")

    def wrap(cls: type[Algorithm]) -> type[Algorithm]:
        cls.name, cls.verl_builtin = name, verl_builtin
        ALGORITHMS[name] = cls
        return cls

    return wrap


def get_algorithm(name: str, *, key: str = "algorithm") -> Algorithm:
    """The algorithm registered as ``name``; else the one-line error, naming the setting (``key``)."""
    if name not in ALGORITHMS:
        raise UserError(f"unknown {key} '{name}': use one of {', '.join(ALGORITHMS)}")
    return ALGORITHMS[name]()


@dataclass
class OldPolicy:
    """What the rollout and the old-policy pass produced for one step ([Q, G] and [Q, G, T]).

    logp / entropy are indexed by prompt mode (NORMAL, and HIGH_ENTROPY for dual-mode
    algorithms): the values of the same response tokens under that prompt. ``entropy`` is in
    nats at the sampling temperature (what the entropy baselines and verl use).
    """

    rewards: torch.Tensor
    mask: torch.Tensor
    logp: dict[int, torch.Tensor]
    entropy: dict[int, torch.Tensor]


@dataclass
class Copies:
    """Per training copy [Q, C, T]: advantage, loss mask and old log-prob; plus step statistics."""

    adv: torch.Tensor
    mask: torch.Tensor
    old_logp: torch.Tensor
    stats: dict[str, float]


class Algorithm:
    """GRPO; subclasses change the rollouts, the advantage or the loss."""

    name: str  # set by register
    verl_builtin: bool  # set by register
    dual_mode = False  # G/2 rollouts per prompt mode, every response scored under both prompts
    needs_entropy_grad = False  # the loss uses the current policy's entropy

    def layout(self, group_size: int, *, sharing: bool) -> RolloutLayout:
        """Training copies of one question. Single-mode: response i under the normal prompt."""
        if self.dual_mode:
            return algo.rollout_layout(group_size, sharing=sharing)
        responses = torch.arange(group_size)
        normal = torch.full_like(responses, NORMAL)
        return RolloutLayout(group_size, False, responses, normal, normal)

    def token_advantages(self, old: OldPolicy, knobs: MethodKnobs) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """(adv_normal, adv_he) per response [Q, G, T], and statistics. Default: GRPO for both."""
        adv = algo.grpo_advantages(old.rewards)[:, :, None].expand_as(old.mask) * old.mask
        return adv, adv, {}

    def loss_mask(self, old: OldPolicy, knobs: MethodKnobs) -> torch.Tensor:
        """Which response tokens carry policy loss ([Q, G, T]); default all of them."""
        return old.mask

    def copies(self, old: OldPolicy, config) -> Copies:
        """The local trainer's training copies of a step (verl stores both copies as rows itself)."""
        layout = self.layout(config.group_size, sharing=config.sharing)
        adv_normal, adv_he, stats = self.token_advantages(old, config)
        mask = self.loss_mask(old, config)
        old_he = old.logp.get(HIGH_ENTROPY, old.logp[NORMAL])
        return Copies(
            adv=layout.copy_values(adv_normal, adv_he),
            mask=layout.copy_values(mask, mask),
            old_logp=layout.copy_values(old.logp[NORMAL], old_he),
            stats=stats,
        )

    def loss(self, logp, old_logp, adv, mask, entropy, config, generator) -> tuple[torch.Tensor, dict]:
        """PPO clipped loss of a micro-batch ([n, T] tensors); entropy only if needs_entropy_grad."""
        return algo.ppo_clip_loss(logp, old_logp, adv, mask, clip_eps=config.clip_eps, agg=config.loss_agg)


register(AlgorithmName.GRPO, verl_builtin=True)(Algorithm)


@register(AlgorithmName.GRPO_SHARING)
class GRPOSharing(Algorithm):
    """Dual-mode rollouts and sharing, plain GRPO advantage on both copies (paper Table 4)."""

    dual_mode = True


@register(AlgorithmName.POLICY_SPLIT)
class PolicySplit(Algorithm):
    """Dual-mode rollouts; HE copies get the dual-mode entropy term (SPEC §3)."""

    dual_mode = True

    def token_advantages(self, old, knobs):
        adv_normal, adv_he, clipped = algo.policy_split(
            old.rewards, old.logp[NORMAL], old.logp[HIGH_ENTROPY], old.mask, knobs.policy_split_knobs(),
            entropy_normal=old.entropy[NORMAL], entropy_he=old.entropy[HIGH_ENTROPY],
        )
        return adv_normal, adv_he, {"adv/entropy_term_clip_fraction": float(clipped)}


@register(AlgorithmName.FORKING_TOKENS)
class ForkingTokens(Algorithm):
    """Policy loss only on the highest-entropy response tokens (Wang et al. 2025)."""

    def loss_mask(self, old, knobs):
        return algo.forking_token_mask(old.entropy[NORMAL], old.mask, top_ratio=knobs.forking_ratio)


@register(AlgorithmName.CLIP_COV, verl_builtin=True)
class ClipCov(Algorithm):
    """Zero the gradient of a few high-covariance tokens (Cui et al. 2025), as verl's clip_cov loss."""

    def loss(self, logp, old_logp, adv, mask, entropy, config, generator):
        keep = algo.clip_cov_mask(adv, logp, old_logp, mask, ratio=config.clip_cov_ratio, lb=config.clip_cov_lb,
                                  ub=config.clip_cov_ub, clip_eps=config.clip_eps, generator=generator)
        # verl multiplies the token losses by the mask and keeps the response-mask denominator
        return algo.ppo_clip_loss(logp, old_logp, adv * keep, mask, clip_eps=config.clip_eps, agg=config.loss_agg)


@register(AlgorithmName.ENTROPY_DRIVEN_ADVANTAGE)
class EntropyDrivenAdvantage(Algorithm):
    """EDGE-GRPO: A_i * mean_j(P_j) / P_i with P the mean token entropy of a response."""

    def token_advantages(self, old, knobs):
        adv = algo.entropy_driven_advantage(algo.grpo_advantages(old.rewards), old.entropy[NORMAL], old.mask)
        return adv, adv, {}


@register(AlgorithmName.ENTROPY_REGULARIZATION, verl_builtin=True)
class EntropyRegularization(Algorithm):
    """GRPO loss minus entropy_coeff times the current policy's mean token entropy."""

    needs_entropy_grad = True

    def loss(self, logp, old_logp, adv, mask, entropy, config, generator):
        loss, stats = super().loss(logp, old_logp, adv, mask, entropy, config, generator)
        bonus = algo.entropy_regularization_loss(entropy, mask, coeff=config.entropy_coeff, agg=config.loss_agg)
        return loss + bonus, stats


@register(AlgorithmName.ENTROPY_ADVANTAGE)
class EntropyAdvantage(Algorithm):
    """A_t + min(alpha * H_t, |A_t| / kappa) (Cheng et al. 2025)."""

    def token_advantages(self, old, knobs):
        adv = algo.entropy_advantage(algo.grpo_advantages(old.rewards), old.entropy[NORMAL], old.mask,
                                     alpha=knobs.entropy_adv_alpha, kappa=knobs.entropy_adv_kappa)
        return adv, adv, {}
