"""Exact KL between two modes over one mode's samples of an eval run (Table 5's D_KL, Figure 1(c)).

Each response is teacher-forced under both prompts: its own prompt (the recorded
``prompt_token_ids``) and the reference mode's prompt, rendered from the record's
``user_text`` and the reference mode's system text with ``models.render_prompt_ids`` —
never by decoding and re-encoding. The model body runs once per prompt; the output
projection runs ``chunk_size`` positions at a time in ``algo.chunked_token_kl``, so memory
is bounded by the chunk ([chunk, V] logits), not by the response length.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from polsplit_cli.analyze.io import EvalRun
from polsplit_cli.analyze.report import Analysis, ResultTable, fmt
from polsplit_cli.analyze.stats import bootstrap_ci
from polsplit_cli.errors import UserError
from polsplit_cli.eval.entropy import response_hidden  # also imported from here by benchmarks/analyze_kl.py
from polsplit_cli.models import DTYPES, load_model, render_prompt_ids, resolve_device
from polsplit_cli.modes import Mode, get_mode
from polsplit_cli.terminal import track

BOOTSTRAP_UNITS = ("response", "problem")
# float32 by default: the KL between two prompts is small (~0.01 bits for an untrained pair of
# modes), and half-precision rounding of the two passes would add to it.


def mode_system_text(run: EvalRun, name: str) -> tuple[Mode, str | None]:
    """The mode as the eval run recorded it (manifest ``modes``), else the built-in one (with a note)."""
    recorded = run.manifest.get("modes") or {}
    if name in recorded:
        return Mode(name, recorded[name]), None
    return get_mode(name), f"mode '{name}' is not in the run's manifest: used the built-in/file system text"


def response_kls(
    run: EvalRun,
    *,
    mode: str = "high-entropy",
    reference: str = "normal",
    model_path: str | None = None,
    chunk_size: int = 1024,
    limit: int | None = None,
    device: str | None = None,
    dtype: str = "float32",
    progress: bool = True,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Per response of ``mode``: summed D(pi_mode || pi_reference) and D(pi_reference || pi_mode) in bits."""
    import torch

    from polsplit_cli.algo import chunked_token_kl, to_bits
    from polsplit_cli.eval.entropy import check_linear_head
    if chunk_size < 1:
        raise UserError(f"--chunk-size must be >= 1, got {chunk_size}")
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be >= 1, got {limit}")
    records = run.select(mode)[:limit]
    own, own_note = mode_system_text(run, mode)
    other, other_note = mode_system_text(run, reference)
    notes = [n for n in (own_note, other_note) if n]
    model_name = model_path or run.manifest.get("model")
    if not model_name:
        raise UserError(f"{run.path}/manifest.json names no 'model': pass --model")
    if dtype not in DTYPES:
        raise UserError(f"unknown --dtype '{dtype}': use {', '.join(DTYPES)}")
    device = resolve_device(device)
    model, tokenizer = load_model(model_name, device=device, dtype=getattr(torch, dtype))
    check_linear_head(model)
    first = records[0]
    if render_prompt_ids(tokenizer, own.messages(first["user_text"])) != first["prompt_token_ids"]:
        raise UserError(
            f"{run.path}/samples.jsonl:{first['_line']}: the tokenizer of {model_name} does not reproduce the "
            "recorded prompt ids (a different tokenizer or mode text than the eval run used)"
        )
    head = model.get_output_embeddings()
    results = []
    iterator = _track(records, f"KL {mode} vs {reference}") if progress else records
    with torch.no_grad():
        for record in iterator:
            response = record["response_token_ids"]
            if not response:
                continue
            hidden_own = response_hidden(model, record["prompt_token_ids"], response)
            other_prompt = render_prompt_ids(tokenizer, other.messages(record["user_text"]))
            hidden_other = response_hidden(model, other_prompt, response)
            forward = chunked_token_kl(hidden_own, hidden_other, head.weight, bias=head.bias, chunk_size=chunk_size)
            reverse = chunked_token_kl(hidden_other, hidden_own, head.weight, bias=head.bias, chunk_size=chunk_size)
            results.append({
                "benchmark": record["benchmark"],
                "problem_id": record["problem_id"],
                "sample": record["sample"],
                "tokens": len(response),
                "forward_bits_sum": float(to_bits(forward.double().sum().item())),
                "reverse_bits_sum": float(to_bits(reverse.double().sum().item())),
            })
    skipped = len(records) - len(results)
    if skipped:
        notes.append(f"{skipped} empty responses skipped")
    if not results:
        raise UserError(f"{run.path}: no non-empty {mode} responses to score")
    return results, notes


def _track(records: list[dict[str, Any]], description: str):
    from rich.console import Console

    return track(records, description, Console(stderr=True))


