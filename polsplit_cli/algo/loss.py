"""PPO clipped policy loss and the entropy bonus, with verl's token-aggregation modes (SPEC §4)."""

from __future__ import annotations

import torch

from polsplit_cli.algo._checks import check_choice, check_positive, check_same_shape, masked_mean
from polsplit_cli.knobs import LOSS_AGG_MODES


def aggregate_tokens(values: torch.Tensor, keep: torch.Tensor, agg: str) -> torch.Tensor:
    """Reduce per-token values ([..., T], already 0 where keep is False) to a scalar, as verl's agg_loss.

    token-mean: sum / number of kept tokens. seq-mean-token-sum / seq-mean-token-mean: per-sequence sum or
    mean over the last axis, then the mean over sequences with at least one kept token. Empty input -> 0.
    """
    check_choice("agg", agg, LOSS_AGG_MODES)
    if agg == "token-mean":
        return values.sum() / keep.sum().clamp_min(1).to(values.dtype)
    per_sequence = values.sum(dim=-1)
    if agg == "seq-mean-token-mean":
        per_sequence = per_sequence / keep.sum(dim=-1).clamp_min(1).to(values.dtype)
    return masked_mean(per_sequence, keep.any(dim=-1))


def ppo_clip_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    adv: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_eps: float = 0.2,
    agg: str = "token-mean",
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """PPO clipped surrogate, negated (to minimize): max(-A*rho, -A*clip(rho, 1-eps, 1+eps)), aggregated.

    logp (with grad), old_logp and mask are [..., T]; adv is per token ([..., T]) or per sequence ([...]).
    Padding values (even inf/NaN) never reach the loss or its gradient. stats (detached 0-dim tensors):
    clip_fraction = share of masked tokens where the clipped branch is taken (verl's pg_clipfrac);
    approx_kl = masked mean of old_logp - logp (the k1 estimator of KL(old || new), verl's ppo_kl).
    No dual-clip (verl's vanilla loss adds one, clip_ratio_c = 3, for A < 0 and ratio > 3).
    """
    check_positive("clip_eps", clip_eps)
    check_same_shape("mask", mask, logp=logp, old_logp=old_logp)
    keep = mask != 0
    if adv.shape == mask.shape[:-1]:
        adv = adv.unsqueeze(-1)
    elif adv.shape != mask.shape:
        raise ValueError(
            f"adv has shape {tuple(adv.shape)}, expected {tuple(mask.shape)} or {tuple(mask.shape[:-1])}"
        )
    # torch.where on the inputs (not on the product) keeps inf/NaN padding out of the backward pass too.
    # The log-ratio is clamped to +-20 before exp, as in verl, so one wild token cannot overflow the loss.
    log_ratio = (torch.where(keep, logp, 0.0) - torch.where(keep, old_logp.detach(), 0.0)).clamp(-20.0, 20.0)
    advantage = torch.where(keep, adv.detach(), 0.0)
    ratio = torch.exp(log_ratio)
    unclipped = -advantage * ratio
    clipped = -advantage * ratio.clamp(1.0 - clip_eps, 1.0 + clip_eps)
    loss = aggregate_tokens(torch.maximum(unclipped, clipped), keep, agg)
    with torch.no_grad():
        stats = {
            "clip_fraction": masked_mean((clipped > unclipped).to(log_ratio.dtype), keep),
            "approx_kl": masked_mean(-log_ratio, keep),
        }
    return loss, stats


def entropy_regularization_loss(
    entropy: torch.Tensor, mask: torch.Tensor, *, coeff: float = 0.003, agg: str = "token-mean"
) -> torch.Tensor:
    """The entropy-bonus term to ADD to the loss: -coeff * (aggregated entropy of the current policy)."""
    check_same_shape("mask", mask, entropy=entropy)
    keep = mask != 0
    return -coeff * aggregate_tokens(torch.where(keep, entropy, 0.0), keep, agg)
