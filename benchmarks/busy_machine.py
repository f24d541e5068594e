"""The demo's training step on an idle and on a busy machine, with OpenMP's active and passive waiting.

A laptop with a browser open is the normal case. PyTorch's OpenMP threads spin-wait between
parallel regions by default (``OMP_WAIT_POLICY=ACTIVE`` behaviour), which is harmless on idle
cores and ruinous when another process wants them. ``polsplit`` starts with
``OMP_WAIT_POLICY=PASSIVE`` unless you set it. This runs ``polsplit train`` with the demo's
settings (tiny model, Q 4, G 8, 2 threads; ``--steps`` steps, no held-out evaluation) four times:
{ACTIVE, PASSIVE} x {idle, with one CPU-bound hog process per core}, and prints the median
step time of each and the ratios measured in this same run.

    python benchmarks/busy_machine.py [--steps 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HOG = "while True: pass"
POLICIES = ("ACTIVE", "PASSIVE")


def median_step_s(policy: str, steps: int, work: Path, label: str) -> float:
    out = work / label
    env = {**os.environ, "OMP_WAIT_POLICY": policy}
    polsplit = str(Path(sys.executable).with_name("polsplit"))
    subprocess.run([polsplit, "train", "--steps", str(steps), "eval_size=0", "--quiet", "--out", str(out)],
                   env=env, check=True, capture_output=True)
    times = [json.loads(line)["step_time_s"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    return statistics.median(times[1:])  # the first step pays one-off warm-ups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    cores, load_before = os.cpu_count() or 1, os.getloadavg()[0]
    results: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="busy-") as tmp:
        for load in ("idle", "busy"):
            hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(cores if load == "busy" else 0)]
            try:
                for policy in POLICIES:
                    results[policy, load] = median_step_s(policy, args.steps, Path(tmp), f"{policy}-{load}")
                    print(f"{policy:8} {load:5} {results[policy, load]:7.3f} s/step", file=sys.stderr, flush=True)
            finally:
                for hog in hogs:
                    hog.kill()
                    hog.wait()
    print(f"median step time of the demo ({args.steps} steps, machine load before: {load_before:.1f})")
    print(f"{'OMP_WAIT_POLICY':16} {'idle (s)':>9} {f'busy, {cores} hogs (s)':>20} {'busy / idle':>12}")
    for policy in POLICIES:
        idle, busy = results[policy, "idle"], results[policy, "busy"]
        print(f"{policy:16} {idle:9.3f} {busy:20.3f} {busy / idle:11.2f}x")
    for load in ("idle", "busy"):
        print(f"PASSIVE / ACTIVE, {load}: {results['PASSIVE', load] / results['ACTIVE', load]:.2f}x")


if __name__ == "__main__":
    main()
