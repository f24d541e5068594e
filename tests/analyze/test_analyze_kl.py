"""`analyze kl` on the tiny built-in model against a naive float64 full-softmax computation."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from analyze_fixtures import HE_TEXT, run_cli, sample, write_eval_run

from polsplit_cli.analyze.kl import summarize

QUESTIONS = ["What is 12+7?", "What is 40+33?"]


@pytest.fixture(scope="module")
def tiny():
    from polsplit_cli.models import load_model

    return load_model("tiny")


@pytest.fixture(scope="module")
def he_run(tiny, tmp_path_factory):
    """An eval run with 2 generated HE responses per question (and a normal sample, ignored by kl)."""
    from polsplit_cli.models import render_prompt_ids
    from polsplit_cli.modes import Mode

    model, tokenizer = tiny
    he = Mode("high-entropy", HE_TEXT)
    torch.manual_seed(0)
    records = []
    for p, question in enumerate(QUESTIONS):
        prompt = render_prompt_ids(tokenizer, he.messages(question))
        for s in range(2):
            output = model.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                                    do_sample=True, max_new_tokens=4 + 3 * s, pad_token_id=tokenizer.pad_token_id)
            response = output[0, len(prompt):].tolist()
            records.append(sample("arithmetic", f"p{p}", "high-entropy", s, False, tokens=len(response),
                                  user_text=question, prompt_token_ids=prompt, response_token_ids=response))
    records.append(sample("arithmetic", "p0", "normal", 0, True, user_text=QUESTIONS[0], prompt_token_ids=[1, 2],
                          response_token_ids=[3]))
    return write_eval_run(tmp_path_factory.mktemp("kl") / "run", records), records[:-1]


def naive_kl_bits(model, tokenizer, record) -> tuple[float, float]:
    """Summed forward and reverse KL (bits) from the full [T, V] logits of two float64 model calls."""
    from polsplit_cli.models import render_prompt_ids

    normal_prompt = render_prompt_ids(tokenizer, [{"role": "user", "content": record["user_text"]}])
    response = record["response_token_ids"]
    logp = []
    for prompt in (record["prompt_token_ids"], normal_prompt):
        with torch.no_grad():
            logits = model(torch.tensor([prompt + response])).logits[0, len(prompt) - 1 : len(prompt) + len(response) - 1]
        logp.append(torch.log_softmax(logits, dim=-1))
    he, normal = logp
    forward = (he.exp() * (he - normal)).sum().item() / math.log(2)
    reverse = (normal.exp() * (normal - he)).sum().item() / math.log(2)
    return forward, reverse


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, CUDA])])
def test_kl_matches_naive_full_softmax(tiny, he_run, tmp_path, capsys, device):
    run, records = he_run
    model, tokenizer = tiny
    out = tmp_path / "kl_out"
    code, stdout, _ = run_cli(["analyze", "kl", str(run), "--model", "tiny", "--chunk-size", "3", "--device", device,
                               "--bootstrap", "100", "--out", str(out), "--json"], capsys)
    assert code == 0
    data = json.loads(stdout)
    responses = [json.loads(line) for line in (out / "kl_responses.jsonl").read_text().splitlines()]
    assert len(responses) == len(records)
    model64 = model.to(torch.float64)
    try:
        naive = [naive_kl_bits(model64, tokenizer, record) for record in records]
    finally:
        model.to(torch.float32)
    for got, (forward, reverse) in zip(responses, naive, strict=True):
        assert got["forward_bits_sum"] == pytest.approx(forward, rel=1e-4, abs=1e-6)
        assert got["reverse_bits_sum"] == pytest.approx(reverse, rel=1e-4, abs=1e-6)
    assert any(f > 1e-3 for f, _ in naive)  # the two prompts really give different distributions
    tokens = sum(len(r["response_token_ids"]) for r in records)
    overall = data["all"]
    assert overall["tokens"] == tokens and overall["responses"] == 4
    assert overall["forward_bits_per_token"] == pytest.approx(sum(f for f, _ in naive) / tokens, rel=1e-4)
    per_response = np.mean([f / len(r["response_token_ids"]) for (f, _), r in zip(naive, records, strict=True)])
    assert overall["forward_bits_per_response"] == pytest.approx(per_response, rel=1e-4)
    low, high = overall["forward_bits_per_token_ci"]
    assert low <= overall["forward_bits_per_token"] <= high
    # The result feeds Table 5 directly.
    code, stdout, _ = run_cli(["analyze", "modes", str(run), "--kl", str(out), "--allow-partial", "--json"], capsys)
    assert code == 0
    assert json.loads(stdout)["rows"][0]["kl_forward_bits"] == pytest.approx(overall["forward_bits_per_token"])


def test_kl_refuses_prompt_ids_the_tokenizer_does_not_reproduce(he_run, tmp_path, capsys):
    run, records = he_run
    bad = [dict(records[0], prompt_token_ids=records[0]["prompt_token_ids"][1:])]
    folder = write_eval_run(tmp_path / "bad", bad)
    code, _, err = run_cli(["analyze", "kl", str(folder), "--model", "tiny", "--device", "cpu"], capsys)
    assert code == 2 and "does not reproduce the recorded prompt ids" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_kl_on_a_cuda_device_this_torch_lacks_is_one_line_before_any_work(he_run, tmp_path):
    """It used to load the model and die in torch with an AssertionError traceback (exit 1)."""
    run, _ = he_run
    result = subprocess.run([sys.executable, "-c", "from polsplit_cli.cli import main; main()", "analyze", "kl",
                             str(run), "--device", "cuda", "--out", str(tmp_path / "kl")],
                            capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: --device cuda: "), result.stderr
    reason = "built without CUDA" if torch.version.cuda is None else "no such CUDA device (0 visible)"
    assert reason in lines[0]
    assert not (tmp_path / "kl").exists()


def test_bootstrap_by_problem_resamples_whole_problems():
    """Two problems: resampling problems can only give the per-token KL of p0, of p1, or of both together."""
    responses = [
        {"benchmark": "b", "problem_id": "p0", "tokens": 2, "forward_bits_sum": 1.0, "reverse_bits_sum": 0.5},
        {"benchmark": "b", "problem_id": "p0", "tokens": 2, "forward_bits_sum": 3.0, "reverse_bits_sum": 0.5},
        {"benchmark": "b", "problem_id": "p1", "tokens": 4, "forward_bits_sum": 0.0, "reverse_bits_sum": 0.0},
    ]
    summary = summarize(responses, resamples=500, unit="problem", seed=1)
    assert summary["forward_bits_per_token"] == pytest.approx(4.0 / 8)
    assert summary["forward_bits_per_response"] == pytest.approx((0.5 + 1.5 + 0.0) / 3)
    assert summary["forward_bits_per_token_ci"] == pytest.approx((0.0, 1.0))  # p1 only: 0; p0 only: 4/4
