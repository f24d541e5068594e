"""`polsplit judge` end to end against the loopback server: summary and scaling, failures reported,
kill + resume without duplicates (a real subprocess, SIGKILLed), and the API key never written or printed.

Most runs go through the console-script entry point in-process (``run_cli``) to keep the suite fast;
the kill test and the missing-key test start a real process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from judge_server import JudgeServer

from polsplit_cli import cli

KEY = "sk-polsplit-PRIVACY-3c1d9e7b55aa"
KEY_ENV = "POLSPLIT_TEST_JUDGE_KEY"
RUBRIC_SHORT = ("Creativity", "Originality", "Narrative Flow", "Emotional Impact", "Imagery")


def polsplit(args: list[str], cwd: Path, *, key: str | None = KEY, wait: bool = True):
    env = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, "DEEPSEEK_API_KEY")}
    if key is not None:
        env[KEY_ENV] = key
    command = [sys.executable, "-m", "polsplit_cli.cli", "judge", *args]
    if not wait:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def run_cli(args: list[str], capsys, monkeypatch, *, key: str | None = KEY) -> tuple[int, str, str]:
    """``polsplit judge ARGS`` through cli.main in this process: (exit code, stdout, stderr)."""
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    if key is None:
        monkeypatch.delenv(KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(KEY_ENV, key)
    monkeypatch.setattr(sys, "argv", ["polsplit", "judge", *args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        cli.main()
    captured = capsys.readouterr()
    return exited.value.code or 0, captured.out, captured.err


def judge_args(server: JudgeServer, out: Path, *extra: str) -> list[str]:
    return ["--model", "judge-test", "--base-url", server.url, "--api-key-env", KEY_ENV, "--out", str(out),
            "--timeout", "10", "--max-retries", "2", "--max-reparse", "1", *extra]


def write_stories(path: Path, stories: list[dict]) -> Path:
    path.write_text("".join(json.dumps(s) + "\n" for s in stories))
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_judge_cli_summary_failures_and_key_privacy(judge_server, tmp_path, capsys, monkeypatch):
    scripts = ["valid", "prose", "garbage-then-valid", "rate-limit", "server-error", "garbage"]
    stories = [{"prompt": "Write about a door.", "story": f"Door tale {i}, quite short. [[script:{s}]]",
                "model": "m", "mode": "he", "prompt_id": "door"} for i, s in enumerate(scripts)]
    stories.append({"prompt": "Write about a door.", "story": "Error code: 503 - Service Unavailable",
                    "model": "m", "mode": "he", "prompt_id": "door"})
    source = write_stories(tmp_path / "stories.jsonl", stories)
    out = tmp_path / "run"
    code, stdout, stderr = run_cli([str(source), *judge_args(judge_server, out), "--json"], capsys, monkeypatch)
    assert code == 1, stderr  # not every judgement scored: the exit code says so, with the count
    summary = json.loads(stdout)
    assert summary == json.loads((out / "summary.json").read_text())
    (row,) = summary["rubric"]
    # 5 stories scored 7, 6, 8, 5, 9 -> x10; the unparseable one is a failure, not a 0 in the mean
    assert (row["judged"], row["failed"], row["pending"]) == (5, 1, 0)
    assert [row[name] for name in RUBRIC_SHORT] == pytest.approx([70.0, 60.0, 80.0, 50.0, 90.0])
    assert row["response_models"] == ["judge-test-2026-11-27"]
    assert len(summary["flagged"]) == 1 and "error message" in summary["flagged"][0]["reason"]
    assert summary["diversity"]["rows"][0]["stories"] == 6
    assert summary["diversity"]["tokenizer"] == "nltk.tokenize.wordpunct_tokenize"
    assert summary["diversity"]["bleu_signatures"]

    records = read_jsonl(out / "judgements.jsonl")
    assert len(records) == 6 and len({r["key"] for r in records}) == 6
    failed = [r for r in records if not r["parse_ok"]]
    assert len(failed) == 1 and failed[0]["scores"] is None and "without all five" in failed[0]["error"]
    assert {r["request_id"] for r in records} <= {f"req-{n}" for n in range(1, 20)}
    assert sum(r["retries"] for r in records) == 2  # the 429 and the 500
    assert "incomplete: 5 of 6 judgements succeeded (1 failed, e.g. reply without all five" in stderr
    assert f"Rerun with --resume {out} " in stderr and "tokens (judge-test, this run)" in stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "judge" and manifest["judges"][0]["api_key_env"] == KEY_ENV

    # the key reached the server, and nothing else: no file, no output line
    assert all(r["auth"] == f"Bearer {KEY}" for r in judge_server.requests)
    for path in out.rglob("*"):
        assert KEY not in path.read_text(), path
    assert KEY not in stdout and KEY not in stderr

    # a rerun retries only the failure; --no-retry-failed asks nothing
    before = len(judge_server.requests)
    code, stdout, stderr = run_cli([str(source), *judge_args(judge_server, out)], capsys, monkeypatch)
    assert code == 1 and "5 of 6 judgements succeeded" in stderr
    assert len(judge_server.requests) - before == 2  # the garbage story, asked twice again
    assert KEY not in stdout + stderr
    before = len(judge_server.requests)
    code, stdout, stderr = run_cli([str(source), *judge_args(judge_server, out), "--resume", str(out), "--no-retry-failed"],
                                   capsys, monkeypatch)
    assert code == 1 and len(judge_server.requests) == before
    assert KEY not in stdout + stderr
    for path in out.rglob("*"):
        assert KEY not in path.read_text(), path


def test_judge_cli_kill_then_resume_loses_nothing_and_repeats_nothing(tmp_path):
    server = JudgeServer(latency=0.15).start()
    try:
        stories = [{"prompt": f"Prompt {p}", "story": f"Story ZQ{p:02d}{s} about a lamp.", "model": "m",
                    "mode": "normal", "prompt_id": f"p{p}", "sample": s} for p in range(13) for s in range(3)]
        source = write_stories(tmp_path / "stories.jsonl", stories)
        out = tmp_path / "run"
        log = out / "judgements.jsonl"
        process = polsplit([str(source), *judge_args(server, out), "--concurrency", "2"], tmp_path, wait=False)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 8):
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        killed_out, killed_err = process.communicate(timeout=10)
        done_before = read_jsonl(log)
        assert 8 <= len(done_before) < len(stories)  # killed mid-run
        seen_before = len(server.requests)

        result = polsplit([str(source), "--resume", str(out), *judge_args(server, out), "--concurrency", "4"], tmp_path)
        assert result.returncode == 0, result.stderr
        records = read_jsonl(log)
        keys = [r["key"] for r in records]
        assert len(keys) == len(set(keys)) == len(stories)  # no duplicates, nothing lost
        assert {(r["prompt_id"], r["sample"]) for r in records} == {(s["prompt_id"], s["sample"]) for s in stories}
        assert all(r["parse_ok"] for r in records)
        # the resumed run asked nothing about a story that was already judged
        finished_tokens = {f"ZQ{int(r['prompt_id'][1:]):02d}{r['sample']}" for r in done_before}
        for request in server.requests[seen_before:]:
            assert not any(token in request["story"] for token in finished_tokens)
        assert len(server.requests) - seen_before <= len(stories) - len(done_before) + 2  # + those in flight
        # a real process too: the key is in no output stream and no file
        assert KEY not in killed_out + killed_err + result.stdout + result.stderr
        assert all(KEY not in path.read_text() for path in out.rglob("*"))
    finally:
        server.stop()


def test_judge_cli_missing_key_fails_fast_with_one_line(judge_server, tmp_path):
    source = write_stories(tmp_path / "s.jsonl", [{"prompt": "p", "story": "a story"}])
    out = tmp_path / "run"
    result = polsplit([str(source), *judge_args(judge_server, out)], tmp_path, key=None)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and KEY_ENV in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and judge_server.requests == []  # before any work

    preset = polsplit([str(source), "--judge", "deepseek-v3"], tmp_path, key=None)  # DEEPSEEK_API_KEY unset
    assert preset.returncode == 2 and "set the environment variable DEEPSEEK_API_KEY" in preset.stderr


def test_judge_cli_auth_failure_stops_with_one_line(judge_server, tmp_path, capsys, monkeypatch):
    source = write_stories(tmp_path / "s.jsonl", [{"prompt": "p", "story": "x [[script:unauthorized]]"}])
    code, stdout, stderr = run_cli([str(source), *judge_args(judge_server, tmp_path / "run")], capsys, monkeypatch)
    assert code == 2
    (error,) = [line for line in stderr.splitlines() if not line.startswith("judging: ")]  # after a progress line
    assert error.startswith("error: ") and "HTTP 401" in error
    assert KEY not in stderr + stdout


def test_judge_cli_diversity_only_and_bad_input(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stories = [{"prompt": "p", "story": text, "mode": "he"} for text in ("the cat sat on the mat", "the cat the cat")]
    source = write_stories(tmp_path / "s.jsonl", stories)
    code, stdout, stderr = run_cli([str(source), "--diversity-only", "--pooling", "pooled", "--json", "--out", "d"],
                                   capsys, monkeypatch, key=None)
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["rubric"] == [] and summary["diversity"]["pooling"] == "pooled"
    assert summary["diversity"]["rows"][0]["div_ngram"] == pytest.approx(75.0)  # 6 unique / 8 bigrams
    assert not (tmp_path / "d" / "judgements.jsonl").exists()
    assert (tmp_path / "d" / "summary.md").read_text().startswith("## Diversity")
    code, stdout, _ = run_cli([str(source), "--diversity-only", "--limit", "1", "--json", "--out", "d1"],
                              capsys, monkeypatch)
    row = json.loads(stdout)["diversity"]["rows"][0]
    assert row["stories"] == 1 and row["div_ngram"] == pytest.approx(100.0) and row["div_bleu"] is None

    (tmp_path / "bad.jsonl").write_text('{"prompt": "p", "story": "s"}\n{"prompt": "p"}\n')
    code, _, stderr = run_cli(["bad.jsonl", "--diversity-only"], capsys, monkeypatch)
    assert code == 2 and stderr.strip().count("\n") == 0
    assert "bad.jsonl:2: missing field 'story'" in stderr


def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_judge_cli_unreachable_server_exits_1_with_the_count(tmp_path):
    stories = [{"prompt": "p", "story": f"a story number {i}"} for i in range(3)]
    source = write_stories(tmp_path / "s.jsonl", stories)
    out = tmp_path / "run"
    result = polsplit([str(source), "--model", "m", "--base-url", f"http://127.0.0.1:{closed_port()}/v1",
                       "--max-retries", "0", "--out", str(out)], tmp_path)
    assert result.returncode == 1, result.stderr
    assert "incomplete: 0 of 3 judgements succeeded (3 failed, e.g. connection error" in result.stderr
    assert "Traceback" not in result.stderr
    # progress as plain lines, stderr being a pipe
    progress = [line for line in result.stderr.splitlines() if line.startswith("judging: ")]
    assert progress[0] == "judging: 0/3 (0%), 0 failed, elapsed 0s"
    assert progress[-1].startswith("judging: 3/3 (100%), 3 failed, ")
    records = read_jsonl(out / "judgements.jsonl")  # the failures are kept, so a rerun retries them
    assert len(records) == 3 and not any(r["parse_ok"] for r in records)
    (row,) = json.loads((out / "summary.json").read_text())["rubric"]
    assert (row["judged"], row["failed"], row["pending"]) == (0, 3, 0)


def test_judge_cli_partial_failure_exits_1_then_resume_completes(judge_server, tmp_path):
    scripts = ["valid", "valid", "garbage-then-valid"]  # the third parses only when asked a second time
    stories = [{"prompt": "p", "story": f"Tale {i}. [[script:{s}]]", "model": "m", "mode": "he"}
               for i, s in enumerate(scripts)]
    source = write_stories(tmp_path / "s.jsonl", stories)
    out = tmp_path / "run"
    first = polsplit([str(source), *judge_args(judge_server, out), "--max-reparse", "0"], tmp_path)
    assert first.returncode == 1, first.stderr
    assert "incomplete: 2 of 3 judgements succeeded (1 failed, e.g. reply without all five scores" in first.stderr
    header = next(line for line in first.stdout.splitlines() if "Creativity" in line)
    assert "pending" in header and len(header) > 80  # the judge table at full width, stdout being a pipe

    before = len(judge_server.requests)
    again = polsplit([str(source), "--resume", str(out), *judge_args(judge_server, out), "--max-reparse", "0"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert "incomplete" not in again.stderr
    assert len(judge_server.requests) - before == 1  # only the failure was asked again
    records = {r["key"]: r for r in read_jsonl(out / "judgements.jsonl")}  # the last record of a key wins
    assert len(records) == 3 and all(r["parse_ok"] for r in records.values())


def test_judge_cli_resume_takes_the_run_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = write_stories(tmp_path / "s.jsonl", [{"prompt": "p", "story": "the cat sat"}, {"prompt": "p", "story": "a dog"}])
    assert run_cli([str(source), "--diversity-only", "--out", "d"], capsys, monkeypatch, key=None)[0] == 0
    code, _, stderr = run_cli([str(source), "--diversity-only", "--resume", "d"], capsys, monkeypatch, key=None)
    assert code == 0, stderr
    assert len(json.loads((tmp_path / "d" / "manifest.json").read_text())["invocations"]) == 2
    (tmp_path / "other").mkdir()
    for args, message in ((["--resume", "d", "--out", "e"], "--out and --resume name the run folder twice"),
                          (["--resume", "other"], "--resume: other is not a judge run folder"),
                          (["--resume", "--json"], "--resume takes the run folder to continue (--resume RUN_DIR)")):
        code, _, stderr = run_cli([str(source), "--diversity-only", *args], capsys, monkeypatch, key=None)
        assert code == 2 and stderr.strip().splitlines() == [stderr.strip()] and message in stderr, stderr
    assert not (tmp_path / "e").exists() and not any((tmp_path / "other").iterdir())
