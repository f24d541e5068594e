"""The one run-folder convention (runfiles): default folder names, the manifest header and its schema,
today's manifests read in that schema, and --out folders of other results refused, never overwritten."""

from __future__ import annotations

import json
import re
import sys

import pytest

from polsplit_cli import __version__, cli, runfiles
from polsplit_cli.errors import UserError
from polsplit_cli.runfiles import check_out_dir, load_manifest, manifest_header, new_run_dir, read_manifest

UTC_SECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _write(folder, manifest: dict):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_new_run_dir_is_timestamped_under_runs_and_never_reuses_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runfiles.time, "strftime", lambda pattern, *_: "20260102-030405")
    first = new_run_dir("eval")
    assert first == runfiles.RUNS_DIR / "eval-20260102-030405" and not first.exists()
    first.mkdir(parents=True)
    second = new_run_dir("eval")
    assert second.name == "eval-20260102-030405-2"
    second.mkdir()
    assert new_run_dir("eval").name == "eval-20260102-030405-3"
    assert new_run_dir("analyze-plot").name == "analyze-plot-20260102-030405"


def test_header_of_a_new_run_and_of_a_continued_one(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/some/venv/bin/polsplit", "eval", "--n", "2"])
    header = manifest_header("eval", ["surely-not-an-installed-package"])
    assert header["schema"] == 1 and header["kind"] == "eval"
    assert header["command"] == ["polsplit", "eval", "--n", "2"] and header["commands"] == [header["command"]]
    assert UTC_SECONDS.fullmatch(header["created"])
    assert header["versions"]["polsplit"] == __version__ and header["versions"]["python"].count(".") == 2
    assert header["versions"]["surely-not-an-installed-package"] is None

    monkeypatch.setattr(sys, "argv", ["polsplit", "eval", "--n", "2", "--resume"])
    again = manifest_header("eval", (), {**header, "created": "2020-01-01T00:00:00Z"})
    assert again["command"] == ["polsplit", "eval", "--n", "2"]  # the invocation that made the folder
    assert again["commands"] == [["polsplit", "eval", "--n", "2"], ["polsplit", "eval", "--n", "2", "--resume"]]
    assert again["created"] == "2020-01-01T00:00:00Z"


def test_todays_manifests_are_read_in_the_schema(tmp_path):
    eval_run = _write(tmp_path / "eval", {"kind": "eval", "command": "polsplit eval --model tiny --n 2",
                                          "created": "2025-01-01T00:00:00Z"})
    manifest = read_manifest(eval_run, "eval")
    assert manifest["command"] == ["polsplit", "eval", "--model", "tiny", "--n", "2"]
    assert manifest["commands"] == [manifest["command"]] and manifest["created"] == "2025-01-01T00:00:00Z"

    judge_run = _write(tmp_path / "judge", {"kind": "judge", "command": ["polsplit", "judge", "x.jsonl"],
                                            "started_at": "2025-02-03T04:05:06Z"})
    assert load_manifest(judge_run)["created"] == "2025-02-03T04:05:06Z"
    assert "started_at" not in load_manifest(judge_run)

    train_run = _write(tmp_path / "train", {"kind": "train", "command": ["a"], "commands": [["a"], ["b"]]})
    resumed = manifest_header("train", (), load_manifest(train_run))
    assert resumed["commands"][:2] == [["a"], ["b"]] and resumed["command"] == ["a"]
    assert resumed["created"] is None  # not recorded then; a resume does not make the run new

    verl_run = _write(tmp_path / "verl", {"kind": "train", "backend": "verl", "launches": [
        {"command": ["polsplit", "train", "--backend", "verl"], "status": "interrupted"},
        {"command": ["polsplit", "train", "--resume", "r"], "status": "finished"}]})
    manifest = load_manifest(verl_run)
    assert manifest["command"] == ["polsplit", "train", "--backend", "verl"]
    assert manifest["commands"] == [["polsplit", "train", "--backend", "verl"], ["polsplit", "train", "--resume", "r"]]

    newer = _write(tmp_path / "newer", {"schema": 99, "kind": "eval"})
    with pytest.raises(UserError, match="schema 99 is newer"):
        load_manifest(newer)


def test_out_folder_of_other_results_is_refused(tmp_path):
    assert check_out_dir(tmp_path / "absent", "eval") is None
    eval_run = _write(tmp_path / "eval", {"kind": "eval"})
    assert check_out_dir(eval_run, "eval")["kind"] == "eval"
    with pytest.raises(UserError, match="already holds results of kind 'eval': choose another --out for train"):
        check_out_dir(eval_run, "train")
    kl = _write(tmp_path / "kl", {"kind": "analyze", "analysis": "kl"})
    assert check_out_dir(kl, "analyze", "kl")["analysis"] == "kl"
    with pytest.raises(UserError, match=r"kind 'analyze' \(analysis 'kl'\): choose another --out for analyze compare"):
        check_out_dir(kl, "analyze", "compare")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json")
    with pytest.raises(UserError, match="not overwriting it"):
        check_out_dir(broken, "judge")


def _polsplit(monkeypatch, capsys, *args) -> tuple[int, str]:
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["polsplit", *args])
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    return stopped.value.code, capsys.readouterr().err


@pytest.mark.parametrize("args", [
    ["train", "--steps", "1"],
    ["prepare", "--data-file", "{data}"],
])
def test_commands_refuse_another_commands_folder_and_leave_it_as_it_was(tmp_path, monkeypatch, capsys, args):
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps({"question": f"{i}+1", "answer": str(i + 1)}) + "\n" for i in range(4)))
    eval_run = _write(tmp_path / "eval", {"kind": "eval", "model": "tiny"})
    before = sorted(p.name for p in eval_run.iterdir())
    code, err = _polsplit(monkeypatch, capsys, *[a.format(data=data) for a in args], "--out", str(eval_run))
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "already holds results of kind 'eval'" in lines[0], err
    assert sorted(p.name for p in eval_run.iterdir()) == before
    assert json.loads((eval_run / "manifest.json").read_text()) == {"kind": "eval", "model": "tiny"}
