"""Bad inputs: wrong kind, missing files, malformed lines -> exit 2 with one line naming the file."""

from __future__ import annotations

import json

import pytest
from analyze_fixtures import run_cli, sample, samples_from_counts, write_eval_run, write_train_run


def _one_line_error(capsys, args: list[str]) -> str:
    code, out, err = run_cli(args, capsys)
    assert code == 2, err
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_wrong_kind_is_refused(tmp_path, capsys):
    train = write_train_run(tmp_path / "train", [{"step": 1, "normal/reward": 0.5}])
    err = _one_line_error(capsys, ["analyze", "best-of-n", str(train)])
    assert "is a 'train' run (manifest kind), expected kind 'eval'" in err
    judge = tmp_path / "judge"
    judge.mkdir()
    (judge / "manifest.json").write_text(json.dumps({"kind": "judge"}))
    assert "'judge' run" in _one_line_error(capsys, ["analyze", "plot", str(judge), "--out", str(tmp_path / "p")])


def test_missing_files(tmp_path, capsys):
    assert "no such run folder" in _one_line_error(capsys, ["analyze", "modes", str(tmp_path / "nope")])
    (tmp_path / "empty").mkdir()
    assert "no manifest.json" in _one_line_error(capsys, ["analyze", "modes", str(tmp_path / "empty")])
    run = write_eval_run(tmp_path / "run", [sample("arithmetic", "p0", "normal", 0, True)])
    (run / "samples.jsonl").unlink()
    assert "samples.jsonl: file not found" in _one_line_error(capsys, ["analyze", "modes", str(run)])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "samples.jsonl:2: malformed JSON"),
        ("[1, 2]", "samples.jsonl:2: expected a JSON object"),
        (json.dumps({k: v for k, v in sample("a", "p1", "normal", 0, True).items() if k != "correct"}),
         "samples.jsonl:2: missing field 'correct'"),
        (json.dumps(sample("a", "p1", "normal", "zero", True)), "samples.jsonl:2: field 'sample' should be int"),
    ],
)
def test_malformed_sample_lines_name_file_and_line(tmp_path, capsys, line, message):
    run = write_eval_run(tmp_path / "run", [sample("a", "p0", "normal", 0, True)])
    with (run / "samples.jsonl").open("a") as handle:
        handle.write(line + "\n")
    assert message in _one_line_error(capsys, ["analyze", "generalization", str(run)])


def test_malformed_metrics_line(tmp_path, capsys):
    train = write_train_run(tmp_path / "train", [{"step": 1}])
    with (train / "metrics.jsonl").open("a") as handle:
        handle.write('{"normal/reward": 1.0}\n')
    err = _one_line_error(capsys, ["analyze", "plot", str(train), "--out", str(tmp_path / "p")])
    assert "metrics.jsonl:2: missing field 'step'" in err


def test_modes_must_share_problems_and_exist(tmp_path, capsys):
    records = samples_from_counts("arithmetic", "normal", [1, 1], 2) + samples_from_counts("arithmetic", "high-entropy", [1], 2)
    run = write_eval_run(tmp_path / "run", records)
    assert "do not share problems of 'arithmetic'" in _one_line_error(capsys, ["analyze", "best-of-n", str(run)])
    assert "no samples in mode 'low-entropy'" in _one_line_error(
        capsys, ["analyze", "best-of-n", str(run), "--mode", "low-entropy"])


def test_kl_file_of_another_kind_and_out_folder_of_another_command(tmp_path, capsys):
    run = write_eval_run(tmp_path / "run", samples_from_counts("arithmetic", "normal", [1], 2)
                         + samples_from_counts("arithmetic", "high-entropy", [1], 2))
    not_kl = tmp_path / "x.json"
    not_kl.write_text("{}")
    assert "is not the output of 'polsplit analyze kl'" in _one_line_error(
        capsys, ["analyze", "modes", str(run), "--kl", str(not_kl)])
    other_run = tmp_path / "kl_other.json"
    other_run.write_text(json.dumps({"analysis": "kl", "run": str(tmp_path / "elsewhere"), "mode": "high-entropy",
                                     "reference": "normal", "benchmarks": {}}))
    assert "belongs to none of the runs given" in _one_line_error(
        capsys, ["analyze", "modes", str(run), "--kl", str(other_run)])
    assert "already holds results of kind 'eval'" in _one_line_error(capsys, ["analyze", "modes", str(run), "--out", str(run)])


def test_rerun_record_wins_and_cut_last_line_is_skipped(tmp_path, capsys):
    """As the writers' runfiles.JsonlLog: the last record of a sample wins; a line cut by a kill is skipped."""
    run = write_eval_run(tmp_path / "run", [sample("a", "p0", "normal", 0, False), sample("a", "p0", "normal", 1, False)])
    with (run / "samples.jsonl").open("a") as handle:
        handle.write(json.dumps(sample("a", "p0", "normal", 1, True)) + "\n")
        handle.write(json.dumps(sample("a", "p0", "normal", 0, True))[:25])
    code, out, err = run_cli(["analyze", "compare", str(run), "--json"], capsys)
    assert code == 0
    assert "samples.jsonl:4: skipping an incomplete last line" in err
    cell = json.loads(out)["rows"][0]["columns"]["a"]
    assert cell["accuracy_pct"] == 50.0 and cell["samples"] == 2
