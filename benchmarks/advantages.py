"""Benchmark: vectorized policy_split_advantages vs a straightforward per-row Python loop.

    python benchmarks/advantages.py                 # Q=256, G=8, T=4096 (8.4M tokens per tensor)
    python benchmarks/advantages.py --q 32 --t 512  # quick

Both implementations get the same inputs (seeded; responses of random length, padding holding -inf/NaN)
and must agree. Peak memory: each implementation runs once in a fresh child process; the figure is the
kernel's high-water mark of resident memory (getrusage ru_maxrss) minus the resident size just before the
call, i.e. the extra memory the call needed on top of its inputs (torch CPU tensors are invisible to
tracemalloc). It is divided by the size of the inputs (rewards, two log-prob tensors, mask).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

import torch

import polsplit_cli.algo.advantages as advantages_module
from polsplit_cli.algo import policy_split_advantages

ETA, KAPPA, ALPHA, EPS = 0.03, 2.0, 0.5, 1e-6


def make_inputs(q: int, g: int, t: int, seed: int = 0):
    """Rewards 0/1; old log-probs in [-8, 0]; prefix masks of random length 1..T; garbage in the padding."""
    gen = torch.Generator().manual_seed(seed)
    rewards = torch.randint(0, 2, (q, g), generator=gen).float()
    lengths = torch.randint(1, t + 1, (q, g, 1), generator=gen)
    mask = torch.arange(t).view(1, 1, t) < lengths
    logp_normal = torch.rand(q, g, t, generator=gen).mul_(-8.0).masked_fill_(~mask, -float("inf"))
    logp_he = torch.rand(q, g, t, generator=gen).mul_(-8.0).masked_fill_(~mask, float("nan"))
    return rewards, logp_normal, logp_he, mask


def input_bytes(*tensors: torch.Tensor) -> int:
    return sum(x.numel() * x.element_size() for x in tensors)


def vectorized(rewards, logp_normal, logp_he, mask):
    return policy_split_advantages(
        rewards, logp_normal, logp_he, mask, eta=ETA, kappa=KAPPA, alpha=ALPHA, eps=EPS
    )


def per_row_loop(rewards, logp_normal, logp_he, mask):
    """SPEC §3 written row by row: the reference the vectorized code must match."""
    adv_normal = torch.zeros(logp_normal.shape)
    adv_he = torch.zeros(logp_normal.shape)
    n_questions, group_size, _ = logp_normal.shape
    for q in range(n_questions):
        r = rewards[q]
        advantage = torch.zeros(group_size) if bool((r == r[0]).all()) else (r - r.mean()) / (r.std() + EPS)
        lengths = [int(mask[q, g].sum()) for g in range(group_size)]
        b = [
            -(ALPHA * logp_he[q, g, :n] + (1 - ALPHA) * logp_normal[q, g, :n]) for g, n in enumerate(lengths)
        ]
        pooled = torch.cat(b)
        mean, std = pooled.mean(), pooled.std() if pooled.numel() > 1 else torch.tensor(0.0)
        for g, n in enumerate(lengths):
            bound = float(advantage[g].abs()) / KAPPA
            bonus = ((b[g] - mean) / (std + EPS) * ETA).clamp(-bound, bound)
            adv_he[q, g, :n] = advantage[g] + bonus
            adv_normal[q, g, :n] = advantage[g]
    return adv_normal, adv_he


IMPLEMENTATIONS = {"vectorized": vectorized, "loop": per_row_loop}


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def measure_peak(args: argparse.Namespace) -> None:
    """Child process: build inputs, run the implementation once, print the extra peak memory in bytes."""
    IMPLEMENTATIONS[args.peak_of](*make_inputs(2, args.g, 8))  # warm-up: torch's lazy one-time allocations
    inputs = make_inputs(args.q, args.g, args.t)
    before = rss_bytes()
    outputs = IMPLEMENTATIONS[args.peak_of](*inputs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    del outputs
    print(peak - before)


def best_time(fn, inputs, repeats: int) -> tuple[float, tuple[torch.Tensor, torch.Tensor]]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn(*inputs)
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--q", type=int, default=256, help="questions")
    parser.add_argument("--g", type=int, default=8, help="responses per question")
    parser.add_argument("--t", type=int, default=4096, help="response length (padded)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs of the vectorized version (best is kept)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1: on a shared, loaded CPU more threads spin and stall)",
    )
    parser.add_argument("--peak-of", choices=sorted(IMPLEMENTATIONS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.peak_of:
        measure_peak(args)
        return

    # Children first: Linux carries ru_maxrss across fork + exec, so they must start while this process is small.
    extra_bytes = {}
    for name in IMPLEMENTATIONS:
        command = [
            sys.executable,
            __file__,
            "--q",
            str(args.q),
            "--g",
            str(args.g),
            "--t",
            str(args.t),
            "--threads",
            str(args.threads),
            "--peak-of",
            name,
        ]
        extra_bytes[name] = int(subprocess.run(command, check=True, capture_output=True, text=True).stdout)

    inputs = make_inputs(args.q, args.g, args.t)
    size = input_bytes(*inputs)
    tokens = int(inputs[3].sum())
    print(
        f"Q={args.q} G={args.g} T={args.t}: {args.q * args.g * args.t / 1e6:.2f}M positions, "
        f"{tokens / 1e6:.2f}M masked tokens, inputs {size / 2**20:.1f} MiB, torch {torch.__version__}, "
        f"{args.threads} threads"
    )
    vec_time, (vec_n, vec_he) = best_time(vectorized, inputs, args.repeats)
    loop_time, (ref_n, ref_he) = best_time(per_row_loop, inputs, 1)
    blocked = advantages_module.CPU_BLOCK_POSITIONS
    advantages_module.CPU_BLOCK_POSITIONS = 1 << 62  # the same code, one pass per op over the whole tensors
    whole_time, _ = best_time(vectorized, inputs, args.repeats)
    advantages_module.CPU_BLOCK_POSITIONS = blocked
    keep = inputs[3]
    diff = max(float((vec_he - ref_he)[keep].abs().max()), float((vec_n - ref_n)[keep].abs().max()))
    padding_clean = bool(
        (vec_he[~keep] == 0).all() and (vec_n[~keep] == 0).all() and torch.isfinite(vec_he).all()
    )
    agree = diff < 1e-5 and padding_clean
    per_million = 1e6 / (args.q * args.g * args.t)
    print(
        f"vectorized : {vec_time * 1e3:9.1f} ms  ({vec_time * per_million * 1e3:.2f} ms per 1M positions, best of {args.repeats})"
    )
    print(
        f"per-row loop: {loop_time * 1e3:9.1f} ms  ({loop_time * per_million * 1e3:.2f} ms per 1M positions)"
    )
    print(f"vectorized, one block instead of {blocked} positions per block: {whole_time * 1e3:.1f} ms")
    print(f"speed-up    : {loop_time / vec_time:9.1f}x")
    print(f"agreement   : max |diff| = {diff:.2e} on masked tokens; padding zero and finite: {padding_clean}")
    for name, extra in extra_bytes.items():
        print(
            f"peak memory ({name}): {extra / 2**20:.1f} MiB above the inputs = {extra / size:.2f}x input size, "
            f"peak / input size = {(size + extra) / size:.2f} (fresh process, ru_maxrss - RSS before the call; "
            f"the two outputs alone are {2 * inputs[1].numel() * 4 / size:.2f}x)"
        )
    if not agree:
        sys.exit("the vectorized result does not match the per-row loop")


if __name__ == "__main__":
    main()
