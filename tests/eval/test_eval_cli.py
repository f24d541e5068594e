"""``polsplit eval`` end to end through the CLI on the tiny model: files, table, pairing, resume after a kill,
and one-line errors (exit 2) for bad input."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NO_CUDA = pytest.mark.skipif(importlib.util.find_spec("torch") is None or __import__("torch").cuda.is_available(),
                             reason="needs a machine without CUDA")
RECORD_KEYS = {"benchmark", "problem_id", "mode", "sample", "model", "question", "user_text", "seed", "prompt_hash",
               "prompt_token_ids", "response_token_ids", "response", "response_tokens", "finish_reason", "gold",
               "extracted", "correct", "grade_reason", "grade_prm800k", "grade_math_verify", "entropy_bits_sum", "entropy_bits_sum_tempered",
               "entropy_tokens"}


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]


def invoke(*args: str):
    """``polsplit ARGS`` in this process (typer's CliRunner): the model libraries are imported once."""
    from typer.testing import CliRunner

    from polsplit_cli.cli import app

    return CliRunner().invoke(app, list(args))


def test_two_modes_end_to_end(cli, tmp_path):
    out = tmp_path / "run"
    common = ["eval", "--model", "tiny", "--benchmarks", "arithmetic", "--limit", "4", "--out", str(out)]
    result = invoke(*common, "--mode", "normal", "--mode", "high-entropy", "--n", "2", "--max-new-tokens", "24")
    assert result.exit_code == 0, result.output
    for name in ("samples.jsonl", "summary.json", "manifest.json"):
        assert (out / name).is_file()
    assert "polsplit eval: 2 samples per problem" in result.stdout and "high-entropy" in result.stdout

    records = _records(out)
    assert len(records) == 4 * 2 * 2 and all(set(r) == RECORD_KEYS for r in records)
    assert Counter(r["mode"] for r in records) == {"normal": 8, "high-entropy": 8}
    by_key = {(r["problem_id"], r["sample"], r["mode"]): r for r in records}
    for (problem, sample, mode), r in by_key.items():
        assert r["response_tokens"] == len(r["response_token_ids"]) == r["entropy_tokens"] <= 24
        assert r["finish_reason"] in ("stop", "length") and isinstance(r["correct"], bool)
        assert 0 < r["entropy_bits_sum_tempered"] and 0 < r["entropy_bits_sum"]
        if mode == "normal":  # paired: same question, user turn and seed in the other mode, other prompt
            twin = by_key[(problem, sample, "high-entropy")]
            assert (twin["seed"], twin["user_text"]) == (r["seed"], r["user_text"])
            assert twin["prompt_hash"] != r["prompt_hash"]
    assert len({r["seed"] for r in records}) == 8  # 4 problems x 2 samples

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "eval" and manifest["modes"]["normal"] is None
    assert manifest["modes"]["high-entropy"].strip()
    assert manifest["sampling"] == {"temperature": 0.6, "top_k": 20, "top_p": 0.95, "max_new_tokens": 24, "seed": 0}
    assert manifest["benchmarks"]["arithmetic"] == {"kind": "math", "problems": 4, "source": {"builtin": "arithmetic"}}
    assert manifest["grading"] == {"grader": "combined", "answer_region": "auto", "timeout_s": 5.0,
                                   "versions": {name: importlib.metadata.version(name)
                                                for name in ("math-verify", "latex2sympy2_extended", "sympy")}}
    for r in records:  # each checker's verdict: the PRM800K path always runs; math-verify when it had to
        assert r["grade_prm800k"] in (True, False, None) and r["grade_math_verify"] in (True, False, None)
        assert r["correct"] == bool(r["grade_prm800k"] or r["grade_math_verify"]) or r["grade_reason"] == "numeric-equal"
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["benchmarks"]["arithmetic"]) == {"normal", "high-entropy"}

    again = invoke(*common, "--mode", "normal", "--n", "2", "--max-new-tokens", "24", "--resume", str(out), "--json")
    assert again.exit_code == 0, again.output
    assert len(_records(out)) == 16  # nothing left to do
    assert json.loads(again.stdout)["benchmarks"]["arithmetic"]["normal"]["samples"] == 8

    refused = cli(*common, "--n", "2", "--max-new-tokens", "25", "--resume", str(out))
    assert refused.returncode == 2 and "use a new --out" in refused.stderr
    regraded = cli(*common, "--n", "2", "--max-new-tokens", "24", "--grader", "prm800k", "--resume", str(out))
    assert regraded.returncode == 2 and "graded with grader='combined'" in regraded.stderr
    not_resumed = cli(*common, "--n", "2", "--max-new-tokens", "24")
    assert not_resumed.returncode == 2 and f"pass --resume {out} to continue" in not_resumed.stderr


# 24 samples one at a time: long enough to be stopped part-way
PART_WAY = ["eval", "--model", "tiny", "--benchmarks", "arithmetic", "--n", "4", "--limit", "6", "--batch-size", "1",
            "--max-new-tokens", "24"]


