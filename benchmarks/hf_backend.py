"""Benchmark: the hf eval backend sampling in batches vs one sequence at a time, on the tiny model.

    python benchmarks/hf_backend.py                           # 64 samples, 64 new tokens, batch 32
    python benchmarks/hf_backend.py --samples 16 --batch-size 8

Same requests (8 arithmetic problems x 2 modes x n samples, per-sample seeds), same sampling loop
(``polsplit_cli.eval.backends.hf``); only the batch size differs. Throughput counts generated
tokens (EOS included) per second of wall time, entropy accumulation included. Because every row
owns its seed, the two runs must produce identical responses, which is checked.
"""

from __future__ import annotations

import argparse
import time

import torch

from polsplit_cli.data.arithmetic import arithmetic_problems
from polsplit_cli.eval.backends.base import GenerationRequest, SamplingConfig
from polsplit_cli.eval.backends.hf import HFBackend
from polsplit_cli.eval.runner import sample_seed
from polsplit_cli.models import load_model, render_prompt_ids
from polsplit_cli.modes import builtin_modes
from polsplit_cli.prompts import math_task


def make_requests(model_tokenizer, samples: int) -> list[GenerationRequest]:
    _, tokenizer = model_tokenizer
    modes = [builtin_modes()[name] for name in ("normal", "high-entropy")]
    problems = arithmetic_problems(8, seed=0, split="test")
    per_prompt = max(1, samples // (len(problems) * len(modes)))
    requests = []
    for problem in problems:
        for mode in modes:
            ids = render_prompt_ids(tokenizer, mode.messages(math_task(problem["question"])))
            for j in range(per_prompt):
                requests.append(GenerationRequest((problem["id"], mode.name, j), ids,
                                                  sample_seed(0, "arithmetic", problem["id"], j)))
    return requests


def run(backend: HFBackend, requests, sampling) -> tuple[float, dict]:
    start = time.perf_counter()
    outputs = {g.request.key: g.token_ids for batch in backend.generate(requests, sampling) for g in batch}
    return time.perf_counter() - start, outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--model", default="tiny")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    loaded = load_model(args.model, device="cpu", dtype=torch.float32)
    requests = make_requests(loaded, args.samples)
    sampling = SamplingConfig(max_new_tokens=args.max_new_tokens)
    run(HFBackend(*loaded, batch_size=args.batch_size), requests[:2], sampling)  # warm-up
    batched_s, batched = run(HFBackend(*loaded, batch_size=args.batch_size), requests, sampling)
    single_s, single = run(HFBackend(*loaded, batch_size=1), requests, sampling)
    tokens = sum(len(ids) for ids in batched.values())
    same = sum(batched[key] == single[key] for key in batched)
    print(f"{len(requests)} samples, max {args.max_new_tokens} new tokens, {tokens} tokens generated, "
          f"threads={torch.get_num_threads()}; identical responses batched vs single: {same}/{len(requests)}")
    print(f"{'mode':<16}{'time (s)':>10}{'tokens/s':>12}")
    for name, seconds in ((f"batch {args.batch_size}", batched_s), ("one at a time", single_s)):
        print(f"{name:<16}{seconds:>10.2f}{tokens / seconds:>12.0f}")
    print(f"throughput ratio batched/one-at-a-time: {single_s / batched_s:.2f}x")


if __name__ == "__main__":
    main()
