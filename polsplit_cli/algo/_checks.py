"""Input checks and masked reductions shared by the algo modules."""

from __future__ import annotations

import torch

from polsplit_cli.errors import UserError


class AlgoConfigError(UserError, ValueError):
    """A bad hyper-parameter or group size: a user mistake (one-line CLI error) and a ValueError."""


def check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise AlgoConfigError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")


def check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise AlgoConfigError(f"{name} must be > 0, got {value}")


def check_ratio(name: str, value: float, *, allow_zero: bool = False) -> None:
    ok = (0.0 <= value <= 1.0) if allow_zero else (0.0 < value <= 1.0)
    if not ok:
        interval = "[0, 1]" if allow_zero else "(0, 1]"
        raise AlgoConfigError(f"{name} must be in {interval}, got {value}")


def check_same_shape(reference_name: str, reference: torch.Tensor, **others: torch.Tensor | None) -> None:
    for name, tensor in others.items():
        if tensor is not None and tensor.shape != reference.shape:
            raise ValueError(
                f"{name} has shape {tuple(tensor.shape)}, expected {tuple(reference.shape)} like {reference_name}"
            )


def check_token_layout(rewards_or_adv: torch.Tensor, mask: torch.Tensor, name: str) -> None:
    """mask must be [Q, G, T] and `rewards_or_adv` [Q, G] or [Q, G, T] on the same Q, G."""
    if mask.dim() != 3:
        raise ValueError(f"mask must be [Q, G, T], got shape {tuple(mask.shape)}")
    if rewards_or_adv.shape not in (mask.shape[:2], mask.shape):
        raise ValueError(
            f"{name} has shape {tuple(rewards_or_adv.shape)}, expected {tuple(mask.shape[:2])} "
            f"or {tuple(mask.shape)} to match mask"
        )


def float_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """The promoted floating dtype of the inputs, at least float32 (bf16 inputs are upcast)."""
    dtype = torch.float32
    for tensor in tensors:
        if tensor.dtype == torch.float64:
            dtype = torch.float64
    return dtype


def masked_mean(values: torch.Tensor, keep: torch.Tensor, dim=None) -> torch.Tensor:
    """Mean of `values` where `keep` (bool); 0 where nothing is kept. Padding values never leak."""
    total = torch.where(keep, values, torch.zeros((), dtype=values.dtype, device=values.device))
    count = keep.sum(dim=dim) if dim is not None else keep.sum()
    total = total.sum(dim=dim) if dim is not None else total.sum()
    return total / count.clamp_min(1).to(values.dtype)