def start_eval(args: list[str], samples: Path, *, lines: int, **popen) -> subprocess.Popen:
    """``polsplit ARGS`` in a new process, returned once ``samples`` holds ``lines`` lines (or it ended)."""
    # Ctrl-C raises KeyboardInterrupt as in a terminal even when this suite was started in the
    # background, where the shell makes its children inherit SIGINT ignored.
    program = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); from polsplit_cli.cli import main; main()"
    process = subprocess.Popen([sys.executable, "-c", program, *args],
                               env=os.environ.copy(), **popen)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if samples.exists() and samples.read_text().count("\n") >= lines:
            break
        time.sleep(0.02)
    return process


def test_resume_after_kill_completes_without_duplicates(tmp_path):
    out = tmp_path / "killed"
    args = [*PART_WAY, "--out", str(out), "--quiet"]
    process = start_eval(args, out / "samples.jsonl", lines=3, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples = out / "samples.jsonl"
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = samples.read_text().splitlines(keepends=True)
    complete = [line for line in before if line.endswith("\n")]
    assert 3 <= len(complete) < 24, "the run should have been killed part-way"

    result = invoke(*args, "--resume", str(out))
    assert result.exit_code == 0, result.output
    after = samples.read_text().splitlines(keepends=True)
    assert after[: len(complete)] == complete  # what was written survives untouched
    keys = [(r["problem_id"], r["sample"]) for r in map(json.loads, after)]
    assert len(keys) == len(set(keys)) == 24


@pytest.mark.parametrize(("args", "message"), [
    (["--benchmarks", "gsm8k"], "unknown benchmark 'gsm8k'"),
    (["--benchmarks", "arithmetic", "--mode", "chaotic"], "unknown mode 'chaotic'"),
    (["--data-file", str(FIXTURES / "not-there.jsonl")], "file not found"),
    (["--benchmarks", "arithmetic", "--top-p", "1.5"], "--top-p must be in (0, 1], got 1.5"),
    (["--benchmarks", "arithmetic", "--n", "0"], "--n must be >= 1, got 0"),
    (["--benchmarks", "arithmetic", "--batch-size", "0"], "--batch-size must be >= 1, got 0"),
    (["--data-file", str(FIXTURES)], f"{FIXTURES}: is a folder, not a JSONL file"),
    (["--benchmarks", "arithmetic", "--model", "no-such-model"], "model path no-such-model does not exist"),
    (["--benchmarks", "arithmetic", "--device", "gpu0"], "--device gpu0: not a torch device"),
    pytest.param(["--benchmarks", "arithmetic", "--device", "cuda"], "--device cuda: ", marks=NO_CUDA),
    (["--benchmarks", "arithmetic", "--grader", "exact"], "unknown --grader 'exact'"),
    (["--benchmarks", "arithmetic", "--answer-region", "after"], "unknown --answer-region 'after'"),
    pytest.param(["--benchmarks", "arithmetic", "--backend", "vllm"], "vllm is not installed: pip install",
                 marks=pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")),
])
def test_bad_input_is_one_line_exit_2(cli, tmp_path, args, message):
    result = cli("eval", "--model", "tiny", "--out", str(tmp_path / "o"), *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr
    assert not (tmp_path / "o").exists()  # nothing written for a rejected command


def test_malformed_data_file_is_one_line_exit_2(cli, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "What is 1+1?", "answer": "2"}\n{"question": "", "answer": "3"}\n')
    result = cli("eval", "--model", "tiny", "--data-file", str(bad), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: {bad}:2: field 'question' must be a non-empty string"]


def test_all_modes_a_mode_file_and_a_gpqa_schema_data_file(tmp_path):
    mode_file = tmp_path / "pirate.txt"
    mode_file.write_text("Answer like a pirate.\n")
    out = tmp_path / "modes"
    result = invoke("eval", "--model", "tiny", "--benchmarks", "gpqa-diamond", "--data-file",
                    str(FIXTURES / "gpqa_synthetic.jsonl"), "--mode", "all", "--mode", str(mode_file), "--n", "1",
                    "--limit", "2", "--max-new-tokens", "2", "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    records = _records(out)
    assert Counter(r["mode"] for r in records) == {m: 2 for m in ("normal", "high-entropy", "rewritten-high-entropy",
                                                                  "low-entropy", "pirate")}
    for problem in ("synthetic-0", "synthetic-1"):  # one option order for every mode
        assert len({r["user_text"] for r in records if r["problem_id"] == problem}) == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["modes"]["pirate"] == "Answer like a pirate."
    assert manifest["benchmarks"]["gpqa-diamond"]["source"]["data_file"].endswith("gpqa_synthetic.jsonl")


def test_creative_prompts_are_generated_not_graded(tmp_path):
    out = tmp_path / "creative"
    result = invoke("eval", "--model", "tiny", "--benchmarks", "creative", "--n", "1", "--limit", "2",
                    "--max-new-tokens", "3", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert [r["correct"] for r in _records(out)] == [None, None]
    assert json.loads(result.stdout)["benchmarks"]["creative"]["normal"]["accuracy"] is None


def test_a_template_that_opens_the_thought_is_graded_as_thinking():
    from polsplit_cli.eval.runner import prompt_opens_thought

    assert prompt_opens_thought("<|im_start|>assistant\n<think>\n")  # DeepSeek-R1 style: the model's turn is a thought
    assert not prompt_opens_thought("<|im_start|>assistant\n")  # Qwen3 thinks in its own words, or not at all
    assert not prompt_opens_thought("<|im_start|>assistant\n<think>\n\n</think>\n\n")  # thinking switched off


def test_progress_lines_and_an_uncut_table_when_not_on_a_terminal(cli, tmp_path):
    """Output redirected (CI, nohup, a scheduler): plain progress lines on stderr instead of nothing,
    and the table at its full width instead of cut to 80 columns."""
    result = cli("eval", "--model", "tiny", "--benchmarks", "arithmetic", "--limit", "2", "--n", "2", "--mode", "normal",
                 "--mode", "high-entropy", "--max-new-tokens", "8", "--out", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stderr.splitlines() if line.startswith("sampling: ")]
    assert progress[0] == "sampling: 0/8 (0%), elapsed 0s"
    assert progress[-1].startswith("sampling: 8/8 (100%), ") and "elapsed" in progress[-1]
    header = next(line for line in result.stdout.splitlines() if "benchmark" in line)
    assert "no </think> %" in header and len(header) > 80


def test_rejected_runs_leave_no_run_folder_and_load_no_torch(tmp_path):
    """A mistake is reported before torch loads and before runs/eval-<time> exists; a model that
    fails to load after the folder was made takes its (empty) folder with it."""
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    probe = ("import sys\nfrom polsplit_cli.cli import main\nsys.argv = ['polsplit', *sys.argv[1:]]\n"
             "try:\n    main()\nfinally:\n    print('torch' in sys.modules)")
    for args, torch_loaded in ((["--n", "0"], False), (["--model", "nope"], False), (["--model", str(broken)], True)):
        model = [] if "--model" in args else ["--model", "tiny"]
        result = subprocess.run([sys.executable, "-c", probe, "eval", *model, "--benchmarks", "arithmetic", *args],
                                capture_output=True, text=True, timeout=300, cwd=tmp_path, env=os.environ.copy())
        assert result.returncode == 2 and result.stderr.startswith("error: "), result.stderr
        assert result.stdout.split() == [str(torch_loaded)], (args, result.stdout)
        assert not list(tmp_path.glob("runs/eval-*")), args


def test_resume_takes_the_run_folder(cli, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    common = ["eval", "--model", "tiny", "--benchmarks", "arithmetic"]
    for args, message in ((["--resume", str(tmp_path / "nope")], "--resume " + str(tmp_path / "nope") + ": no such"),
                          (["--resume", "--json"], "--resume takes the run folder to continue (--resume RUN_DIR)"),
                          (["--out", str(tmp_path), "--resume", str(out)], "--out and --resume name the run folder")):
        result = cli(*common, *args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"error: {message}"), result.stderr
    assert not any(out.iterdir())  # nothing written into the folder named


def test_ctrl_c_prints_the_resume_command_and_exits_130(tmp_path):
    out = tmp_path / "interrupted"
    samples = out / "samples.jsonl"
    process = start_eval([*PART_WAY, "--out", str(out)], samples, lines=2, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         start_new_session=True)  # its own process group, as a terminal's Ctrl-C signals
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("interrupted: ") and " resume with: polsplit eval --model tiny " in last, stderr
    hint = shlex.split(last.split("resume with: ", 1)[1])
    assert hint[-2:] == ["--resume", str(out)] and "--out" not in hint
    written = samples.read_text().count("\n")
    assert 2 <= written < 24, "the run should have stopped part-way"

    result = invoke(*hint[1:], "--quiet")  # the printed command finishes the run
    assert result.exit_code == 0, result.output
    keys = [(r["problem_id"], r["sample"]) for r in _records(out)]
    assert len(keys) == len(set(keys)) == 24


def test_unreachable_hub_says_pass_data_file_without_retrying(tmp_path):
    """Without HF_HUB_OFFLINE and without a hub, datasets used to retry for ~30 s first."""
    with socket.socket() as probe:  # a loopback port nothing listens on: connecting is refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if not key.endswith("_OFFLINE")}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{port}", HF_HOME=str(tmp_path / "hf"))
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", "from polsplit_cli.cli import main; main()", "eval", "--model",
                             "tiny", "--benchmarks", "math-500", "--out", str(tmp_path / "o")],
                            capture_output=True, text=True, timeout=120, env=env)
    elapsed = time.monotonic() - started
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "the Hugging Face hub cannot be reached" in lines[0], result.stderr
    assert "pass --data-file FILE.jsonl" in lines[0] and "Retry" not in result.stderr
    assert elapsed < 20, elapsed  # datasets' retries alone sleep 1 + 2 + 4 + 8 + 8 s
    assert not (tmp_path / "o").exists()
