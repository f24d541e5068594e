"""The advantage step of the ``polsplit`` verl trainer, on plain row tensors (no TransferQueue).

verl stores every agent-loop output under the key ``{uid}_{session}_{index}`` and
reorders rows freely (``_balance_batch``), so rows are paired by key, never by
position. The dual-mode agent loop returns two outputs per session, indexed by prompt mode:
index 0 is the response under the normal prompt, index 1 under the HE prompt (``agent_loop``
says why the HE copy comes last). Sessions ``s < G/2`` generate in normal mode, the rest in
HE mode (``algo.rollout_layout``).

Rows are gathered into the grouped ``[Q, G, T]`` layout of ``polsplit_cli.algo``, the registered
algorithm's advantage hooks (``train/algorithms.py``, the same code the local trainer runs) run
there, and results are scattered back to rows. Padding rows (verl's
``is_padding`` tag) and tokens outside the loss get advantage 0 and loss_mask 0, so
token-mean denominators count only trained tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from polsplit_cli import algo
from polsplit_cli.algo import HIGH_ENTROPY, NORMAL, PromptMode
from polsplit_cli.train.algorithms import OldPolicy
from polsplit_cli.train.verl.settings import PolicySplitSettings

VERL_ENTROPY_METRIC = "actor/entropy"  # nats, token mean (verl's name)


@dataclass(frozen=True)
class RowBatch:
    """Padded per-row tensors [N, T] as verl's TransferQueue holds them, plus each row's key."""

    keys: Sequence[str]
    is_padding: Sequence[bool]
    rewards: torch.Tensor  # rm_scores [N, T] (reward on the last response token)
    old_log_probs: torch.Tensor
    entropy: torch.Tensor  # nats, old policy
    response_mask: torch.Tensor


@dataclass(frozen=True)
class StepResult:
    advantages: torch.Tensor  # [N, T]
    loss_mask: torch.Tensor  # [N, T] 0/1, same dtype as response_mask
    metrics: dict[str, float]


def parse_key(key: str) -> tuple[str, int, int]:
    """``{uid}_{session}_{index}`` -> (uid, session, index); uids may contain '_' themselves."""
    uid, session, index = key.rsplit("_", 2)
    return uid, int(session), int(index)


def group_rows(keys: Sequence[str], is_padding: Sequence[bool], group_size: int, copies: int) -> torch.Tensor:
    """Row numbers as [Q, G, copies] (copy = key index), questions in order of first appearance.

    Every question must have sessions 0..G-1, each with output indices 0..copies-1.
    """
    slots: dict[str, dict[tuple[int, int], int]] = {}
    for row, (key, padding) in enumerate(zip(keys, is_padding, strict=True)):
        if padding:
            continue
        uid, session, index = parse_key(key)
        slots.setdefault(uid, {})[(session, index)] = row
    expected = {(s, c) for s in range(group_size) for c in range(copies)}
    for uid, found in slots.items():
        if set(found) != expected:
            missing = sorted(expected - set(found))[:4]
            extra = sorted(set(found) - expected)[:4]
            raise ValueError(
                f"question {uid}: expected sessions 0..{group_size - 1} x outputs 0..{copies - 1}, "
                f"missing {missing}, unexpected {extra} (rollout.n must equal the agent loop's group size)"
            )
    table = [[[found[(s, c)] for c in range(copies)] for s in range(group_size)] for found in slots.values()]
    return torch.tensor(table, dtype=torch.long).reshape(len(table), group_size, copies)


def _token_mean(values: torch.Tensor, mask: torch.Tensor) -> float:
    return float((values * mask).sum() / mask.sum().clamp_min(1))


def _rewards(batch: RowBatch, index: torch.Tensor) -> torch.Tensor:
    """Sequence rewards gathered to index's shape (verl puts the score on the last response token)."""
    return batch.rewards.sum(dim=-1)[index].to(torch.float32)


