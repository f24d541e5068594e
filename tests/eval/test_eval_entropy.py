"""Exact entropy: teacher-forced chunked scorer vs a naive float64 softmax, analytic cases, and the hf
sampling loop's in-loop entropy vs the teacher-forced pass on the same samples."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from polsplit_cli.eval.backends.base import GenerationRequest, SamplingConfig
from polsplit_cli.eval.backends.hf import sample_batch
from polsplit_cli.eval.entropy import score_entropy
from polsplit_cli.models import eos_ids


def naive_bits(model, prompt: list[int], response: list[int], temperature: float) -> tuple[float, float]:
    """Full forward pass, full softmax, in float64: sum over response positions of -sum p log2 p."""
    double = copy.deepcopy(model).double()
    with torch.no_grad():
        logits = double(input_ids=torch.tensor([prompt + response])).logits[0]
    scored = logits[len(prompt) - 1 : len(prompt) - 1 + len(response)]
    totals = []
    for z in (scored, scored / temperature):
        p = torch.softmax(z, dim=-1)
        totals.append(float(-(p * torch.log(p)).sum() / math.log(2)))
    return totals[0], totals[1]


def test_teacher_forced_matches_naive_float64_softmax(tiny):
    model, _ = tiny
    prompt, response = [257, 10, 72, 105, 33, 258, 10], [65, 66, 259, 49, 50, 260, 256]
    result = score_entropy(model, prompt, response, temperature=0.6, chunk_size=3)
    raw, tempered = naive_bits(model, prompt, response, 0.6)
    assert result.tokens == len(response)
    assert result.bits == pytest.approx(raw, rel=1e-5)
    assert result.bits_tempered == pytest.approx(tempered, rel=1e-5)
    assert result.bits_tempered < result.bits  # T < 1 sharpens every non-uniform distribution


def test_chunk_size_does_not_change_the_result(tiny):
    model, _ = tiny
    prompt, response = [257, 10, 72, 258], list(range(40, 90))
    one = score_entropy(model, prompt, response, temperature=0.6, chunk_size=1)
    all_at_once = score_entropy(model, prompt, response, temperature=0.6, chunk_size=4096)
    assert one.bits == pytest.approx(all_at_once.bits, rel=1e-6)
    assert one.bits_tempered == pytest.approx(all_at_once.bits_tempered, rel=1e-6)


def test_zero_output_layer_gives_uniform_log2_vocab_bits(tiny):
    """Analytic case: all logits equal -> every position is uniform over V: log2(V) bits, at any temperature."""
    model = copy.deepcopy(tiny[0])
    head = model.get_output_embeddings()
    with torch.no_grad():
        head.weight.zero_()
    vocab = head.weight.shape[0]
    result = score_entropy(model, [257, 10, 72], [1, 2, 3, 4, 5], temperature=0.6)
    assert result.bits == pytest.approx(5 * math.log2(vocab), rel=1e-6)
    assert result.bits_tempered == pytest.approx(5 * math.log2(vocab), rel=1e-6)


def test_one_hot_output_layer_gives_analytic_two_level_entropy(tiny):
    """Analytic case: logits = c on one token and 0 elsewhere (bias only, zero weight).
    p = e^c / (e^c + V - 1) on it, H = log(e^c + V - 1) - c p  (nats)."""
    model = copy.deepcopy(tiny[0])
    head = model.get_output_embeddings()
    vocab, c = head.weight.shape[0], 3.0
    head.weight = torch.nn.Parameter(torch.zeros_like(head.weight))
    head.bias = torch.nn.Parameter(torch.zeros(vocab))
    with torch.no_grad():
        head.bias[7] = c
    result = score_entropy(model, [257, 10], [7, 7, 7], temperature=0.5)

    def bits(logit: float) -> float:
        total = math.exp(logit) + vocab - 1
        return (math.log(total) - logit * math.exp(logit) / total) / math.log(2)

    assert result.bits == pytest.approx(3 * bits(c), rel=1e-6)
    assert result.bits_tempered == pytest.approx(3 * bits(c / 0.5), rel=1e-6)


def test_in_loop_entropy_equals_teacher_forced(tiny):
    model, tokenizer = tiny
    sampling = SamplingConfig(temperature=0.6, top_k=20, top_p=0.95, max_new_tokens=16, seed=0)
    prompts = [[257, 10, 72, 105, 258, 10, 257], [257, 10, 72, 258], [257] + list(range(60, 80)) + [258]]
    requests = [GenerationRequest(i, p, 100 + i) for i, p in enumerate(prompts)]
    generations = sample_batch(model, requests, sampling, eos_ids=eos_ids(model, tokenizer),
                               pad_id=tokenizer.pad_token_id)
    for generation in generations:
        forced = score_entropy(model, generation.request.prompt_ids, generation.token_ids, temperature=0.6)
        assert generation.entropy.tokens == forced.tokens == len(generation.token_ids) > 0
        assert generation.entropy.bits == pytest.approx(forced.bits, rel=1e-4)
        assert generation.entropy.bits_tempered == pytest.approx(forced.bits_tempered, rel=1e-4)