def summarize(
    responses: list[dict[str, Any]], *, resamples: int = 1000, unit: str = "response", seed: int = 0
) -> dict[str, Any]:
    """Token-weighted and per-response means of both KLs, with percentile bootstrap 95% intervals.

    ``unit="problem"`` resamples whole problems (all their responses together) instead of responses.
    """
    if unit not in BOOTSTRAP_UNITS:
        raise UserError(f"unknown bootstrap unit '{unit}': use {' or '.join(BOOTSTRAP_UNITS)}")
    keys = [(r["benchmark"], r["problem_id"]) if unit == "problem" else i for i, r in enumerate(responses)]
    group_index = {key: index for index, key in enumerate(dict.fromkeys(keys))}
    groups = np.array([group_index[key] for key in keys])

    def per_group(values: np.ndarray) -> np.ndarray:
        return np.bincount(groups, weights=values, minlength=len(group_index))

    tokens = per_group(np.array([r["tokens"] for r in responses], dtype=float))
    count = per_group(np.ones(len(responses)))
    summary: dict[str, Any] = {"responses": len(responses), "tokens": int(tokens.sum())}
    for direction in ("forward", "reverse"):
        sums = np.array([r[f"{direction}_bits_sum"] for r in responses])
        total = per_group(sums)
        per_response = per_group(sums / np.array([r["tokens"] for r in responses]))
        statistics = {"per_token": _ratio(total, tokens), "per_response": _ratio(per_response, count)}
        for name, statistic in statistics.items():
            key = f"{direction}_bits_{name}"
            summary[key] = float(statistic(np.arange(len(group_index))))
            summary[f"{key}_ci"] = bootstrap_ci(statistic, len(group_index), resamples=resamples, seed=seed)
    return summary


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> Callable[[np.ndarray], float]:
    """The statistic sum(numerator) / sum(denominator) over a (re)sample of group indices."""
    return lambda indices: float(numerator[indices].sum() / denominator[indices].sum())


def kl_analysis(
    run: EvalRun,
    responses: list[dict[str, Any]],
    notes: list[str],
    *,
    mode: str,
    reference: str,
    model: str,
    resamples: int = 1000,
    unit: str = "response",
    seed: int = 0,
) -> Analysis:
    """Per-benchmark and overall KL summaries (bits), as a table and the JSON that ``analyze modes --kl`` reads."""
    benchmarks = list(dict.fromkeys(r["benchmark"] for r in responses))
    per_benchmark = {
        b: summarize([r for r in responses if r["benchmark"] == b], resamples=resamples, unit=unit, seed=seed)
        for b in benchmarks
    }
    overall = summarize(responses, resamples=resamples, unit=unit, seed=seed)
    notes = [
        *notes,
        f"on the {mode} samples: forward = D_KL(pi_{mode} || pi_{reference}), reverse = D_KL(pi_{reference} || pi_{mode}), "
        "exact over the full vocabulary, bits per token",
        f"per token = summed KL / summed tokens; per response = mean over responses of each response's mean; "
        f"95% percentile bootstrap over {unit}s ({resamples} resamples, seed {seed})",
    ]
    table = ResultTable(f"KL between {mode} and {reference} mode, {run.label}",
                        ["benchmark", "responses", "tokens", "fwd/token", "95% CI", "fwd/response", "95% CI",
                         "rev/token", "rev/response"], notes=notes)
    for name, s in [*per_benchmark.items(), *([("all", overall)] if len(benchmarks) > 1 else [])]:
        table.rows.append([name, fmt(s["responses"]), fmt(s["tokens"]),
                           fmt(s["forward_bits_per_token"], 4), _ci(s["forward_bits_per_token_ci"]),
                           fmt(s["forward_bits_per_response"], 4), _ci(s["forward_bits_per_response_ci"]),
                           fmt(s["reverse_bits_per_token"], 4), fmt(s["reverse_bits_per_response"], 4)])
    data = {
        "analysis": "kl",
        "run": str(run.path.resolve()),
        "model": model,
        "mode": mode,
        "reference": reference,
        "units": "bits",
        "bootstrap": {"resamples": resamples, "unit": unit, "seed": seed, "level": 0.95, "method": "percentile"},
        "benchmarks": per_benchmark,
        "all": overall,
        "notes": notes,
    }
    return Analysis("kl", [table], data, [str(run.path)])


def responses_jsonl(responses: list[dict[str, Any]]) -> str:
    """The per-response KLs as JSONL (written beside kl.json under --out)."""
    return "".join(json.dumps(r) + "\n" for r in responses)


def _ci(interval: tuple[float, float] | None) -> str:
    return "—" if interval is None else f"[{interval[0]:.4f}, {interval[1]:.4f}]"
