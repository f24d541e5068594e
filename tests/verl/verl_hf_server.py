"""A real local generation server for agent-loop tests (imported by name; not a test module)."""

from __future__ import annotations

import torch


class HFGenerateServer:
    """A minimal stand-in for verl's LLM server client: runs ``model.generate`` on CPU.

    It answers ``generate(prompt_ids=..., sampling_params=...)`` with a verl ``TokenOutput``
    exactly as an agent loop expects, sampling with the given temperature/top-p/top-k, and
    records every (prompt ids, response ids) pair it served.
    """

    def __init__(self, model, tokenizer, max_new_tokens: int, seed: int = 0):
        self.model, self.tokenizer, self.max_new_tokens = model, tokenizer, max_new_tokens
        self.seed = seed
        self.served: list[tuple[list[int], list[int]]] = []

    async def generate(self, *, prompt_ids: list[int], sampling_params: dict, **_ignored):
        from verl.workers.rollout.replica import TokenOutput

        temperature = float(sampling_params.get("temperature", 1.0))
        top_k = int(sampling_params.get("top_k", -1))
        torch.manual_seed(self.seed + len(self.served))
        with torch.no_grad():
            out = self.model.generate(
                torch.tensor([prompt_ids]),
                attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long),
                do_sample=temperature > 0,
                temperature=temperature if temperature > 0 else None,
                top_p=float(sampling_params.get("top_p", 1.0)),
                top_k=top_k if top_k > 0 else None,
                max_new_tokens=self.max_new_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        response = out[0, len(prompt_ids):].tolist()
        if self.tokenizer.pad_token_id in response:  # generate pads after eos only in batches; be safe
            response = response[: response.index(self.tokenizer.pad_token_id)]
        self.served.append((list(prompt_ids), response))
        return TokenOutput(token_ids=response, stop_reason="completed")
