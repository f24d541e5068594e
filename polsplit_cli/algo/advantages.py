"""GRPO and Policy Split advantages (SPEC §3), vectorized over [Q, G] rewards and [Q, G, T] tokens.

Everything here is computed from old-policy values and carries no gradient.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import torch

from polsplit_cli.algo._checks import (
    check_choice,
    check_positive,
    check_same_shape,
    check_token_layout,
    float_dtype,
)
from polsplit_cli.knobs import CLIP_PLACEMENTS, ESTIMATORS, PolicySplitKnobs


@torch.no_grad()
def grpo_advantages(rewards: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Group-normalized advantage (r - mean) / (std + eps) per question; rewards [Q, G] -> [Q, G].

    std is unbiased (torch.std), as in verl's GRPO. A group whose rewards are all equal gets exactly 0
    (no float round-off from the mean). A single-sample group (G == 1) follows verl: mean 0 and std 1,
    so the advantage is r / (1 + eps).
    """
    if rewards.dim() != 2:
        raise ValueError(f"rewards must be [Q, G], got shape {tuple(rewards.shape)}")
    rewards = rewards.detach().to(float_dtype(rewards))
    if rewards.shape[1] == 1:
        return rewards / (1.0 + eps)
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    scale = (rewards.std(dim=1, keepdim=True) + eps).clamp_min(torch.finfo(rewards.dtype).tiny)
    all_equal = (rewards.amax(dim=1) == rewards.amin(dim=1)).unsqueeze(1)
    return torch.where(all_equal, torch.zeros_like(centred), centred / scale)


# On CPU the work runs over blocks of whole questions of about this many positions, so each elementwise
# pass stays in cache and temporaries stay small (benchmarks/advantages.py times it against one block;
# about 2-3x faster at Q=256, G=8, T=4096). On GPUs one block holds everything.
CPU_BLOCK_POSITIONS = 1 << 18


