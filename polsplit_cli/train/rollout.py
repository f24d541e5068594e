"""Batched sampling and teacher-forced scoring that run the shared prompt prefix once.

All prompts of one mode in a step share a long prefix (the HE system prompt is ~480 tokens
for the byte-level tiny model; the math task's preamble is shared too). It is found as the
longest common prefix of the prompt ids, run through the model once, and its key/value cache
is broadcast to every row. Each row then only costs its own suffix (question + response).
With gradients on, the prefix is recomputed once per forward pass and its gradient is the
sum over the rows, exactly as if every row had run it.

Layouts: generation puts padding between the prefix and each row's suffix (masked out, explicit
position ids), so every row's last token is at the same column; teacher forcing right-pads
(pure causal attention, padding is never attended to by earlier positions).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import DynamicCache

from polsplit_cli.models import cache_kwargs


@dataclass
class PromptGroup:
    """Prompts of one mode split into the shared prefix and per-row suffixes (each >= 1 token)."""

    prefix: list[int]
    suffixes: list[list[int]]


def split_prefix(prompts: list[list[int]]) -> PromptGroup:
    """Longest common prefix of ``prompts``, leaving at least one token in every suffix."""
    shortest = min(len(p) for p in prompts)
    length = 0
    while length < shortest - 1 and all(p[length] == prompts[0][length] for p in prompts):
        length += 1
    return PromptGroup(prompts[0][:length], [p[length:] for p in prompts])


def _device(model) -> torch.device:
    return next(model.parameters()).device


def prefix_kv(model, prefix: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
    """Per-layer (keys, values), each [1, heads, P, dim], of the prefix; None for an empty prefix.

    Runs with or without autograd, as the caller's context says.
    """
    if not prefix:
        return None
    ids = torch.tensor([prefix], device=_device(model))
    decoder, cache = model.get_decoder(), DynamicCache(config=model.config)
    decoder(input_ids=ids, **cache_kwargs(decoder, cache))
    return [(layer.keys, layer.values) for layer in cache.layers]


def _broadcast(model, kv, rows: int) -> DynamicCache:
    """A fresh cache holding the prefix (if any) for ``rows`` rows (a forward pass appends to it)."""
    if kv is None:
        return DynamicCache(config=model.config)
    expanded = [(k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1)) for k, v in kv]
    return DynamicCache(ddp_cache_data=expanded, config=model.config)


def _filter_logits(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Mask everything outside the top-k and the top-p nucleus with -inf (both optional)."""
    if 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        ordered, order = torch.sort(logits, dim=-1, descending=True)
        before = torch.softmax(ordered, dim=-1).cumsum(dim=-1) - torch.softmax(ordered, dim=-1)
        drop = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, order, before >= top_p)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


@torch.no_grad()
def generate(model, group: PromptGroup, *, max_new_tokens: int, stop_ids: list[int], pad_id: int,
             temperature: float = 1.0, top_p: float = 1.0, top_k: int = -1, greedy: bool = False,
             generator: torch.Generator | None = None) -> list[list[int]]:
    """One response per suffix row: ids up to and including the stop token (or max_new_tokens, truncated).

    Sampling draws from softmax(logits / temperature) after top-k/top-p filtering with ``generator``;
    ``greedy`` takes the argmax instead.
    """
    device = _device(model)
    rows, start = len(group.suffixes), len(group.prefix)
    width = max(len(s) for s in group.suffixes)
    ids = torch.full((rows, width), pad_id, device=device)
    mask = torch.zeros((rows, start + width), dtype=torch.long, device=device)
    mask[:, :start] = 1
    positions = torch.full((rows, width), start, device=device)
    for row, suffix in enumerate(group.suffixes):
        ids[row, width - len(suffix):] = torch.tensor(suffix, device=device)
        mask[row, start + width - len(suffix):] = 1
        positions[row, width - len(suffix):] = torch.arange(start, start + len(suffix), device=device)
    cache_args = cache_kwargs(model, _broadcast(model, prefix_kv(model, group.prefix), rows))
    stop = torch.tensor(sorted(stop_ids), device=device)
    responses = torch.full((rows, max_new_tokens), pad_id, device=device)
    lengths = torch.full((rows,), max_new_tokens, device=device)
    done = torch.zeros(rows, dtype=torch.bool, device=device)
    for step in range(max_new_tokens):
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=1,
                       **cache_args).logits[:, -1].float()
        if greedy:
            token = logits.argmax(dim=-1)
        else:
            probs = torch.softmax(_filter_logits(logits / temperature, top_k, top_p), dim=-1)
            token = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        token = torch.where(done, pad_id, token)
        responses[:, step] = token
        finished = ~done & torch.isin(token, stop)
        lengths = torch.where(finished, step + 1, lengths)
        done |= finished
        if bool(done.all()):
            break
        ids, positions = token[:, None], positions[:, -1:] + 1
        mask = torch.cat([mask, torch.ones((rows, 1), dtype=mask.dtype, device=device)], dim=1)
    return [responses[row, : int(lengths[row])].tolist() for row in range(rows)]


def response_hidden(model, kv, suffixes: list[list[int]], responses: list[list[int]]
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Final hidden states at the positions that predict each response token, and the 0/1 mask.

    Returns ([rows, T, D], [rows, T]) with T the longest response; row b, column t is the state
    that predicts responses[b][t]. Autograd follows the caller's context.
    """
    device = _device(model)
    rows, start = len(suffixes), kv[0][0].shape[2] if kv is not None else 0
    longest = max(len(r) for r in responses)
    width = max(len(s) + len(r) for s, r in zip(suffixes, responses, strict=True))
    ids = torch.zeros((rows, width), dtype=torch.long, device=device)
    gather = torch.zeros((rows, longest), dtype=torch.long, device=device)
    mask = torch.zeros((rows, longest), device=device)
    for row, (suffix, response) in enumerate(zip(suffixes, responses, strict=True)):
        tokens = suffix + response
        ids[row, : len(tokens)] = torch.tensor(tokens, device=device)
        # the state at column len(suffix) - 1 + t predicts response token t
        gather[row, : len(response)] = torch.arange(len(suffix) - 1, len(suffix) - 1 + len(response))
        mask[row, : len(response)] = 1
    positions = torch.arange(start, start + width, device=device).expand(rows, -1)
    decoder = model.get_decoder()
    cache_args = {"use_cache": False} if kv is None else cache_kwargs(decoder, _broadcast(model, kv, rows))
    hidden = decoder(input_ids=ids, position_ids=positions, **cache_args).last_hidden_state
    picked = hidden.gather(1, gather[:, :, None].expand(-1, -1, hidden.shape[-1]))
    return picked, mask


def pad_tokens(responses: list[list[int]], width: int, device) -> torch.Tensor:
    """Response ids right-padded with 0 to ``width`` columns."""
    out = torch.zeros((len(responses), width), dtype=torch.long, device=device)
    for row, response in enumerate(responses):
        out[row, : len(response)] = torch.tensor(response, dtype=torch.long, device=device)
    return out
