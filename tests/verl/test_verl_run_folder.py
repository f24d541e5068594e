"""`polsplit train --backend verl` run folders (--out / --resume) and `polsplit export`, without vLLM.

The launcher is driven up to verl's entry point (``--dry-run``, or ``run_ppo`` replaced where a
launch must end at once); ``polsplit export`` runs verl's real model merger on an actor
checkpoint written here the way verl writes one for a single rank. The whole loop with vLLM is
``test_verl_e2e.py``.
"""

from __future__ import annotations

import json
import sys

import pytest

pytest.importorskip("verl")
pytestmark = pytest.mark.verl

import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from polsplit_cli import cli  # noqa: E402
from polsplit_cli.errors import UserError  # noqa: E402
from polsplit_cli.models import TINY_CHECKPOINT, load_model  # noqa: E402
from polsplit_cli.train.verl import launch as verl_launch  # noqa: E402
from polsplit_cli.train.verl.export import export, find_actor_checkpoint  # noqa: E402


def _polsplit(monkeypatch, capsys, *args):
    capsys.readouterr()  # only what the command prints
    monkeypatch.setattr(sys, "argv", ["polsplit", *args])
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    captured = capsys.readouterr()
    return stopped.value.code, captured.out, captured.err


def _one_line_error(code, err, fragment):
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and fragment in lines[0], err