def _question_blocks(mask: torch.Tensor):
    n_questions, group_size, length = mask.shape
    step = n_questions
    if mask.device.type == "cpu":
        step = max(1, CPU_BLOCK_POSITIONS // max(1, group_size * length))
    for start in range(0, n_questions, step):
        yield slice(start, start + step)


class _Sources(NamedTuple):
    """What b is mixed from: per-token values of both modes, the sign making them surprisals, the dtype."""

    normal: torch.Tensor
    high_entropy: torch.Tensor
    sign: float
    dtype: torch.dtype


def _checked_sources(
    rewards: torch.Tensor,
    logp_normal: torch.Tensor,
    logp_he: torch.Tensor,
    mask: torch.Tensor,
    *,
    kappa: float,
    clip_placement: str,
    estimator: str,
    entropy_normal: torch.Tensor | None,
    entropy_he: torch.Tensor | None,
) -> _Sources:
    check_positive("kappa", kappa)
    check_choice("clip_placement", clip_placement, CLIP_PLACEMENTS)
    check_choice("estimator", estimator, ESTIMATORS)
    if rewards.dim() != 2:
        raise ValueError(f"rewards must be [Q, G], got shape {tuple(rewards.shape)}")
    check_token_layout(rewards, mask, "rewards")
    check_same_shape("mask", mask, logp_normal=logp_normal, logp_he=logp_he)
    if estimator == "entropy":
        if entropy_normal is None or entropy_he is None:
            raise ValueError('estimator="entropy" needs both entropy_normal and entropy_he ([Q, G, T])')
        check_same_shape("mask", mask, entropy_normal=entropy_normal, entropy_he=entropy_he)
        normal, high_entropy, sign = entropy_normal, entropy_he, 1.0
    else:
        normal, high_entropy, sign = logp_normal, logp_he, -1.0
    return _Sources(normal.detach(), high_entropy.detach(), sign, float_dtype(rewards, normal, high_entropy))


def _standardized_bonus(
    normal: torch.Tensor,
    high_entropy: torch.Tensor,
    keep: torch.Tensor,
    *,
    alpha: float,
    sign: float,
    eps: float,
    dtype: torch.dtype,
) -> torch.Tensor:
    """B for a block of questions [q, G, T]: b = sign * (alpha * he + (1 - alpha) * normal), standardized
    over every kept token of each question (all G responses; unbiased std + eps). Garbage where not kept."""
    drop = ~keep
    # lerp(normal, he, alpha) = alpha*he + (1-alpha)*normal; padding may hold inf/NaN: fill before reducing
    b = torch.lerp(normal.to(dtype), high_entropy.to(dtype), alpha).masked_fill_(drop, 0.0)
    count = keep.sum(dim=(1, 2)).to(dtype)
    b.sub_((b.sum(dim=(1, 2)) / count.clamp_min(1))[:, None, None]).masked_fill_(drop, 0.0)
    std = torch.linalg.vector_norm(b, dim=(1, 2)) / (count - 1).clamp_min(1).sqrt()
    return b.mul_((sign / (std + eps).clamp_min(torch.finfo(dtype).tiny))[:, None, None])


def _bonus_blocks(
    sources: _Sources, rewards: torch.Tensor, mask: torch.Tensor, *, kappa: float, alpha: float, eps: float
) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per block of questions: (block, keep [q,G,T], A [q,G,1], bound |A|/kappa [q,G,1], B [q,G,T])."""
    advantage = grpo_advantages(rewards, eps=eps).to(sources.dtype).unsqueeze(2)
    for block in _question_blocks(mask):
        keep = mask[block] != 0
        bonus = _standardized_bonus(
            sources.normal[block],
            sources.high_entropy[block],
            keep,
            alpha=alpha,
            sign=sources.sign,
            eps=eps,
            dtype=sources.dtype,
        )
        yield block, keep, advantage[block], advantage[block].abs() / kappa, bonus


def _clipped_term(
    bonus: torch.Tensor, coeff: float, bound: torch.Tensor, clip_placement: str
) -> torch.Tensor:
    """clip(coeff * B, ±bound) ("inside", released trainer) or coeff * clip(B, ±bound) ("outside", Eq. 3)."""
    if clip_placement == "inside":
        return bonus.mul(coeff).clamp_(min=-bound, max=bound)
    return torch.clamp(bonus, min=-bound, max=bound).mul_(coeff)


class PolicySplitResult(NamedTuple):
    adv_normal: torch.Tensor  # [Q, G, T]
    adv_he: torch.Tensor  # [Q, G, T]
    clip_fraction: torch.Tensor  # 0-dim: share of masked HE tokens whose entropy term hit the bound


@torch.no_grad()
def policy_split(
    rewards: torch.Tensor,
    logp_normal: torch.Tensor,
    logp_he: torch.Tensor,
    mask: torch.Tensor,
    knobs: PolicySplitKnobs = PolicySplitKnobs(),
    *,
    entropy_normal: torch.Tensor | None = None,
    entropy_he: torch.Tensor | None = None,
    eps: float = 1e-6,
) -> PolicySplitResult:
    """Policy Split's token advantages and clip fraction (SPEC §3) in one pass: the one implementation.

    rewards [Q, G]; logp_normal / logp_he [Q, G, T]: old-policy log-probs of the SAME response tokens under
    the normal and the HE prompt. adv_he = A + clip(eta * B, ±|A|/kappa); adv_normal = A, plus the same kind
    of term with eta_normal when it is non-zero; both 0 where mask is 0. estimator="entropy" uses
    entropy_normal / entropy_he (full-distribution entropy per position, nats) in place of -logp.
    clip_fraction counts a masked HE token when its unclipped value (eta*B inside, B outside) lies strictly
    beyond the bound, so tokens of all-equal-reward groups (bound 0) count whenever B != 0.
    """
    eta, kappa, alpha, eta_normal, clip_placement = (
        knobs.eta, knobs.kappa, knobs.alpha, knobs.eta_normal, knobs.clip_placement
    )
    sources = _checked_sources(
        rewards,
        logp_normal,
        logp_he,
        mask,
        kappa=kappa,
        clip_placement=clip_placement,
        estimator=knobs.estimator,
        entropy_normal=entropy_normal,
        entropy_he=entropy_he,
    )
    adv_normal = torch.empty(mask.shape, dtype=sources.dtype, device=mask.device)
    adv_he = torch.empty_like(adv_normal)
    zero = adv_he.new_zeros(())
    hits = torch.zeros((), dtype=sources.dtype, device=mask.device)
    for block, keep, base, bound, bonus in _bonus_blocks(
        sources, rewards, mask, kappa=kappa, alpha=alpha, eps=eps
    ):
        normal = base + _clipped_term(bonus, eta_normal, bound, clip_placement) if eta_normal != 0.0 else base
        torch.where(keep, normal, zero, out=adv_normal[block])
        torch.where(
            keep, _clipped_term(bonus, eta, bound, clip_placement).add_(base), zero, out=adv_he[block]
        )
        # bonus is not used again in this block, so the "inside" product may overwrite it
        unclipped = bonus.mul_(eta) if clip_placement == "inside" else bonus
        hits += ((unclipped.abs() > bound) & keep).sum()
    return PolicySplitResult(adv_normal, adv_he, hits / (mask != 0).sum().clamp_min(1).to(sources.dtype))


def policy_split_advantages(
    rewards: torch.Tensor,
    logp_normal: torch.Tensor,
    logp_he: torch.Tensor,
    mask: torch.Tensor,
    *,
    entropy_normal: torch.Tensor | None = None,
    entropy_he: torch.Tensor | None = None,
    eps: float = 1e-6,
    **knobs: float | str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(adv_normal, adv_he) of ``policy_split``; ``knobs`` are PolicySplitKnobs' fields as keywords
    (eta, kappa, alpha, eta_normal, clip_placement, estimator), unset ones at the paper's defaults."""
    result = policy_split(rewards, logp_normal, logp_he, mask, PolicySplitKnobs(**knobs),
                          entropy_normal=entropy_normal, entropy_he=entropy_he, eps=eps)
    return result.adv_normal, result.adv_he


def policy_split_clip_fraction(
    rewards: torch.Tensor,
    logp_normal: torch.Tensor,
    logp_he: torch.Tensor,
    mask: torch.Tensor,
    *,
    entropy_normal: torch.Tensor | None = None,
    entropy_he: torch.Tensor | None = None,
    eps: float = 1e-6,
    **knobs: float | str,
) -> torch.Tensor:
    """The clip fraction of ``policy_split`` (keywords as policy_split_advantages; eta_normal does not
    enter the HE share)."""
    return policy_split(rewards, logp_normal, logp_he, mask, PolicySplitKnobs(**knobs),
                        entropy_normal=entropy_normal, entropy_he=entropy_he, eps=eps).clip_fraction
