"""`polsplit train` from the command line: one-line errors (exit 2), dry runs, Ctrl-C, resume."""

import importlib.util
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

NO_CUDA = pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
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
    (["-G", "1", "--algo", "grpo-sharing"], "group-size must be >= 2"),
    (["-G", "1", "--algo", "grpo"], "must be >= 2"),
    (["--algo", "ppo"], "unknown algorithm 'ppo'"),
    (["learning_rate=3"], "unknown key 'learning_rate'"),
    (["--grader", "exact"], "grader must be one of prm800k, math-verify, combined"),
    (["--device", "gpu0"], "--device must be one of auto, cpu, cuda"),
    pytest.param(["--device", "cuda"], "--device cuda: ", marks=NO_CUDA),
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


@pytest.mark.parametrize(("args", "fragment"), [
    (["--lr", "-1"], "--lr must be > 0, got -1"),
    (["--data", "{missing}"], "file not found"),
    (["--model", "{missing}"], "does not exist"),
    (["--algo", "ppo"], "unknown algorithm 'ppo'"),
    (["--answer-region", "end"], "--answer-region must be one of after-think, whole, auto"),
])
def test_input_mistakes_are_reported_before_torch_loads(tmp_path, args, fragment):
    """The check runs in a fresh interpreter: torch must still be unimported when the error comes."""
    args = [a.replace("{missing}", str(tmp_path / "missing")) for a in args]
    probe = ("import sys\nfrom polsplit_cli import cli\nsys.argv = ['polsplit', 'train', *sys.argv[1:]]\n"
             "try:\n    cli.main()\nexcept SystemExit as stop:\n"
             "    print(stop.code, 'torch' in sys.modules, 'transformers' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", probe, *args, "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["2", "False", "False"], (done.stdout, done.stderr)
    assert_one_line_error(2, done.stderr, fragment)
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(importlib.util.find_spec("trackio") is not None, reason="trackio is installed")
def test_missing_logger_package_names_the_pip_install(monkeypatch, capsys, tmp_path):
    code, _, err = run_main(monkeypatch, capsys, "--logger", "tensorboard,trackio", *SMALL, "--out", str(tmp_path / "run"))
    assert_one_line_error(code, err, "--logger trackio needs the trackio package: pip install trackio")
    assert not (tmp_path / "run").exists()


def test_help_shows_defaults_and_the_key_value_knobs(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run_main(monkeypatch, capsys, "--help")
    assert code == 0
    lines = {line.split()[1]: line for line in out.splitlines() if line.strip().startswith("│ --")}
    assert "(default: 3e-06; demo: 0.0001)" in lines["--lr"]
    for flag in ("--quiet", "--dry-run", "--sharing"):
        assert "<bool>" not in lines[flag], lines[flag]
    assert "threads (default 0; demo: 2): CPU threads for torch" in out
    assert "eval_size (default 100): Held-out questions" in out
