"""``polsplit eval`` end to end through the CLI on the tiny model: files, table, pairing, resume after a kill,
and one-line errors (exit 2) for bad input."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
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

    again = invoke(*common, "--mode", "normal", "--n", "2", "--max-new-tokens", "24", "--resume", "--json")
    assert again.exit_code == 0, again.output
    assert len(_records(out)) == 16  # nothing left to do
    assert json.loads(again.stdout)["benchmarks"]["arithmetic"]["normal"]["samples"] == 8

    refused = cli(*common, "--n", "2", "--max-new-tokens", "25", "--resume")
    assert refused.returncode == 2 and "use a new --out" in refused.stderr
    regraded = cli(*common, "--n", "2", "--max-new-tokens", "24", "--grader", "prm800k", "--resume")
    assert regraded.returncode == 2 and "graded with grader='combined'" in regraded.stderr
    not_resumed = cli(*common, "--n", "2", "--max-new-tokens", "24")
    assert not_resumed.returncode == 2 and "pass --resume" in not_resumed.stderr


def test_resume_after_kill_completes_without_duplicates(tmp_path):
    out = tmp_path / "killed"
    args = ["eval", "--model", "tiny", "--benchmarks", "arithmetic", "--n", "4", "--limit", "6", "--batch-size", "1",
            "--max-new-tokens", "24", "--out", str(out), "--quiet"]
    code = "from polsplit_cli.cli import main; main()"
    process = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=os.environ.copy())
    samples = out / "samples.jsonl"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        if samples.exists() and samples.read_text().count("\n") >= 3:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = samples.read_text().splitlines(keepends=True)
    complete = [line for line in before if line.endswith("\n")]
    assert 3 <= len(complete) < 24, "the run should have been killed part-way"

    result = invoke(*args, "--resume")
    assert result.exit_code == 0, result.output
    after = samples.read_text().splitlines(keepends=True)
    assert after[: len(complete)] == complete  # what was written survives untouched
    keys = [(r["problem_id"], r["sample"]) for r in map(json.loads, after)]
    assert len(keys) == len(set(keys)) == 24


@pytest.mark.parametrize(("args", "message"), [
    (["--benchmarks", "gsm8k"], "unknown benchmark 'gsm8k'"),
    (["--benchmarks", "arithmetic", "--mode", "chaotic"], "unknown mode 'chaotic'"),
    (["--data-file", str(FIXTURES / "not-there.jsonl")], "file not found"),
    (["--benchmarks", "arithmetic", "--top-p", "1.5"], "--top-p 1.5 is out of range"),
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
