"""The entropy-promoting baselines of SPEC §6, as advantage transforms and loss masks.

Entropies are per-position, in nats, from the old policy (as verl stores them); nothing here has a gradient.
"""

from __future__ import annotations

import math

import torch

from polsplit_cli.algo._checks import (
    check_positive,
    check_ratio,
    check_same_shape,
    check_token_layout,
    float_dtype,
    masked_mean,
)


def _token_advantage(adv: torch.Tensor, mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """adv per sequence (mask.shape[:-1]) or per token (mask.shape), as a per-token view/tensor."""
    if adv.shape == mask.shape[:-1]:
        return adv.detach().to(dtype).unsqueeze(-1).expand(mask.shape)
    if adv.shape == mask.shape:
        return adv.detach().to(dtype)
    raise ValueError(
        f"adv has shape {tuple(adv.shape)}, expected {tuple(mask.shape[:-1])} or {tuple(mask.shape)} to match mask"
    )


@torch.no_grad()
def entropy_advantage(
    adv: torch.Tensor, entropy: torch.Tensor, mask: torch.Tensor, *, alpha: float = 0.4, kappa: float = 2.0
) -> torch.Tensor:
    """Cheng et al. (2025): A_t + min(alpha * H_t, |A_t| / kappa), per token, 0 where mask is 0.

    adv is per sequence (mask.shape[:-1], e.g. GRPO's [Q, G]) or per token; entropy has mask's shape.
    The term is non-negative (H >= 0), so it lifts positive advantages and softens negative ones.
    """
    check_positive("kappa", kappa)
    check_same_shape("mask", mask, entropy=entropy)
    dtype = float_dtype(adv, entropy)
    keep = mask != 0
    advantage = _token_advantage(adv, mask, dtype)
    entropy = torch.where(keep, entropy.detach().to(dtype), 0.0)
    bonus = torch.minimum(entropy * alpha, advantage.abs() / kappa)
    return torch.where(keep, advantage + bonus, 0.0)


@torch.no_grad()
def entropy_driven_advantage(
    adv: torch.Tensor, entropy: torch.Tensor, mask: torch.Tensor, *, eps: float = 1e-6
) -> torch.Tensor:
    """EDGE-GRPO's entropy-driven advantage: A_i * mean_j(P_j) / P_i, broadcast to tokens, [Q, G, T].

    P_i is the mean entropy of response i over its masked tokens; mean_j runs over the responses of the
    same question that have at least one token (the official code averages over the whole gathered batch
    and counts padding; this follows the paper's per-group formula). P_i is floored at eps.
    adv is [Q, G] or [Q, G, T]; entropy and mask are [Q, G, T].
    """
    check_token_layout(adv, mask, "adv")
    check_same_shape("mask", mask, entropy=entropy)
    dtype = float_dtype(adv, entropy)
    keep = mask != 0
    per_response = masked_mean(entropy.detach().to(dtype), keep, dim=2)  # [Q, G]
    has_tokens = keep.any(dim=2)
    group_mean = masked_mean(per_response, has_tokens, dim=1)  # [Q]
    scale = group_mean.unsqueeze(1) / per_response.clamp_min(eps)
    return torch.where(keep, _token_advantage(adv, mask, dtype) * scale.unsqueeze(2), 0.0)


def _top_count(n_tokens: int, top_ratio: float) -> int:
    """ceil(top_ratio * n), at least 1, ignoring float noise (0.2 * 15 = 3.0000000000000004 -> 3)."""
    return max(1, math.ceil(round(n_tokens * top_ratio, 6)))


@torch.no_grad()
def forking_token_mask(entropy: torch.Tensor, mask: torch.Tensor, *, top_ratio: float = 0.2) -> torch.Tensor:
    """Wang et al. (2025) forking tokens: keep the ceil(top_ratio * N) highest-entropy masked tokens.

    The ranking is over every masked token of the tensors passed (the whole batch, as the official
    `get_global_entropy_top_mask`), not per question. Returns a 0/1 mask in mask's dtype and shape; use it
    as the policy-loss mask. Ties at the cut are broken by torch.topk (arbitrary but exact in count).
    """
    check_ratio("top_ratio", top_ratio)
    check_same_shape("mask", mask, entropy=entropy)
    keep = (mask != 0).reshape(-1)
    n_tokens = int(keep.sum())
    selected = torch.zeros_like(keep)
    if n_tokens:
        ranked = torch.where(keep, entropy.detach().reshape(-1), float("-inf"))
        selected[torch.topk(ranked, _top_count(n_tokens, top_ratio), sorted=False).indices] = True
    return selected.reshape(mask.shape).to(mask.dtype)


@torch.no_grad()
def clip_cov_mask(
    adv: torch.Tensor,
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    mask: torch.Tensor,
    *,
    ratio: float = 0.0002,
    lb: float = 1.0,
    ub: float = 5.0,
    clip_eps: float = 0.2,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Clip-Cov (Cui et al. 2025, verl's `clip_cov` loss): the loss mask with a few tokens switched off.

    Over all masked tokens passed: Cov_t = (A_t - mean A)(logp_t - mean logp) with the CURRENT logp.
    Candidates: lb < Cov_t < ub and not already cut by the PPO clip (eps = clip_eps). max(1, floor(ratio*N))
    of them (N = masked tokens, at most all candidates) are drawn uniformly without replacement with
    `generator` and set to 0 in the returned mask (mask's dtype). verl multiplies the token losses by this
    mask and keeps its own denominator: pass `adv * returned_mask` to ppo_clip_loss to reproduce that
    exactly; passing it as the loss mask instead drops those few tokens from the token-mean denominator.
    """
    check_ratio("ratio", ratio)
    check_positive("clip_eps", clip_eps)
    check_same_shape("mask", mask, logp=logp, old_logp=old_logp)
    dtype = float_dtype(adv, logp, old_logp)
    keep = mask != 0
    advantage = torch.where(keep, _token_advantage(adv, mask, dtype), 0.0)
    logp = torch.where(keep, logp.detach().to(dtype), 0.0)
    old_logp = torch.where(keep, old_logp.detach().to(dtype), 0.0)

    importance = torch.exp(logp - old_logp)
    clipped = advantage * importance.clamp(1.0 - clip_eps, 1.0 + clip_eps) < advantage * importance
    cov = (advantage - masked_mean(advantage, keep)) * (logp - masked_mean(logp, keep))
    candidates = torch.nonzero((keep & ~clipped & (cov > lb) & (cov < ub)).reshape(-1)).squeeze(1)

    n_drop = min(max(1, int(ratio * int(keep.sum()))), candidates.numel())
    device = generator.device if generator is not None else candidates.device
    order = torch.randperm(candidates.numel(), generator=generator, device=device).to(candidates.device)
    out = keep.reshape(-1).clone()
    out[candidates[order[:n_drop]]] = False
    return out.reshape(mask.shape).to(mask.dtype)
