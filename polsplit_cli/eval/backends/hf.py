"""The transformers backend: our own batched sampling loop with a KV cache, on CPU or one GPU.

Why not ``model.generate``: it has one global random generator, so a sample's tokens would
depend on which other rows share its batch. Here every row owns a stream of uniforms drawn
up front from ``torch.Generator().manual_seed(request.seed)`` and picks its token by inverse
CDF, so a request gives the same response whatever it is batched with (up to floating-point
differences of padded batched matmuls) and the same seed gives paired samples across modes.

The loop sees each step's logits, so it accumulates the exact full-vocabulary entropy (raw
and at the sampling temperature) there instead of a second teacher-forced pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from transformers import DynamicCache

from polsplit_cli.algo import to_bits, token_entropy
from polsplit_cli.eval.backends.base import EntropySum, Generation, GenerationRequest, SamplingConfig
from polsplit_cli.models import cache_kwargs, eos_ids


class HFBackend:
    name = "hf"

    def __init__(self, model, tokenizer, *, batch_size: int = 16):
        self.model = model
        self.pad_id = tokenizer.pad_token_id
        self.eos_ids = eos_ids(model, tokenizer)
        self.batch_size = batch_size

    def generate(self, requests: Sequence[GenerationRequest], sampling: SamplingConfig) -> Iterator[list[Generation]]:
        """Batches of similar prompt length (less padding); each batch is yielded when it finishes."""
        by_length = sorted(requests, key=lambda request: len(request.prompt_ids))
        for start in range(0, len(by_length), self.batch_size):
            batch = by_length[start : start + self.batch_size]
            yield sample_batch(self.model, batch, sampling, eos_ids=self.eos_ids, pad_id=self.pad_id)

    def close(self) -> None:
        self.model = None


def pick_tokens(logits: torch.Tensor, uniforms: torch.Tensor, sampling: SamplingConfig) -> torch.Tensor:
    """Next token per row: temperature, then top-k, then top-p (vLLM's order), drawn by inverse CDF.

    ``uniforms`` holds one U[0,1) draw per row; temperature <= 0 means greedy.
    """
    if sampling.temperature <= 0:
        return logits.argmax(dim=-1)
    scaled = logits / sampling.temperature
    vocab = scaled.shape[-1]
    if 0 < sampling.top_k < vocab:
        values, order = scaled.topk(sampling.top_k, dim=-1)
    else:
        values, order = scaled.sort(dim=-1, descending=True)
    probs = torch.softmax(values, dim=-1)
    if sampling.top_p < 1.0:
        mass_before = probs.cumsum(dim=-1) - probs  # the first token always stays
        probs = probs.masked_fill(mass_before >= sampling.top_p, 0.0)
    cdf = probs.cumsum(dim=-1)
    target = (uniforms * cdf[:, -1]).unsqueeze(-1)  # scaled by the kept mass: no renormalisation needed
    index = torch.searchsorted(cdf, target, right=True).clamp(max=cdf.shape[-1] - 1)
    return order.gather(-1, index).squeeze(-1)


@torch.no_grad()
def sample_batch(model, requests: Sequence[GenerationRequest], sampling: SamplingConfig, *, eos_ids: list[int],
                 pad_id: int) -> list[Generation]:
    """Sample one response per request, left-padded in one batch, with per-row seeds and in-loop entropy."""
    device = next(model.parameters()).device
    rows, width = len(requests), max(len(request.prompt_ids) for request in requests)
    input_ids = torch.full((rows, width), pad_id, dtype=torch.long)
    attention = torch.zeros((rows, width), dtype=torch.long)
    for row, request in enumerate(requests):
        input_ids[row, width - len(request.prompt_ids) :] = torch.tensor(request.prompt_ids)
        attention[row, width - len(request.prompt_ids) :] = 1
    uniforms = torch.stack([
        torch.rand(sampling.max_new_tokens, generator=torch.Generator().manual_seed(request.seed), dtype=torch.float64)
        for request in requests
    ]).to(device=device, dtype=torch.float32)
    input_ids, attention = input_ids.to(device), attention.to(device)
    positions = (attention.cumsum(-1) - 1).clamp(min=0)
    eos = torch.tensor(eos_ids, device=device)

    cache_args = cache_kwargs(model, DynamicCache(config=model.config))
    output = model(input_ids=input_ids, attention_mask=attention, position_ids=positions, logits_to_keep=1, **cache_args)
    finished = torch.zeros(rows, dtype=torch.bool, device=device)
    lengths = torch.zeros(rows, dtype=torch.long, device=device)
    entropy_raw = torch.zeros(rows, dtype=torch.float64, device=device)
    entropy_tempered = torch.zeros(rows, dtype=torch.float64, device=device)
    steps = []
    for step in range(sampling.max_new_tokens):
        logits = output.logits[:, -1, :].float()
        active = ~finished
        entropy_raw += torch.where(active, token_entropy(logits), 0.0).double()
        if sampling.temperature > 0:
            tempered = token_entropy(logits, temperature=sampling.temperature)
            entropy_tempered += torch.where(active, tempered, 0.0).double()
        token = torch.where(active, pick_tokens(logits, uniforms[:, step], sampling), pad_id)
        steps.append(token)
        lengths += active.long()
        finished |= active & torch.isin(token, eos)
        if bool(finished.all()) or step == sampling.max_new_tokens - 1:
            break
        attention = torch.cat([attention, torch.ones((rows, 1), dtype=attention.dtype, device=device)], dim=-1)
        positions = positions[:, -1:] + 1
        output = model(input_ids=token.unsqueeze(-1), attention_mask=attention, position_ids=positions, **cache_args)

    tokens = torch.stack(steps, dim=1).tolist()
    results = []
    for row, request in enumerate(requests):
        count = int(lengths[row])
        response = tokens[row][:count]
        results.append(Generation(
            request=request,
            token_ids=response,
            finish_reason="stop" if bool(finished[row]) else "length",
            entropy=EntropySum(
                bits=float(to_bits(entropy_raw[row])),
                bits_tempered=float(to_bits(entropy_tempered[row])) if sampling.temperature > 0 else None,
                tokens=count,
            ),
        ))
    return results
