"""The per-mode training metrics (docs/formats.md): the one definition both trainers report.

Rows are responses ([R] and [R, T]), each tagged with the prompt mode that generated it. The local
trainer writes these to ``metrics.jsonl``; verl's ``polsplit`` trainer reports them under
``policy_split/``.
"""

from __future__ import annotations

import math

import torch

from polsplit_cli.algo.entropy import to_bits
from polsplit_cli.algo.layout import HIGH_ENTROPY, NORMAL, PromptMode

MODE_METRICS = ("reward", "accuracy", "response_length", "entropy_bits")


def finite_mean(values: torch.Tensor, keep: torch.Tensor) -> float | None:
    """Mean of ``values`` where ``keep`` (in float64); None when nothing is kept or it is not finite."""
    if int(keep.sum()) == 0:
        return None
    value = float(values[keep.bool()].double().mean())
    return value if math.isfinite(value) else None


def bits_or_none(value: float | None) -> float | None:
    return None if value is None else float(to_bits(value))


@torch.no_grad()
def mode_metrics(
    rewards: torch.Tensor,
    mask: torch.Tensor,
    own_entropy: torch.Tensor,
    gen_mode: torch.Tensor,
    kl_own_other: torch.Tensor | None = None,
) -> dict[str, float | None]:
    """Per generating mode (``normal/``, ``he/``): mean reward, accuracy (share of responses with reward
    1.0, a correct grade), response length (tokens) and token-mean entropy in bits under the response's
    own prompt; ``kl/forward_bits`` and ``kl/reverse_bits``: token means of the per-token
    KL(own prompt || other prompt) over the HE-mode and the normal-mode responses.

    rewards [R]; mask, own_entropy (nats) and kl_own_other (nats, None for single-mode runs) [R, T];
    gen_mode [R]. A mode without responses (or tokens) gets None.
    """
    out: dict[str, float | None] = {}
    for mode in PromptMode:
        rows = gen_mode == mode
        key = mode.metric_key
        if not bool(rows.any()):
            out.update({f"{key}/{name}": None for name in MODE_METRICS})
            continue
        out[f"{key}/reward"] = float(rewards[rows].mean())
        out[f"{key}/accuracy"] = float((rewards[rows] == 1.0).float().mean())
        out[f"{key}/response_length"] = float(mask[rows].sum(-1).mean())
        out[f"{key}/entropy_bits"] = bits_or_none(finite_mean(own_entropy, mask * rows[:, None]))
    for name, mode in (("forward", HIGH_ENTROPY), ("reverse", NORMAL)):
        out[f"kl/{name}_bits"] = (None if kl_own_other is None else
                                  bits_or_none(finite_mean(kl_own_other, mask * (gen_mode == mode)[:, None])))
    return out
