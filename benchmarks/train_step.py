"""Median training-step time of policy-split vs grpo vs grpo-sharing on the same model and batch.

The three trainers see the same questions (same seed), the same Q, G and response limit, and
take their steps in turn (round robin), so background load hits all three alike. Prints the
median step time, its phases (rollout incl. grading, old-policy pass, PPO update) and the
ratio to GRPO. The paper reports Policy Split at about 1.4x GRPO on verl.

    python benchmarks/train_step.py                       # tiny model, CPU
    python benchmarks/train_step.py --model /models/Qwen3-1.7B --device cuda -Q 8 -G 8 --max-new-tokens 512
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from polsplit_cli.train.config import resolve_config
from polsplit_cli.train.loop import Trainer

ALGOS = ("grpo", "grpo-sharing", "policy-split")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per algorithm (after 1 warm-up step)")
    parser.add_argument("-Q", "--questions-per-step", type=int, default=8)
    parser.add_argument("-G", "--group-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        trainers = {}
        for algo in ALGOS:
            config = resolve_config(flags={"algo": algo, "model": args.model, "questions_per_step": args.questions_per_step,
                                           "group_size": args.group_size, "max_new_tokens": args.max_new_tokens,
                                           "threads": args.threads, "device": args.device, "steps": args.steps + 1,
                                           "eval_size": 0})
            trainers[algo] = Trainer(config, Path(scratch) / algo)
        times: dict[str, list[float]] = {algo: [] for algo in ALGOS}
        phases: dict[str, list[dict[str, float]]] = {algo: [] for algo in ALGOS}
        started = time.perf_counter()
        for step in range(args.steps + 1):
            for algo, trainer in trainers.items():
                began = time.perf_counter()
                trainer.train_step()
                if step:  # the first step warms caches and allocators
                    times[algo].append(time.perf_counter() - began)
                    phases[algo].append(trainer.phase_seconds)
    base = statistics.median(times["grpo"])
    print(f"model {args.model}, Q={args.questions_per_step} G={args.group_size} max_new_tokens={args.max_new_tokens}, "
          f"threads={args.threads}, {args.steps} timed steps each ({time.perf_counter() - started:.0f} s in all)")
    print(f"{'algorithm':<14}{'median s':>10}{'rollout':>10}{'old pass':>10}{'update':>10}{'vs grpo':>10}")
    for algo in ALGOS:
        median = statistics.median(times[algo])
        split = [statistics.median(p[key] for p in phases[algo]) for key in ("rollout", "old_policy", "update")]
        print(f"{algo:<14}{median:>10.3f}" + "".join(f"{x:>10.3f}" for x in split) + f"{median / base:>9.2f}x")


if __name__ == "__main__":
    main()
