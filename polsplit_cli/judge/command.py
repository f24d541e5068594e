"""``polsplit judge FILE``: diversity metrics, then (unless --diversity-only) the LLM judges.

Order matters: options and API keys are checked before any file is read or written, so a
missing key costs nothing; judgements are appended as they finish, so a kill loses only the
requests in flight and a rerun (or --resume) picks up where it stopped.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import typer
from rich.console import Console

from polsplit_cli.errors import UserError
from polsplit_cli.judge.client import CallSettings, JudgeAbort, judge_all
from polsplit_cli.judge.diversity import LOWERCASE, POOLINGS, TOKENIZER, diversity_rows, diversity_settings
from polsplit_cli.judge.presets import api_key, resolve_judges
from polsplit_cli.judge.results import (
    JudgementLog,
    judgement_key,
    judgement_record,
    rubric_rows,
    summary_markdown,
    summary_tables,
    usage_totals,
)
from polsplit_cli.judge.rubric import rubric_template, rubric_version
from polsplit_cli.judge.stories import read_stories, resolve_input
from polsplit_cli.runfiles import (
    MANIFEST_FILE,
    check_out_dir,
    chosen_run_dir,
    load_manifest,
    manifest_header,
    new_run_dir,
    utc_now,
    write_json,
)
from polsplit_cli.terminal import ProgressReport, table_console

JUDGE_PACKAGES = ("openai", "sacrebleu", "nltk")  # versions in the manifest
NGRAM_N = 2  # the paper's Div-N-Gram uses bigrams
INCOMPLETE_EXIT = 1  # some judgement has no scores (2 is a usage error, 130 an interrupt)


def judge(
    file: Path = typer.Argument(..., help="Stories: a JSONL of {prompt, story[, model, mode, sample, prompt_id]}, "
                                "an eval samples.jsonl (creative records), or an eval run folder."),
    judge_names: list[str] = typer.Option([], "--judge", help="Judge preset (repeatable): gpt-5, gpt-4o, deepseek-v3."),
    model: str = typer.Option(None, "--model", help="Custom judge: model id served at --base-url."),
    base_url: str = typer.Option(None, "--base-url", help="Custom judge: OpenAI-compatible base URL (…/v1)."),
    api_key_env: str = typer.Option(None, "--api-key-env", help="Custom judge: env var holding its key "
                                    "(omit for a local server that needs none)."),
    concurrency: int = typer.Option(8, "--concurrency", help="Most requests in flight per judge."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds per HTTP request."),
    max_retries: int = typer.Option(6, "--max-retries", help="Retries per request after a transient error."),
    max_reparse: int = typer.Option(2, "--max-reparse", help="Re-asks after a reply without all five scores."),
    diversity_only: bool = typer.Option(False, "--diversity-only", help="Only Div-N-Gram and Div-BLEU: no network, no key."),
    pooling: str = typer.Option("per-story", "--pooling", help="Div-N-Gram reading of Eq. 11: per-story or pooled."),
    out: Path = typer.Option(None, "--out", help="Results folder (default: runs/judge-<timestamp>)."),
    resume: Path = typer.Option(None, "--resume", metavar="RUN_DIR", help="Continue this judge run folder "
                                "(in place of --out), skipping what is judged."),
    no_retry_failed: bool = typer.Option(False, "--no-retry-failed", help="On rerun, keep recorded failures as they are."),
    limit: int = typer.Option(None, "--limit", help="Only the first N stories of the file."),
    json_output: bool = typer.Option(False, "--json", help="Print summary.json to stdout instead of tables."),
) -> None:
    """Score stories: diversity (Div-N-Gram, Div-BLEU) and a five-rubric LLM judge (paper Table 2/10)."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if pooling not in POOLINGS:
        raise UserError(f"--pooling must be one of {', '.join(POOLINGS)}, got '{pooling}'")
    for flag, value, low in (("--concurrency", concurrency, 1), ("--max-retries", max_retries, 0),
                             ("--max-reparse", max_reparse, 0), ("--limit", limit, 1)):
        if value is not None and value < low:
            raise UserError(f"{flag} must be >= {low}, got {value}")
    if timeout <= 0:
        raise UserError(f"--timeout must be > 0, got {timeout:g}")
    judges = [] if diversity_only else resolve_judges(judge_names, model=model, base_url=base_url, api_key_env=api_key_env)
    if not diversity_only and not judges:
        raise UserError("name a judge (--judge gpt-5|gpt-4o|deepseek-v3, or --model with --base-url), "
                        "or pass --diversity-only")
    keys = {j.name: api_key(j) for j in judges}
    settings = CallSettings(concurrency=concurrency, timeout=timeout, max_retries=max_retries, max_reparse=max_reparse)

    source_file = resolve_input(Path(file))
    source_stories = read_stories(source_file)
    stories = source_stories[:limit] if limit else source_stories
    out_dir = _out_dir(out, resume)
    flagged = [s for s in stories if s.flag]
    judgeable = [s for s in stories if not s.flag]
    for story in flagged:
        err.print(f"[yellow]flagged[/yellow] line {story.line} ({story.model}/{story.mode}/{story.prompt_id}/"
                  f"{story.sample}): {story.flag} — not scored")

    _write_manifest(out_dir, source_file, judges, settings, pooling, diversity_only, limit)
    log = None
    new_records: list[dict] = []
    if judges:
        log = JudgementLog(out_dir / "judgements.jsonl")
        try:
            new_records = _run_judges(judgeable, judges, keys, settings, log, retry_failed=not no_retry_failed, err=err)
        except KeyboardInterrupt:
            err.print(f"interrupted: finished judgements are in {out_dir / 'judgements.jsonl'}; "
                      f"rerun with --resume {out_dir}")
            raise typer.Exit(130) from None
        finally:
            log.close()

    records = log.records if log else {}
    summary = {
        "diversity": _diversity(judgeable, pooling),
        "rubric": rubric_rows(judgeable, judges, records),
        "judges": [j.describe() for j in judges],
        "usage": usage_totals(list(records.values())),
        "stories": len(stories),
        "flagged": [{**s.identity(), "line": s.line, "reason": s.flag} for s in flagged],
    }
    write_json(out_dir / "summary.json", summary)
    (out_dir / "summary.md").write_text(summary_markdown(summary), encoding="utf-8")
    _report(summary, new_records, out_dir, json_output, err)
    _exit_unless_complete(summary, [*new_records, *records.values()], out_dir, err)


