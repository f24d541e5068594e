"""Exact full-vocabulary entropy, KL and log-probs per position, in nats (to_bits converts).

All softmax math is done in fp32 (fp64 stays fp64). The chunked forms take final hidden states and the
output projection and apply it to `chunk_size` positions at a time, so memory holds a few [chunk, V] fp32
tensors, never [N, V] for the whole sequence. Gradients flow if autograd is on, but then autograd keeps
every chunk's logits alive; call the chunked forms under torch.no_grad() to get the memory bound.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from polsplit_cli.algo._checks import check_positive, float_dtype

LN2 = math.log(2.0)


def to_bits(nats: torch.Tensor | float) -> torch.Tensor | float:
    """Nats -> bits (divide by ln 2); the paper reports entropy in bits."""
    return nats / LN2


def _fp32(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Logits / temperature as a fresh fp32 (fp64 stays fp64) tensor, shifted so each row's max is 0.

    The shift changes no softmax value and avoids cancellation in logsumexp(z) - sum(p * z) when logits
    sit far from 0 (~1e-5 nats at |z| = 30 in fp32). -inf becomes the most negative finite value, since
    0 * -inf would be NaN in sum(p * z).
    """
    dtype = float_dtype(logits)
    scaled = logits.to(dtype, copy=True)
    if temperature != 1.0:
        scaled.div_(temperature)
    scaled.clamp_(min=torch.finfo(dtype).min)
    shift = scaled.amax(dim=-1, keepdim=True).detach()
    return scaled - shift if scaled.requires_grad else scaled.sub_(shift)


def _entropy_and_logsumexp(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(H, logsumexp(z)) over the last axis of scaled logits; H = logsumexp(z) - sum(softmax(z) * z)."""
    lse = torch.logsumexp(z, dim=-1, keepdim=True)
    probs = (z - lse).exp_()
    entropy = lse.squeeze(-1) - (probs * z).sum(dim=-1)  # not in place: autograd keeps probs
    return entropy, lse.squeeze(-1)


def token_entropy(logits: torch.Tensor, *, temperature: float = 1.0) -> torch.Tensor:
    """Entropy of softmax(logits / temperature) at each position: [..., V] -> [...]."""
    check_positive("temperature", temperature)
    return _entropy_and_logsumexp(_fp32(logits, temperature))[0]


def token_kl(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """Forward KL D(p || q) = sum p (log p - log q) at each position: two [..., V] -> [...]."""
    if logits_p.shape != logits_q.shape:
        raise ValueError(f"logits shapes differ: {tuple(logits_p.shape)} vs {tuple(logits_q.shape)}")
    dtype = float_dtype(logits_p)
    log_p = torch.log_softmax(logits_p.to(dtype), dim=-1)
    log_q = torch.log_softmax(logits_q.to(dtype), dim=-1)
    terms = log_p.exp() * (log_p - log_q)  # p = 0 terms are 0 (not NaN); p > 0 where q = 0 gives inf
    return torch.where(log_p > -torch.inf, terms, 0.0).sum(dim=-1)


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor, *, temperature: float = 1.0) -> torch.Tensor:
    """log softmax(logits / temperature)[target] at each position: [..., V] and [...] -> [...]."""
    check_positive("temperature", temperature)
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"targets shape {tuple(targets.shape)} does not match logits {tuple(logits.shape)}")
    z = _fp32(logits, temperature)
    return z.gather(-1, targets.long().unsqueeze(-1)).squeeze(-1) - torch.logsumexp(z, dim=-1)


class TokenStats(NamedTuple):
    """Per-position values in nats. logp is None without targets; at temperature 1.0 entropy_tempered is
    the same tensor as entropy."""

    logp: torch.Tensor | None
    entropy: torch.Tensor
    entropy_tempered: torch.Tensor


def _chunks(hidden: torch.Tensor, chunk_size: int):
    check_positive("chunk_size", chunk_size)
    flat = hidden.reshape(-1, hidden.shape[-1])
    for start in range(0, flat.shape[0], chunk_size):
        yield slice(start, start + chunk_size), flat[start : start + chunk_size]


def chunked_token_stats(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    targets: torch.Tensor | None = None,
    *,
    bias: torch.Tensor | None = None,
    chunk_size: int = 1024,
    temperature: float = 1.0,
) -> TokenStats:
    """Entropy at T=1 and at `temperature`, and log-prob of `targets` at `temperature`, from hidden states.

    hidden [..., D] (final hidden states), weight [V, D] (output projection, e.g. lm_head.weight), targets
    [...] token ids. The projection runs in hidden's dtype, as the model's own lm_head does; the softmax
    math in fp32. logp uses logits / temperature, the distribution the tokens were sampled from (as verl).
    """
    check_positive("temperature", temperature)
    lead = hidden.shape[:-1]
    if targets is not None and targets.shape != lead:
        raise ValueError(f"targets shape {tuple(targets.shape)} does not match hidden {tuple(hidden.shape)}")
    n = math.prod(lead)
    out_dtype = float_dtype(hidden)
    entropy = torch.empty(n, dtype=out_dtype, device=hidden.device)
    entropy_tempered = entropy if temperature == 1.0 else torch.empty_like(entropy)
    logp = None if targets is None else torch.empty_like(entropy)
    flat_targets = None if targets is None else targets.reshape(-1)
    for rows, chunk in _chunks(hidden, chunk_size):
        z = _fp32(F.linear(chunk, weight, bias), 1.0)
        entropy[rows], lse = _entropy_and_logsumexp(z)
        if temperature != 1.0:
            z = z / temperature  # not in place: with autograd on, the T=1 entropy still needs z
            entropy_tempered[rows], lse = _entropy_and_logsumexp(z)
        if logp is not None:
            logp[rows] = z.gather(-1, flat_targets[rows].long().unsqueeze(-1)).squeeze(-1) - lse
    entropy_out = entropy.reshape(lead)
    return TokenStats(
        None if logp is None else logp.reshape(lead),
        entropy_out,
        entropy_out if temperature == 1.0 else entropy_tempered.reshape(lead),
    )


def chunked_token_kl(
    hidden_p: torch.Tensor,
    hidden_q: torch.Tensor,
    weight: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    chunk_size: int = 1024,
) -> torch.Tensor:
    """Per-position D(p || q) from two hidden-state sequences [..., D] over the same tokens, chunk by chunk.

    E.g. one response under the HE prompt (p) and under the normal prompt (q).
    """
    if hidden_p.shape != hidden_q.shape:
        raise ValueError(f"hidden shapes differ: {tuple(hidden_p.shape)} vs {tuple(hidden_q.shape)}")
    flat_q = hidden_q.reshape(-1, hidden_q.shape[-1])
    out_dtype = float_dtype(hidden_p)
    kl = torch.empty(flat_q.shape[0], dtype=out_dtype, device=hidden_p.device)
    for rows, chunk in _chunks(hidden_p, chunk_size):
        kl[rows] = token_kl(F.linear(chunk, weight, bias), F.linear(flat_q[rows], weight, bias))
    return kl.reshape(hidden_p.shape[:-1])
