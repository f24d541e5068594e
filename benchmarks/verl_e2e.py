"""Every algorithm once on verl + real vLLM (CPU): exit status, step time by phase, the algorithm's metrics.

Runs ``polsplit train --backend verl --algo A`` for each of the eight presets on the same setup as
``tests/verl/test_verl_e2e.py`` (tiny model, G = 4, 2 questions per step, ``tests/verl/cpu_e2e.yaml``)
for ``--steps`` steps and reads verl's own file-logger metrics. Phases are verl's timers: ``gen``
(vLLM rollouts and the reward), ``old_log_prob``, ``adv``, ``update_actor``, ``update_weights`` (the
sync into vLLM); ``step`` is the whole step. The ratio rows divide each phase of policy-split and
grpo-sharing by grpo's, measured in this same run. Needs the end-to-end venv (docs/verl.md).

    python benchmarks/verl_e2e.py [--steps 2] [--algos grpo,policy-split] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "verl"))

from e2e_harness import CPU_CONFIG, StalledRun, cpu_env, run  # noqa: E402

from polsplit_cli.data.arithmetic import arithmetic_problems  # noqa: E402

ALGOS = ("grpo", "forking-tokens", "clip-cov", "entropy-driven-advantage", "entropy-regularization",
         "entropy-advantage", "grpo-sharing", "policy-split")
PHASES = ("gen", "old_log_prob", "adv", "update_actor", "update_weights", "step")
SHOWN = ("critic/score/mean", "actor/entropy", "actor/pg_loss", "actor/grad_norm", "actor/pg_clipfrac",
         "response_length/mean", "prompt_length/mean")
TIMEOUT_S = 1500


def _prepare(work: Path) -> tuple[Path, Path]:
    import subprocess

    qa = work / "qa.jsonl"
    qa.write_text("".join(json.dumps({"question": p["question"], "answer": p["answer"]}) + "\n"
                          for p in arithmetic_problems(40, seed=0)))
    polsplit = str(Path(sys.executable).with_name("polsplit"))
    subprocess.run([polsplit, "prepare", "--data-file", str(qa), "--out", str(work / "data"), "--size", "32",
                    "--val-size", "8"], check=True, capture_output=True)
    return work / "data/train.parquet", work / "data/val.parquet"


def run_algo(algo: str, work: Path, train: Path, val: Path, steps: int) -> dict:
    run_dir = work / algo
    try:
        launch = run(["train", "--backend", "verl", "--algo", algo, "--config", str(CPU_CONFIG), "--out", str(run_dir),
                      "--model", "tiny", f"data.train_files={train}", f"data.val_files={val}",
                      f"trainer.total_training_steps={steps}", "trainer.save_freq=-1"],
                     cpu_env(work), work / f"{algo}.log", timeout_s=TIMEOUT_S)
    except StalledRun as stalled:
        return {"algo": algo, "exit": "timeout", "error": str(stalled)}
    metrics_file = run_dir / "metrics.jsonl"
    records = [json.loads(line) for line in metrics_file.read_text().splitlines()] if metrics_file.exists() else []
    if launch.returncode != 0 or not records:
        return {"algo": algo, "exit": launch.returncode, "error": launch.log.splitlines()[-1:] or ["no output"]}
    last = records[-1]["data"]  # the first step also pays one-off warm-ups
    return {
        "algo": algo, "exit": launch.returncode, "wall_s": launch.seconds, "step": records[-1]["step"],
        "phases": {phase: last.get(f"timing_s/{phase}", 0.0) for phase in PHASES},
        "metrics": {k: v for k, v in last.items() if k.startswith("policy_split/") or k in SHOWN},
    }


def print_table(results: list[dict]) -> None:
    print(f"{'algorithm':26} {'exit':>5} " + " ".join(f"{p:>13}" for p in PHASES) + "   (seconds, last step)")
    for r in results:
        phases = r.get("phases")
        cells = " ".join(f"{phases[p]:13.2f}" for p in PHASES) if phases else f"  {r.get('error')}"
        print(f"{r['algo']:26} {r['exit']!s:>5} {cells}")
    by = {r["algo"]: r for r in results if r.get("phases")}
    if "grpo" in by:
        base = by["grpo"]["phases"]
        for algo in ("policy-split", "grpo-sharing"):
            if algo in by:
                ratios = " ".join(f"{by[algo]['phases'][p] / base[p]:12.2f}x" if base[p] else f"{'-':>13}" for p in PHASES)
                print(f"{algo + ' / grpo':26} {'':>5} {ratios}")
    print()
    for r in results:
        if r.get("metrics"):
            shown = ", ".join(f"{k}={v:.4g}" for k, v in sorted(r["metrics"].items()))
            print(f"{r['algo']}: {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2, help="steps per run; the last one is reported")
    parser.add_argument("--algos", default=",".join(ALGOS))
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="verl-bench-") as tmp:
        work = Path(tmp)
        train, val = _prepare(work)
        results = []
        for algo in args.algos.split(","):
            results.append(run_algo(algo, work, train, val, args.steps))
            print(f"{algo}: exit {results[-1]['exit']}", file=sys.stderr, flush=True)
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    sys.exit(0 if all(r["exit"] == 0 for r in results) else 1)


if __name__ == "__main__":
    main()
