"""Exact per-sample entropy by teacher forcing: the scorer for backends that do not expose logits (vLLM).

One pass of the model body over prompt + response ids, then the output projection applied to
``chunk_size`` positions at a time through ``algo.chunked_token_stats``: memory is bounded by
the chunk ([chunk, V] fp32 logits), never by the response length. The R positions that predict
the R response tokens (EOS included) are scored; the result is the summed full-vocabulary Shannon
entropy in bits of softmax(z) (raw, T=1) and of softmax(z / T) at the sampling temperature.
The hf backend gets the same numbers from inside its sampling loop.
"""

from __future__ import annotations

import torch

from polsplit_cli.algo import chunked_token_stats, to_bits
from polsplit_cli.errors import UserError
from polsplit_cli.eval.backends.base import EntropySum

# Config fields of models whose logits are not a plain linear projection of the last hidden state.
_NON_LINEAR_HEAD = ("final_logit_softcapping", "logit_scale")


def check_linear_head(model) -> None:
    """The chunked scorer rebuilds logits as hidden @ W.T + b; refuse models that post-process them."""
    for field in _NON_LINEAR_HEAD:
        if getattr(model.config, field, None) not in (None, 1.0):
            raise UserError(f"exact entropy scoring does not support models with {field} set ({model.config.model_type})")


def response_hidden(model, prompt_ids: list[int], response_ids: list[int]):
    """Final hidden states at the positions that predict each response token: [R, D].

    The last response token predicts nothing we score, so it is not fed in.
    """
    device = next(model.parameters()).device
    ids = torch.tensor([prompt_ids + response_ids[:-1]], device=device)
    return model.get_decoder()(input_ids=ids, use_cache=False).last_hidden_state[0, len(prompt_ids) - 1 :]


@torch.no_grad()
def score_entropy(model, prompt_ids: list[int], response_ids: list[int], *, temperature: float,
                  chunk_size: int = 1024) -> EntropySum:
    """Summed entropy (bits) over the response tokens of one sample, raw and at ``temperature``."""
    if not response_ids:
        return EntropySum(bits=0.0, bits_tempered=0.0 if temperature > 0 else None, tokens=0)
    hidden = response_hidden(model, prompt_ids, response_ids)
    head = model.get_output_embeddings()
    stats = chunked_token_stats(hidden, head.weight, bias=head.bias, chunk_size=chunk_size,
                                temperature=temperature if temperature > 0 else 1.0)
    return EntropySum(
        bits=float(to_bits(stats.entropy.double().sum().item())),
        bits_tempered=float(to_bits(stats.entropy_tempered.double().sum().item())) if temperature > 0 else None,
        tokens=len(response_ids),
    )