def _old_policy(batch: RowBatch, rows: torch.Tensor) -> OldPolicy:
    """The registry's inputs from rows [Q, G, prompt modes]: one reward and mask per response."""
    modes = [PromptMode(m) for m in range(rows.shape[-1])]
    rewards, mask = _rewards(batch, rows[..., NORMAL]), batch.response_mask[rows[..., NORMAL]].to(torch.float32)
    for mode in modes[1:]:
        if not torch.equal(rewards, _rewards(batch, rows[..., mode])):
            raise ValueError("the two copies of a response carry different rewards (the reward must be computed once)")
        if not torch.equal(mask, batch.response_mask[rows[..., mode]].to(torch.float32)):
            raise ValueError("the two copies of a response have different response masks (they must share the ids)")
    return OldPolicy(rewards, mask, {m: batch.old_log_probs[rows[..., m]].float() for m in modes},
                     {m: batch.entropy[rows[..., m]].float() for m in modes})


def advantage_step(batch: RowBatch, group_size: int, settings: PolicySplitSettings) -> StepResult:
    """The registered algorithm's advantage hooks over the grouped rows: 2G rows per question for a
    dual-mode algorithm (every response under both prompts), else G."""
    algorithm = settings.registered
    copies = 2 if algorithm.dual_mode else 1
    rows = group_rows(batch.keys, batch.is_padding, group_size, copies=copies)  # [Q, G, prompt mode]
    old = _old_policy(batch, rows)
    adv_normal, adv_he, stats = algorithm.token_advantages(old, settings)
    keep = algorithm.loss_mask(old, settings)
    metrics = {f"policy_split/{key}": value for key, value in stats.items()}
    if not algorithm.dual_mode:
        return _scatter(batch, rows[..., 0], adv_normal, keep, metrics)

    layout = algorithm.layout(group_size, sharing=settings.sharing)
    gen_mode = layout.gen_mode[:group_size]  # [G]
    metrics.update(dual_mode_metrics(old, gen_mode))
    trained = torch.zeros(2, group_size, dtype=torch.bool)  # [prompt mode, response]
    trained[layout.prompt_mode, layout.response] = True
    keep_per_mode = [keep * trained[mode].view(1, -1, 1) for mode in PromptMode]
    return _scatter(batch, rows, torch.stack([adv_normal, adv_he], dim=2), torch.stack(keep_per_mode, dim=2), metrics)


def dual_mode_metrics(old: OldPolicy, gen_mode: torch.Tensor) -> dict[str, float]:
    """The local trainer's per-mode metrics (``algo.mode_metrics``, docs/formats.md), under ``policy_split/``.

    The inter-mode KL per token is estimated from the sampled tokens (the old-policy log-probs are
    all verl stores): log pi_own - log pi_other, so forward D_KL(pi_HE || pi) is its mean over the
    HE-mode responses and reverse D_KL(pi || pi_HE) over the normal-mode ones.
    """
    questions, group_size, length = old.mask.shape
    own_he = (gen_mode == HIGH_ENTROPY).view(1, -1, 1)
    own_entropy = torch.where(own_he, old.entropy[HIGH_ENTROPY], old.entropy[NORMAL])
    gap = old.logp[HIGH_ENTROPY] - old.logp[NORMAL]
    kl_own_other = torch.where(own_he, gap, -gap)
    rows = questions * group_size
    metrics = algo.mode_metrics(old.rewards.reshape(rows), old.mask.reshape(rows, length),
                                own_entropy.reshape(rows, length), gen_mode.repeat(questions),
                                kl_own_other.reshape(rows, length))
    named = {f"policy_split/{key}": value for key, value in metrics.items() if value is not None}
    # verl's actor/entropy averages every row, so each response under both prompts; as for a
    # single-mode run it should be the sampling policy's entropy: each response once, under its own prompt
    named[VERL_ENTROPY_METRIC] = _token_mean(own_entropy, old.mask)
    return named


def _scatter(batch: RowBatch, rows: torch.Tensor, adv: torch.Tensor, keep: torch.Tensor, metrics) -> StepResult:
    """Write grouped values back to their rows; tokens outside ``keep`` and unlisted rows (padding) get 0."""
    advantages = torch.zeros(batch.response_mask.shape, dtype=torch.float32)
    loss_mask = torch.zeros_like(batch.response_mask)
    flat = rows.reshape(-1)
    advantages[flat] = (adv * keep).reshape(flat.numel(), -1).to(torch.float32)
    loss_mask[flat] = keep.reshape(flat.numel(), -1).to(loss_mask.dtype)
    return StepResult(advantages=advantages, loss_mask=loss_mask, metrics=metrics)
