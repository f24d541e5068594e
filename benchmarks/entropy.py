"""Benchmark: the eval entropy scorer's chunked output layer vs the naive full-logits computation.

    python benchmarks/entropy.py                          # T=4096 positions, V=32768, D=1024
    python benchmarks/entropy.py --t 1024 --v 8192        # quick

Both compute, for every position, the full-vocabulary entropy at T=1 and at temperature 0.6 from the
final hidden states [T, D] and the output projection [V, D] (what ``polsplit_cli.eval.entropy`` does
after the model body): chunked = ``algo.chunked_token_stats`` (1024 positions at a time); naive =
logits for all positions at once, then softmax / log_softmax. They must agree. Peak memory: each
variant runs once in a fresh child process; the figure is the high-water mark of resident memory
(getrusage ru_maxrss) minus the resident size just before the call (torch CPU tensors are invisible
to tracemalloc). Time: best of --repeats runs in the same child.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

from polsplit_cli.algo import chunked_token_stats

TEMPERATURE = 0.6


def make_inputs(t: int, v: int, d: int):
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(t, d, generator=gen)
    weight = torch.randn(v, d, generator=gen) / d**0.5 * 4  # logits of std ~4: peaked, like a trained model
    return hidden, weight


def naive(hidden: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """All [T, V] logits at once; entropy = -sum p log p for the raw and the tempered distribution."""
    logits = hidden @ weight.T
    out = []
    for z in (logits, logits / TEMPERATURE):
        out.append(-(torch.softmax(z, dim=-1) * torch.log_softmax(z, dim=-1)).sum(dim=-1))
    return out[0], out[1]


def chunked(hidden: torch.Tensor, weight: torch.Tensor, chunk_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    stats = chunked_token_stats(hidden, weight, chunk_size=chunk_size, temperature=TEMPERATURE)
    return stats.entropy, stats.entropy_tempered


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()


def child(variant: str, t: int, v: int, d: int, chunk_size: int, repeats: int) -> None:
    """Run one variant in this fresh process; print JSON with its time, peak extra memory and checksum."""
    torch.set_grad_enabled(False)
    hidden, weight = make_inputs(t, v, d)
    before = rss_bytes()
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        raw, tempered = naive(hidden, weight) if variant == "naive" else chunked(hidden, weight, chunk_size)
        timings.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": min(timings), "peak_extra_bytes": peak - before,
                      "raw": raw.double().sum().item(), "tempered": tempered.double().sum().item()}))


def measure(variant: str, args) -> dict:
    command = [sys.executable, __file__, "--child", variant, "--t", str(args.t), "--v", str(args.v), "--d", str(args.d),
               "--chunk-size", str(args.chunk_size), "--repeats", str(args.repeats)]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--t", type=int, default=4096, help="positions (response tokens)")
    parser.add_argument("--v", type=int, default=32768, help="vocabulary size")
    parser.add_argument("--d", type=int, default=1024, help="hidden size (Qwen3-0.6B: 1024)")
    parser.add_argument("--chunk-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=("naive", "chunked"))
    args = parser.parse_args()
    if args.child:
        child(args.child, args.t, args.v, args.d, args.chunk_size, args.repeats)
        return
    naive_run, chunked_run = measure("naive", args), measure("chunked", args)
    for key in ("raw", "tempered"):
        assert abs(naive_run[key] - chunked_run[key]) <= 1e-4 * abs(naive_run[key]), (key, naive_run, chunked_run)
    mib = 2**20
    print(f"T={args.t} V={args.v} D={args.d} chunk={args.chunk_size} threads={torch.get_num_threads()} "
          f"(entropy sums agree: {chunked_run['raw']:.3f} nats raw, {chunked_run['tempered']:.3f} tempered)")
    print(f"{'variant':<10}{'time (s)':>10}{'peak extra (MiB)':>18}")
    for name, run in (("naive", naive_run), ("chunked", chunked_run)):
        print(f"{name:<10}{run['seconds']:>10.3f}{run['peak_extra_bytes'] / mib:>18.1f}")
    print(f"memory ratio naive/chunked: {naive_run['peak_extra_bytes'] / chunked_run['peak_extra_bytes']:.2f}x; "
          f"time ratio chunked/naive: {chunked_run['seconds'] / naive_run['seconds']:.2f}x")


if __name__ == "__main__":
    main()