def _verl_manifest(run_dir, **fields):
    run_dir.mkdir(parents=True)
    manifest = {"kind": "train", "backend": "verl", "algo": "grpo", "config_file": None,
                "overrides": ["data.train_batch_size=128"], "checkpoints": str(run_dir / "checkpoints"),
                "launches": [{"command": ["polsplit"], "metrics": "metrics.jsonl", "status": "finished"}], **fields}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def test_out_puts_checkpoints_and_metrics_in_the_run_folder(tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    code, out, _ = _polsplit(monkeypatch, capsys, "train", "--backend", "verl", "--out", str(run_dir), "--model",
                             "tiny", "--dry-run")
    assert code == 0
    cfg = OmegaConf.create(out)
    assert cfg.trainer.default_local_dir == str((run_dir / "checkpoints").resolve())
    assert "file" in cfg.trainer.logger and "console" in cfg.trainer.logger
    assert cfg.actor_rollout_ref.model.path == str(TINY_CHECKPOINT)
    assert not run_dir.exists()  # a dry run writes nothing


def test_resume_composes_the_runs_own_overrides_under_new_ones(tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    _verl_manifest(run_dir)
    code, out, _ = _polsplit(monkeypatch, capsys, "train", "--backend", "verl", "--resume", str(run_dir),
                             "trainer.total_training_steps=5", "data.train_batch_size=64", "--dry-run")
    assert code == 0
    cfg = OmegaConf.create(out)
    assert cfg.policy_split.algorithm == "grpo"  # the run's algorithm, not the default
    assert cfg.trainer.total_training_steps == 5 and cfg.data.train_batch_size == 64  # new overrides win
    assert cfg.trainer.default_local_dir == str((run_dir / "checkpoints").resolve())
    assert cfg.trainer.resume_mode == "auto"


@pytest.mark.parametrize(("setup", "args", "fragment"), [
    ("verl", ["--out", "{run}"], "already holds a run"),
    ("verl", ["--resume", "{run}", "--config", "x.yaml"], "--config cannot change"),
    ("verl", ["--resume", "{run}", "--algo", "policy-split"], "cannot change on --resume"),
    ("verl", ["--resume", "{run}", "--out", "{run}"], "give one"),
    ("local", ["--resume", "{run}"], "local-trainer run"),
    ("none", ["--resume", "{run}"], "no manifest.json"),
])
def test_run_folder_mistakes_are_one_line_errors(tmp_path, monkeypatch, capsys, setup, args, fragment):
    run_dir = tmp_path / "run"
    if setup == "verl":
        _verl_manifest(run_dir)
    elif setup == "local":
        run_dir.mkdir()
        (run_dir / "manifest.json").write_text(json.dumps({"kind": "train", "config": {}}))
    else:
        run_dir.mkdir()
    code, _, err = _polsplit(monkeypatch, capsys, "train", "--backend", "verl",
                             *[a.format(run=run_dir) for a in args], "--dry-run")
    _one_line_error(code, err, fragment)


@pytest.mark.parametrize(("raised", "status", "code"), [(KeyboardInterrupt, "interrupted", 130),
                                                          (RuntimeError, "failed", None)])
def test_each_launch_leaves_its_status_in_the_manifest(tmp_path, monkeypatch, raised, status, code):
    import verl.trainer.main_ppo

    def stop(cfg, task_runner_class):
        raise raised("stopped")

    monkeypatch.setattr(verl.trainer.main_ppo, "run_ppo", stop)
    for name in ("VERL_USE_EXTERNAL_MODULES", "VERL_FILE_LOGGER_PATH"):  # launch() exports them
        monkeypatch.setenv(name, "")
    run_dir = tmp_path / "run"
    if code is None:
        with pytest.raises(raised):
            verl_launch.launch("grpo", run_dir=run_dir, overrides=["actor_rollout_ref.model.path=tiny"])
    else:
        assert verl_launch.launch("grpo", run_dir=run_dir, overrides=["actor_rollout_ref.model.path=tiny"]) == code
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == status and manifest["launches"][-1]["status"] == status
    assert manifest["launches"][-1]["metrics"] == "metrics.jsonl" and manifest["last_checkpoint"] is None
    assert manifest["versions"]["verl"] == "0.9.1" and manifest["config"]["policy_split"]["algorithm"] == "grpo"


def _actor_checkpoint(folder, step: int = 3):
    """A single-rank actor checkpoint as verl writes it: state dict shard, fsdp_config.json, huggingface/."""
    model, tokenizer = load_model("tiny")
    actor = folder / f"global_step_{step}" / "actor"
    (actor / "huggingface").mkdir(parents=True)
    with torch.no_grad():  # trained weights (in place, so the tied lm_head stays the embedding)
        for parameter in model.parameters():
            parameter.add_(0.01 * torch.randn_like(parameter))
    state = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    torch.save(state, actor / "model_world_size_1_rank_0.pt")
    (actor / "fsdp_config.json").write_text(json.dumps({"FSDP_version": 2, "world_size": 1}))
    model.config.save_pretrained(actor / "huggingface")
    tokenizer.save_pretrained(actor / "huggingface")
    (folder / "latest_checkpointed_iteration.txt").write_text(str(step))
    return state


def test_export_writes_the_checkpoint_as_a_loadable_bfloat16_model(tmp_path):
    state = _actor_checkpoint(tmp_path / "checkpoints")
    assert export(tmp_path, tmp_path / "hf") == 3  # a folder holding checkpoints/, newest step
    model, _ = load_model(tmp_path / "hf")
    loaded = model.state_dict()
    for name, tensor in state.items():
        assert torch.equal(loaded[name].to(torch.bfloat16), tensor.to(torch.bfloat16)), name
    provenance = json.loads((tmp_path / "hf/polsplit_export.json").read_text())
    assert provenance["step"] == 3 and provenance["dtype"] == "bfloat16"


def test_export_finds_the_actor_folder_from_a_verl_run_folder(tmp_path):
    _verl_manifest(tmp_path / "run", checkpoints=str(tmp_path / "elsewhere"))
    _actor_checkpoint(tmp_path / "elsewhere", step=4)
    actor, step = find_actor_checkpoint(tmp_path / "run")
    assert step == 4 and actor == tmp_path / "elsewhere/global_step_4/actor"
    assert find_actor_checkpoint(actor) == (actor, 4)


@pytest.mark.parametrize(("args", "fragment"), [
    (["{tmp}/absent", "--out", "{tmp}/o"], "is not a folder"),
    (["{tmp}/ckpt", "--out", "{tmp}/o", "--step", "9"], "steps saved: 3"),
    (["{tmp}/empty", "--out", "{tmp}/o"], "no verl checkpoint"),
    (["{tmp}/ckpt", "--out", "{tmp}/ckpt"], "not empty"),
])
def test_export_mistakes_are_one_line_errors(tmp_path, monkeypatch, capsys, args, fragment):
    _actor_checkpoint(tmp_path / "ckpt")
    (tmp_path / "empty").mkdir()
    code, _, err = _polsplit(monkeypatch, capsys, "export", *[a.format(tmp=tmp_path) for a in args])
    _one_line_error(code, err, fragment)


def test_launch_without_a_run_folder_is_refused_on_resume():
    with pytest.raises(UserError, match="needs the run folder"):
        verl_launch.launch("grpo", resume=True, dry_run=True)
