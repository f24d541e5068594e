"""Benchmark: `analyze kl`'s chunked teacher-forced KL vs the naive full-logits computation.

    python benchmarks/analyze_kl.py                    # V = 151,936 (Qwen3 vocabulary), 1,024 response tokens
    python benchmarks/analyze_kl.py --tokens 256       # quick

The model is a randomly initialised one-layer Qwen3 with the Qwen3 vocabulary (hidden 64), so the
output projection, not the body, dominates, as it does for long responses of real models. Both methods
score one response under two prompts and must agree. "chunked" is what `polsplit analyze kl` runs
(`kl.response_hidden` + `algo.chunked_token_kl`); "naive" calls the model for full [T, V] logits twice
and takes log_softmax. Each method runs in a fresh child process; peak memory is the high-water mark of
resident memory (getrusage ru_maxrss) minus the resident size just before the call.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

import torch

VOCAB = 151_936


def build(tokens: int, seed: int = 0):
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(seed)
    config = Qwen3Config(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=32, tie_word_embeddings=True)
    model = Qwen3ForCausalLM(config).eval()
    prompts = [torch.randint(0, VOCAB, (48,)).tolist(), torch.randint(0, VOCAB, (64,)).tolist()]
    response = torch.randint(0, VOCAB, (tokens,)).tolist()
    return model, prompts, response


def chunked(model, prompts, response, chunk_size: int) -> float:
    from polsplit_cli.algo import chunked_token_kl
    from polsplit_cli.analyze.kl import response_hidden

    head = model.get_output_embeddings()
    hidden_p, hidden_q = (response_hidden(model, prompt, response) for prompt in prompts)
    return chunked_token_kl(hidden_p, hidden_q, head.weight, bias=head.bias, chunk_size=chunk_size).double().sum().item()


def naive(model, prompts, response, chunk_size: int) -> float:
    logp = []
    for prompt in prompts:
        logits = model(torch.tensor([prompt + response])).logits[0, len(prompt) - 1 : len(prompt) + len(response) - 1]
        logp.append(torch.log_softmax(logits.float(), dim=-1))
    p, q = logp
    return (p.exp() * (p - q)).sum().double().item()


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def child(method: str, tokens: int, chunk_size: int) -> None:
    """Run one method once and print: KL sum (nats), seconds, extra peak bytes."""
    model, prompts, response = build(tokens)
    run = {"chunked": chunked, "naive": naive}[method]
    with torch.no_grad():
        run(model, prompts, response[:8], chunk_size)  # warm-up: allocator and kernels
        before = resident_bytes()
        start = time.perf_counter()
        kl = run(model, prompts, response, chunk_size)
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    print(kl, seconds, peak - before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=1024, help="response tokens")
    parser.add_argument("--chunk-size", type=int, default=256)
    parser.add_argument("--child", choices=["chunked", "naive"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.tokens, args.chunk_size)
        return
    results = {}
    for method in ("naive", "chunked"):
        command = [sys.executable, __file__, "--child", method, "--tokens", str(args.tokens),
                   "--chunk-size", str(args.chunk_size)]
        kl, seconds, extra = subprocess.run(command, check=True, capture_output=True, text=True).stdout.split()
        results[method] = (float(kl), float(seconds), int(extra))
    logits_bytes = args.tokens * VOCAB * 4
    print(f"V = {VOCAB:,}, response tokens = {args.tokens:,}, chunk = {args.chunk_size} "
          f"(one [T, V] fp32 logits tensor = {logits_bytes / 2**20:,.0f} MiB)")
    for method, (kl, seconds, extra) in results.items():
        print(f"{method:8s} KL sum {kl:.6f} nats   {seconds:6.2f} s   extra peak memory {extra / 2**20:8,.0f} MiB")
    (kl_n, s_n, m_n), (kl_c, s_c, m_c) = results["naive"], results["chunked"]
    print(f"chunked / naive: time {s_c / s_n:.2f}x, extra peak memory {m_c / max(m_n, 1):.3f}x; "
          f"KL agrees to {abs(kl_c - kl_n) / max(abs(kl_n), 1e-12):.1e} (relative)")


if __name__ == "__main__":
    main()
