"""Exact entropy / KL / log-prob math, plain and chunked."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from polsplit_cli.algo import (
    chunked_token_kl,
    chunked_token_stats,
    to_bits,
    token_entropy,
    token_kl,
    token_logprobs,
)

LN2, LN4 = math.log(2.0), math.log(4.0)


def test_entropy_by_hand():
    # p = (1/2, 1/4, 1/4): H = 1/2*1 + 2 * 1/4*2 = 1.5 bits = 1.0397208 nats
    logits = torch.tensor([LN4, LN2, LN2])
    assert token_entropy(logits).item() == pytest.approx(1.0397208, abs=1e-6)
    assert to_bits(token_entropy(logits)).item() == pytest.approx(1.5, abs=1e-6)
    # doubled logits at temperature 2 are the same distribution
    assert to_bits(token_entropy(2 * logits, temperature=2.0)).item() == pytest.approx(1.5, abs=1e-6)
    # a masked-out vocabulary entry (-inf logit) has p = 0 and contributes nothing: 2 equal entries -> 1 bit
    assert to_bits(token_entropy(torch.tensor([0.0, 0.0, -math.inf]))).item() == pytest.approx(1.0)


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 5000), st.floats(-50, 50), st.sampled_from([torch.float32, torch.bfloat16, torch.float64])
)
def test_uniform_logits_have_entropy_log_v(v, level, dtype):
    entropy = token_entropy(torch.full((3, v), level, dtype=dtype))
    assert entropy.dtype in (torch.float32, torch.float64)
    torch.testing.assert_close(
        entropy, torch.full((3,), math.log(v), dtype=entropy.dtype), atol=1e-5, rtol=1e-5
    )
    torch.testing.assert_close(
        to_bits(entropy), torch.full((3,), math.log2(v), dtype=entropy.dtype), atol=1e-5, rtol=1e-5
    )


def test_kl_by_hand():
    # p = (1/2, 1/2), q = (1/4, 3/4): KL = 1/2 ln 2 + 1/2 ln(2/3) = 0.1438410 nats
    p, q = torch.tensor([math.log(0.5), math.log(0.5)]), torch.tensor([math.log(0.25), math.log(0.75)])
    assert token_kl(p, q).item() == pytest.approx(0.1438410, abs=1e-6)
    assert token_kl(p + 3.0, q - 1.0).item() == pytest.approx(0.1438410, abs=1e-6)  # logits shift-invariant


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3000), st.integers(0, 2**31 - 1))
def test_kl_of_identical_distributions_is_zero_and_otherwise_positive(v, seed):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(4, v, generator=gen) * 5
    assert torch.all(token_kl(logits, logits).abs() < 1e-5)
    assert torch.all(token_kl(logits, torch.randn(4, v, generator=gen)) >= -1e-5)


def test_logprobs_by_hand():
    logits = torch.tensor([[LN4, LN2, LN2], [0.0, 0.0, 0.0]])
    torch.testing.assert_close(
        token_logprobs(logits, torch.tensor([1, 2])), torch.tensor([math.log(0.25), -math.log(3)])
    )
    # at temperature 2, logits (2 ln 4, 2 ln 2, 2 ln 2) give the same p again
    assert token_logprobs(2 * logits[:1], torch.tensor([0]), temperature=2.0).item() == pytest.approx(
        math.log(0.5)
    )


def test_bad_temperature_and_shapes():
    with pytest.raises(ValueError, match="temperature"):
        token_entropy(torch.zeros(3), temperature=0.0)
    with pytest.raises(ValueError, match="targets"):
        token_logprobs(torch.zeros(2, 3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="shapes differ"):
        token_kl(torch.zeros(2, 3), torch.zeros(2, 4))


@settings(max_examples=15, deadline=None)
@given(
    st.integers(1, 40),
    st.integers(1, 16),
    st.integers(2, 300),
    st.integers(1, 50),
    st.booleans(),
    st.floats(0.3, 2.0),
    st.integers(0, 2**31 - 1),
)
def test_chunked_equals_unchunked(n, d, v, chunk, use_bias, temperature, seed):
    gen = torch.Generator().manual_seed(seed)
    hidden, hidden_q = torch.randn(2, n, d, generator=gen)
    weight = torch.randn(v, d, generator=gen)
    bias = torch.randn(v, generator=gen) if use_bias else None
    targets = torch.randint(0, v, (n,), generator=gen)
    logits = hidden @ weight.T + (bias if use_bias else 0.0)
    logits_q = hidden_q @ weight.T + (bias if use_bias else 0.0)
    with torch.no_grad():
        stats = chunked_token_stats(
            hidden, weight, targets, bias=bias, chunk_size=chunk, temperature=temperature
        )
        kl = chunked_token_kl(hidden, hidden_q, weight, bias=bias, chunk_size=chunk)
    tol = dict(atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(stats.entropy, token_entropy(logits), **tol)
    torch.testing.assert_close(stats.entropy_tempered, token_entropy(logits, temperature=temperature), **tol)
    torch.testing.assert_close(stats.logp, token_logprobs(logits, targets, temperature=temperature), **tol)
    torch.testing.assert_close(kl, token_kl(logits, logits_q), **tol)


def test_chunked_keeps_leading_dims_and_allows_no_targets():
    hidden = torch.randn(2, 5, 8)
    weight = torch.randn(11, 8)
    stats = chunked_token_stats(hidden, weight, chunk_size=3)
    assert stats.logp is None and stats.entropy.shape == (2, 5) and stats.entropy_tempered is stats.entropy
    torch.testing.assert_close(stats.entropy, token_entropy(hidden @ weight.T))
    assert chunked_token_kl(hidden, hidden, weight, chunk_size=4).abs().max() < 1e-5


def test_chunked_bf16_hidden_gives_fp32_stats():
    hidden = torch.randn(6, 8).bfloat16()
    weight = torch.randn(20, 8).bfloat16()
    stats = chunked_token_stats(hidden, weight, torch.arange(6), chunk_size=4)
    assert stats.entropy.dtype == torch.float32 and stats.logp.dtype == torch.float32
    # the projection runs in bf16 (as the model's lm_head), the softmax in fp32
    torch.testing.assert_close(stats.entropy, token_entropy(hidden @ weight.T))


def test_kl_with_impossible_tokens():
    inf = math.inf
    # p = (1/2, 1/2, 0), q = (1/(1+e), e/(1+e), 0): KL = 1/2 ln((1+e)/2) + 1/2 ln((1+e)/(2e)) = 0.1201145
    assert token_kl(torch.tensor([0.0, 0.0, -inf]), torch.tensor([0.0, 1.0, -inf])).item() == pytest.approx(
        0.1201145, abs=1e-6
    )
    # q gives 0 where p does not: KL is infinite
    assert token_kl(torch.tensor([0.0, 0.0, -inf]), torch.tensor([0.0, -inf, 0.0])).item() == inf


def test_gradients_flow_and_match_the_textbook_formula():
    logits = torch.randn(4, 50, dtype=torch.float64, requires_grad=True)
    token_entropy(logits, temperature=0.7).sum().backward()
    ours = logits.grad.clone()
    logits.grad = None
    log_p = torch.log_softmax(logits / 0.7, dim=-1)
    (-(log_p.exp() * log_p).sum(-1)).sum().backward()
    torch.testing.assert_close(ours, logits.grad)
    hidden = torch.randn(5, 8, requires_grad=True)
    stats = chunked_token_stats(hidden, torch.randn(30, 8), torch.arange(5), chunk_size=2, temperature=0.5)
    (stats.logp.sum() + stats.entropy.sum() + stats.entropy_tempered.sum()).backward()
    assert hidden.grad is not None and torch.isfinite(hidden.grad).all()


def test_inputs_are_never_modified_in_place():
    logits = torch.randn(3, 7)
    hidden, weight = torch.randn(4, 5), torch.randn(7, 5)
    copies = [logits.clone(), hidden.clone(), weight.clone()]
    token_entropy(logits, temperature=0.5)
    token_logprobs(logits, torch.zeros(3, dtype=torch.long), temperature=3.0)
    token_kl(logits, logits.flip(0))
    chunked_token_stats(hidden, weight, torch.zeros(4, dtype=torch.long), temperature=0.5, chunk_size=2)
    for before, after in zip(copies, [logits, hidden, weight], strict=True):
        assert torch.equal(before, after)
