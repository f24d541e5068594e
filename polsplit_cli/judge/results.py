"""judgements.jsonl (append-only, resumable), the summary tables and the run manifest.

A judgement's key hashes everything that decides the judge's answer: the judge (name, model,
base URL, request parameters), the rubric version, the prompt and the story. A rerun skips keys
already judged; the last record of a key wins, so a failure retried later is superseded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from polsplit_cli.judge.presets import Judge
from polsplit_cli.judge.rubric import RUBRIC_NAMES, rubric_version
from polsplit_cli.judge.stories import Story
from polsplit_cli.runfiles import JsonlLog, utc_now

SHORT_NAMES = {"Creativity": "Creativity", "Originality": "Originality", "Narrative Flow": "Narrative",
               "Emotional Impact": "Impact", "Imagery": "Imagery"}


def judgement_key(judge: Judge, prompt: str, story: str) -> str:
    """sha256 hex of (judge, rubric version, request params, prompt, story)."""
    payload = {
        "judge": judge.name,
        "model": judge.model,
        "base_url": judge.base_url,
        "params": judge.params,
        "rubric_version": rubric_version(),
        "prompt": prompt,
        "story": story,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


class JudgementLog(JsonlLog):
    """judgements.jsonl, indexed by judgement key; the last record of a key wins."""

    def __init__(self, path: Path):
        super().__init__(path, key=lambda record: record["key"], what="judgement")

    def done(self, key: str, *, retry_failed: bool = True) -> bool:
        record = self.records.get(key)
        return record is not None and (record["parse_ok"] or not retry_failed)


def judgement_record(key: str, judge: Judge, story: Story, verdict: Any) -> dict:
    """One line of judgements.jsonl (docs/formats.md)."""
    return {
        "key": key,
        "judge": judge.name,
        "judge_model": judge.model,
        **story.identity(),
        "scores": verdict.scores,
        "parse_ok": verdict.scores is not None,
        "attempts": verdict.attempts,
        "retries": verdict.retries,
        "asks": verdict.asks,
        "raw": verdict.raw,
        "response_model": verdict.response_model,
        "request_id": verdict.request_id,
        "usage": verdict.usage,
        "error": verdict.error,
        "finished_at": utc_now(),
    }


def rubric_rows(stories: list[Story], judges: list[Judge], records: dict[str, dict]) -> list[dict]:
    """Per judge x model x mode: mean score x10 of each rubric over the stories judged, with counts."""
    rows = []
    for judge in judges:
        groups: dict[tuple[str, str], list[dict | None]] = {}
        for story in stories:
            record = records.get(judgement_key(judge, story.prompt, story.story))
            groups.setdefault((story.model, story.mode), []).append(record)
        for (model, mode), group in sorted(groups.items()):
            scored = [r["scores"] for r in group if r is not None and r["parse_ok"]]
            row = {
                "judge": judge.name,
                "model": model,
                "mode": mode,
                "judged": len(scored),
                "failed": sum(1 for r in group if r is not None and not r["parse_ok"]),
                "pending": sum(1 for r in group if r is None),
                "response_models": sorted({r["response_model"] for r in group if r and r["response_model"]}),
            }
            for name in RUBRIC_NAMES:
                row[name] = 10.0 * sum(s[name] for s in scored) / len(scored) if scored else None
            rows.append(row)
    return rows


def usage_totals(records: list[dict]) -> dict[str, dict[str, int]]:
    """Token totals per judge over the given records."""
    totals: dict[str, dict[str, int]] = {}
    for record in records:
        judge_total = totals.setdefault(record["judge"], {})
        for name, value in (record.get("usage") or {}).items():
            judge_total[name] = judge_total.get(name, 0) + int(value)
    return totals


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def summary_tables(summary: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """The summary as (title, header, rows) tables: diversity (Table 2 left), judge scores (Table 10)."""
    div = summary["diversity"]
    tables = [
        (
            f"Diversity (Div-{div['n']}-Gram {div['pooling']}, Div-BLEU; 0-100)",
            ["model", "mode", "prompts", "stories", f"Div-{div['n']}-Gram", "Div-BLEU"],
            [[r["model"], r["mode"], str(r["prompts"]), str(r["stories"]), _fmt(r["div_ngram"]), _fmt(r["div_bleu"])]
             for r in div["rows"]],
        )
    ]
    if summary["rubric"]:
        tables.append(
            (
                "LLM judge (mean score x10; failures are not counted as 0)",
                ["judge", "model", "mode", *SHORT_NAMES.values(), "judged", "failed", "pending"],
                [[r["judge"], r["model"], r["mode"], *(_fmt(r[name]) for name in RUBRIC_NAMES),
                  str(r["judged"]), str(r["failed"]), str(r["pending"])] for r in summary["rubric"]],
            )
        )
    return tables


def summary_markdown(summary: dict) -> str:
    """summary.md: the tables plus how the diversity numbers were computed."""
    div = summary["diversity"]
    lines = []
    for title, header, rows in summary_tables(summary):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines.append("")
    lines.append(
        f"Div-N-Gram: N={div['n']}, pooling={div['pooling']}, tokenizer={div['tokenizer']}, "
        f"lowercase={div['lowercase']}. Div-BLEU: {div['bleu']}; sacreBLEU "
        f"{', '.join(div['bleu_signatures']) or '(no prompt with 2+ stories)'}."
    )
    if summary["flagged"]:
        lines += ["", f"{len(summary['flagged'])} stories flagged and not scored:", ""]
        lines += [f"- line {f['line']} ({f['model']}, {f['mode']}, {f['prompt_id']}, sample {f['sample']}): "
                  f"{f['reason']}" for f in summary["flagged"]]
    return "\n".join(lines) + "\n"


