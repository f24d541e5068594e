"""`polsplit train` from the command line: one-line errors (exit 2), dry runs, Ctrl-C, resume."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from train_fixtures import read_metrics

from polsplit_cli import cli
from polsplit_cli.models import load_model

SMALL = ["--steps", "2", "-Q", "2", "-G", "4", "--max-new-tokens", "8", "eval_size=0", "threads=1", "--quiet"]


def run_main(monkeypatch, capsys, *args):
    """Run the console entry point in-process; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["polsplit", "train", *args])
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    captured = capsys.readouterr()
    return stopped.value.code, captured.out, captured.err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.mark.parametrize(("flags", "fragment"), [
    (["-G", "3"], "group-size must be even"),
    (["-G", "1", "--algo", "grpo-sharing"], "group-size must be even"),
    (["-G", "1", "--algo", "grpo"], "must be >= 2"),
    (["--algo", "ppo"], "unknown algorithm 'ppo'"),
    (["learning_rate=3"], "unknown key 'learning_rate'"),
    (["--grader", "exact"], "grader must be one of prm800k, math-verify, combined"),
])
def test_bad_settings_are_one_line_errors(monkeypatch, capsys, tmp_path, flags, fragment):
    code, _, err = run_main(monkeypatch, capsys, *flags, "--out", str(tmp_path / "run"))
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "run").exists()


def test_bad_model_path_is_a_one_line_error(monkeypatch, capsys, tmp_path):
    code, _, err = run_main(monkeypatch, capsys, "--model", str(tmp_path / "no-such-model"), *SMALL,
                            "--out", str(tmp_path / "run"))
    assert_one_line_error(code, err, "no-such-model", "does not exist")


def test_malformed_jsonl_names_file_and_line(monkeypatch, capsys, tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text('{"question": "What is 1+1?", "answer": 2}\n{"question": "What is 2+2?", "answer": \n')
    code, _, err = run_main(monkeypatch, capsys, "--data", str(data), *SMALL, "--out", str(tmp_path / "run"))
    assert_one_line_error(code, err, f"{data}:2", "malformed JSON")


def test_dry_run_prints_the_resolved_config(monkeypatch, capsys, tmp_path):
    code, out, _ = run_main(monkeypatch, capsys, "--dry-run", "--algo", "grpo", "--eta", "0.5", "eval_every=3")
    assert code in (0, None)
    resolved = yaml.safe_load(out)
    assert (resolved["algo"], resolved["eta"], resolved["eval_every"]) == ("grpo", 0.5, 3)


def test_ctrl_c_saves_a_loadable_checkpoint_and_resume_continues(tmp_path):
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, "-m", "polsplit_cli.cli", "train", "--steps", "500", "-Q", "2", "-G", "4",
            "--max-new-tokens", "8", "eval_size=0", "threads=1", "--quiet", "--out", str(run_dir)]
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = run_dir / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not metrics.exists() or not metrics.read_text().strip()):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "resume with: polsplit train --resume" in err
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    last = manifest["last_step"]
    assert 1 <= last < 500
    assert read_metrics(run_dir)[-1]["step"] == last
    checkpoints = sorted((run_dir / "checkpoints").iterdir())
    assert [p.name for p in checkpoints] == [f"step-{last:06d}"]  # complete, no temporary folder left
    load_model(str(checkpoints[0]))

    resumed = subprocess.run([sys.executable, "-m", "polsplit_cli.cli", "train", "--resume", str(run_dir),
                              "--steps", str(last + 1), "--quiet"], env=env, capture_output=True, text=True,
                             timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert [r["step"] for r in read_metrics(run_dir)] == list(range(1, last + 2))
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "finished"


def test_verl_backend_refuses_local_only_flags(monkeypatch, capsys):
    code, _, err = run_main(monkeypatch, capsys, "--backend", "verl", "--steps", "3")
    assert_one_line_error(code, err, "--steps is a local-trainer flag")
