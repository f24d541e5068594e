"""Which (prompt, response) training copies one question contributes, with and without sharing (SPEC §2)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import torch

from polsplit_cli.algo._checks import AlgoConfigError


class PromptMode(IntEnum):
    """Which prompt a rollout or a per-mode tensor belongs to: the index in layouts and per-mode dicts.

    The modes' names and system texts (``"normal"``, ``"high-entropy"``, ...) live in ``polsplit_cli.modes``;
    ``metric_key`` is the prefix of the per-mode metrics (docs/formats.md).
    """

    NORMAL = 0
    HIGH_ENTROPY = 1

    @property
    def metric_key(self) -> str:
        return "normal" if self is PromptMode.NORMAL else "he"


NORMAL, HIGH_ENTROPY = PromptMode.NORMAL, PromptMode.HIGH_ENTROPY


@dataclass(frozen=True)
class RolloutLayout:
    """Index tensors over the training copies of one question (all int64, one entry per copy).

    response: which of the G responses (0..G-1); prompt_mode: the prompt it is trained under
    (0 normal, 1 HE); gen_mode: the mode that generated it (responses 0..G/2-1 normal, G/2..G-1 HE).
    With sharing the copies are [normal prompt x responses 0..G-1, HE prompt x responses 0..G-1] (2G);
    without sharing, copy i is response i under its own prompt (G).
    """

    group_size: int
    sharing: bool
    response: torch.Tensor
    prompt_mode: torch.Tensor
    gen_mode: torch.Tensor

    @property
    def n_copies(self) -> int:
        return int(self.response.numel())

    def copy_values(self, normal: torch.Tensor, high_entropy: torch.Tensor) -> torch.Tensor:
        """Per-copy values [Q, n_copies, ...] from per-response values [Q, G, ...] of each prompt mode.

        E.g. copy_values(adv_normal, adv_he) gives every training copy its advantage.
        """
        if normal.shape != high_entropy.shape or normal.dim() < 2 or normal.shape[1] != self.group_size:
            raise ValueError(
                f"expected two [Q, {self.group_size}, ...] tensors of one shape, "
                f"got {tuple(normal.shape)} and {tuple(high_entropy.shape)}"
            )
        index = self.response.to(normal.device)
        use_he = (self.prompt_mode.to(normal.device) == HIGH_ENTROPY).view(1, -1, *[1] * (normal.dim() - 2))
        return torch.where(use_he, high_entropy[:, index], normal[:, index])


def rollout_layout(group_size: int, *, sharing: bool = True) -> RolloutLayout:
    """The training copies for G = group_size responses per question (G even, >= 2)."""
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 2 or group_size % 2:
        raise AlgoConfigError(
            f"group size must be an even integer >= 2 (half normal-mode, half HE-mode rollouts), got {group_size!r}"
        )
    responses = torch.arange(group_size)
    gen_mode = (responses >= group_size // 2).long()
    if sharing:
        response = responses.repeat(2)
        prompt_mode = torch.repeat_interleave(torch.tensor([NORMAL, HIGH_ENTROPY]), group_size)
        return RolloutLayout(group_size, True, response, prompt_mode, gen_mode.repeat(2))
    return RolloutLayout(group_size, False, responses, gen_mode.clone(), gen_mode)
