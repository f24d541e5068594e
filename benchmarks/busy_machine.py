"""The demo's training step on an idle and on a busy machine, under each OpenMP waiting policy.

A laptop with a browser open is the normal case. PyTorch's OpenMP threads (libgomp) spin-wait
between parallel regions before they sleep: for ever with ``OMP_WAIT_POLICY=ACTIVE``, ~3 ms by
default, not at all with ``PASSIVE``. Spinning is harmless on idle cores and ruinous when another
process wants them. This runs ``polsplit train`` with the demo's settings (tiny model, Q 4, G 8,
2 threads; ``--steps`` steps, no held-out evaluation) under each variant below, idle and with one
CPU-bound hog process per core, and prints the median step time of each and the ratios against
``polsplit``'s own default (passive waiting only when other processes keep half a core busy at
start: polsplit_cli/openmp.py), all measured in this same run. Step times on a shared VM vary by
~20% from run to run: read ratios well away from 1.

    python benchmarks/busy_machine.py [--steps 6]
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

HOG = "import os\nparent = os.getppid()\nwhile os.getppid() == parent: pass"  # CPU-bound; dies with the benchmark
# name -> environment; an explicit GOMP_SPINCOUNT overrides the spin count the policy implies
VARIANTS = {
    "ACTIVE (spin for ever)": {"OMP_WAIT_POLICY": "ACTIVE"},
    "libgomp default (3 ms)": {"GOMP_SPINCOUNT": "300000"},
    "spin 0.3 ms": {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "30000"},
    "polsplit default": {},
    "PASSIVE (no spin)": {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "0"},
}
BASELINE = "polsplit default"


def median_step_s(variant: dict[str, str], steps: int, out: Path) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")} | variant
    polsplit = str(Path(sys.executable).with_name("polsplit"))
    subprocess.run([polsplit, "train", "--steps", str(steps), "eval_size=0", "--quiet", "--out", str(out)],
                   env=env, check=True, capture_output=True)
    times = [json.loads(line)["step_time_s"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    return statistics.median(times[1:])  # the first step pays one-off warm-ups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    cores, load_before = os.cpu_count() or 1, os.getloadavg()[0]
    results: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="busy-") as tmp:
        for load in ("idle", "busy"):
            hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(cores if load == "busy" else 0)]
            try:
                for i, (name, variant) in enumerate(VARIANTS.items()):
                    results[name, load] = median_step_s(variant, args.steps, Path(tmp) / f"{load}-{i}")
                    print(f"{name:24} {load:5} {results[name, load]:7.3f} s/step", file=sys.stderr, flush=True)
            finally:
                for hog in hogs:
                    hog.kill()
                    hog.wait()
    print(f"median step time of the demo ({args.steps} steps, {cores} cores, load before: {load_before:.1f})")
    print(f"{'OpenMP waiting':24} {'idle (s)':>9} {f'{cores} hogs (s)':>12} {'busy/idle':>10} "
          f"{'idle vs default':>16} {'busy vs default':>16}")
    for name in VARIANTS:
        idle, busy = results[name, "idle"], results[name, "busy"]
        print(f"{name:24} {idle:9.3f} {busy:12.3f} {busy / idle:9.2f}x "
              f"{idle / results[BASELINE, 'idle']:15.2f}x {busy / results[BASELINE, 'busy']:15.2f}x")


if __name__ == "__main__":
    main()
