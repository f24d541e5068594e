"""The hf backend's sampler: inverse-CDF picks against hand-computed cases, per-row seeds, batch invariance."""

from __future__ import annotations

import math

import torch

from polsplit_cli.eval.backends.base import GenerationRequest, SamplingConfig
from polsplit_cli.eval.backends.hf import HFBackend, pick_tokens, sample_batch
from polsplit_cli.eval.runner import sample_seed
from polsplit_cli.models import eos_ids

PROBS = [0.5, 0.3, 0.2]


def _pick(uniform: float, **sampling) -> int:
    logits = torch.tensor([[math.log(p) for p in PROBS]])
    config = SamplingConfig(**{"temperature": 1.0, "top_k": 0, "top_p": 1.0, **sampling})
    return int(pick_tokens(logits, torch.tensor([uniform]), config)[0])


def test_inverse_cdf_follows_the_probabilities():
    # cdf = [0.5, 0.8, 1.0]
    assert [_pick(u) for u in (0.0, 0.49, 0.51, 0.79, 0.81, 0.999)] == [0, 0, 1, 1, 2, 2]


def test_top_k_and_top_p_truncate_then_renormalise():
    # top-k 2 keeps {0.5, 0.3}: cdf over kept mass 0.8 -> u*0.8 against [0.5, 0.8]
    assert [_pick(u, top_k=2) for u in (0.6, 0.7)] == [0, 1]
    # top-p 0.7: token 2 has 0.8 of mass before it (>= 0.7) and is dropped; token 1 (0.5 before) stays
    assert [_pick(u, top_p=0.7) for u in (0.6, 0.7, 0.99)] == [0, 1, 1]
    # top-p below the first token's mass keeps only the first token
    assert _pick(0.99, top_p=0.1) == 0
    assert _pick(0.99, top_k=1) == 0


def test_temperature_reshapes_and_zero_is_greedy():
    # T = 0.5 squares the probabilities: 0.25, 0.09, 0.04 -> normalised 0.6579, 0.2368, 0.1053
    assert _pick(0.64, temperature=0.5) == 0
    assert _pick(0.67, temperature=0.5) == 1
    assert _pick(0.99, temperature=0.0) == 0


def _generate(tiny, requests, max_new_tokens=12):
    model, tokenizer = tiny
    sampling = SamplingConfig(max_new_tokens=max_new_tokens)
    return sample_batch(model, requests, sampling, eos_ids=eos_ids(model, tokenizer),
                        pad_id=tokenizer.pad_token_id)


def test_same_seed_same_tokens_whatever_the_batch(tiny):
    prompt = [257, 10, 72, 105, 258, 10, 257]
    alone = _generate(tiny, [GenerationRequest("a", prompt, 7)])[0]
    crowd = _generate(tiny, [GenerationRequest("x", [257, 10] + list(range(40, 70)), 1),
                             GenerationRequest("a", prompt, 7),
                             GenerationRequest("y", [257, 258], 2)])[1]
    assert alone.token_ids == crowd.token_ids
    other_seed = _generate(tiny, [GenerationRequest("b", prompt, 8)])[0]
    assert other_seed.token_ids != alone.token_ids


def test_backend_yields_every_request_once_in_batches(tiny):
    model, tokenizer = tiny
    backend = HFBackend(model, tokenizer, batch_size=2)
    requests = [GenerationRequest(i, [257, 10] + [65] * (i % 3), i) for i in range(5)]
    batches = list(backend.generate(requests, SamplingConfig(max_new_tokens=4)))
    assert [len(b) for b in batches] == [2, 2, 1]
    assert sorted(g.request.key for b in batches for g in b) == list(range(5))
    for generation in (g for b in batches for g in b):
        assert 1 <= len(generation.token_ids) <= 4
        assert generation.finish_reason == ("length" if len(generation.token_ids) == 4 and
                                            generation.token_ids[-1] not in backend.eos_ids else "stop")


def test_sample_seeds_depend_on_problem_and_index_not_mode():
    seeds = [sample_seed(0, "math-500", "p1", j) for j in range(8)]
    assert seeds == list(range(seeds[0], seeds[0] + 8))  # child j = base + j, as vLLM's n>1
    assert sample_seed(0, "math-500", "p2", 0) != seeds[0]
    assert sample_seed(1, "math-500", "p1", 0) != seeds[0]
    assert 0 <= seeds[0] < 2**31