def _out_dir(out: Path | None, resume: Path | None) -> Path:
    """The results folder: the judge run of --resume, the given --out, or a new timestamped one."""
    out = chosen_run_dir(out, resume) or new_run_dir("judge")
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: is a file, not a folder")
    kind = _folder_kind(out)
    if resume is not None and kind != "judge":
        raise UserError(f"--resume: {out} is not a judge run folder (no manifest.json of kind 'judge')")
    check_out_dir(out, "judge")
    if kind is None and out.is_dir() and any(out.iterdir()):
        raise UserError(f"{out}: folder is not empty and is not a judge run; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _folder_kind(folder: Path) -> str | None:
    """The folder's manifest kind: None without a manifest, "?" for an unreadable one or one without a kind."""
    try:
        manifest = load_manifest(folder)
    except UserError:
        return "?"
    return None if manifest is None else manifest.get("kind", "?")


def _write_manifest(out_dir, source_file: Path, judges, settings, pooling, diversity_only, limit) -> None:
    previous = load_manifest(out_dir) or {}
    write_json(out_dir / MANIFEST_FILE, {
        **manifest_header("judge", JUDGE_PACKAGES, previous),
        "input": {"path": str(source_file), "sha256": hashlib.sha256(source_file.read_bytes()).hexdigest()},
        "judges": [j.describe() for j in judges],
        "params": {**settings.describe(), "diversity_only": diversity_only, "limit": limit},
        "rubric": {"version": rubric_version(), "template_sha256": hashlib.sha256(rubric_template().encode()).hexdigest()},
        "diversity": {"n": NGRAM_N, "pooling": pooling, "tokenizer": TOKENIZER, "lowercase": LOWERCASE},
        "invocations": [*previous.get("invocations", []), utc_now()],
    })


def _run_judges(stories, judges, keys, settings, log, *, retry_failed: bool, err: Console) -> list[dict]:
    """Judge every (story, judge) not yet done; returns the records written by this run."""
    import asyncio

    pending: dict[str, tuple] = {}
    for judge in judges:
        for story in stories:
            key = judgement_key(judge, story.prompt, story.story)
            if not log.done(key, retry_failed=retry_failed) and key not in pending:
                pending[key] = (judge, story)
    skipped = len(stories) * len(judges) - len(pending)
    if skipped:
        err.print(f"resuming: {skipped} judgements already in {log.path}, {len(pending)} to go")
    written: list[dict] = []
    if not pending:
        return written
    failed = 0
    with ProgressReport("judging", err) as report:
        report.update(0, len(pending), "0 failed")

        def finished(key: str, verdict) -> None:
            nonlocal failed
            judge, story = pending[key]
            record = judgement_record(key, judge, story, verdict)
            log.append(record)
            written.append(record)
            failed += not record["parse_ok"]
            report.update(len(written), len(pending), f"{failed} failed")

        jobs = {key: (judge, story.prompt, story.story) for key, (judge, story) in pending.items()}
        try:
            asyncio.run(judge_all(jobs, keys, settings, finished))
        except JudgeAbort as exc:
            raise UserError(f"{exc} (stopped; finished judgements are kept)") from None
    return written


def _diversity(stories, pooling: str) -> dict:
    groups: dict[tuple[str, str], dict[str, list[str]]] = {}
    for story in stories:
        groups.setdefault((story.model, story.mode), {}).setdefault(story.prompt_id, []).append(story.story)
    rows, signatures = diversity_rows(groups, n=NGRAM_N, pooling=pooling)
    return {**diversity_settings(NGRAM_N, pooling, signatures), "rows": rows}


def _report(summary: dict, new_records: list[dict], out_dir: Path, json_output: bool, err: Console) -> None:
    from rich.table import Table

    for judge, usage in usage_totals(new_records).items():
        if usage:
            err.print(f"tokens ({judge}, this run): " + ", ".join(f"{k}={v}" for k, v in sorted(usage.items())))
    if json_output:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        console = table_console()
        for title, header, rows in summary_tables(summary):
            table = Table(*header, title=title)
            for row in rows:
                table.add_row(*row)
            console.print(table)
    err.print(f"results in {out_dir}")


def _exit_unless_complete(summary: dict, records: list[dict], out_dir: Path, err: Console) -> None:
    """Exit INCOMPLETE_EXIT with the count when a judgement asked for has no scores: a script must
    be able to trust the exit code. ``records`` (this run's first) give an example error."""
    from rich.markup import escape

    rows = summary["rubric"]
    scored = sum(row["judged"] for row in rows)
    wanted = scored + sum(row["failed"] + row["pending"] for row in rows)
    if scored == wanted:
        return
    failed = sum(row["failed"] for row in rows)
    example = next((r["error"] for r in records if not r["parse_ok"] and r["error"]), None)
    detail = f"{failed} failed" + (f", e.g. {escape(example)}" if example else "")
    err.print(f"[red]incomplete:[/red] {scored} of {wanted} judgements succeeded ({detail}); see 'error' in "
              f"{out_dir / 'judgements.jsonl'}. Rerun with --resume {out_dir} to retry the rest",
              highlight=False)
    raise typer.Exit(INCOMPLETE_EXIT)
