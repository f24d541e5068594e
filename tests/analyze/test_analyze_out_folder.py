"""``--out`` never clobbers another analysis: `analyze compare --out` into `analyze modes`' folder is refused,
and that folder keeps its manifest and files; the same analysis may rewrite its own folder."""

from __future__ import annotations

import json

from analyze_fixtures import run_cli, samples_from_counts, write_eval_run


def test_compare_into_another_analysis_folder_is_refused_and_leaves_it_as_it_was(tmp_path, capsys):
    run = write_eval_run(tmp_path / "run", samples_from_counts("arithmetic", "normal", [1, 0], 2)
                         + samples_from_counts("arithmetic", "high-entropy", [2, 1], 2))
    out = tmp_path / "analysis"
    code, _, err = run_cli(["analyze", "modes", str(run), "--out", str(out)], capsys)
    assert code == 0, err
    manifest_text = (out / "manifest.json").read_text()
    assert json.loads(manifest_text)["analysis"] == "modes"
    files = sorted(p.name for p in out.iterdir())

    code, stdout, err = run_cli(["analyze", "compare", str(run), "--out", str(out)], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and stdout == "" and len(lines) == 1, err
    assert "already holds results of kind 'analyze' (analysis 'modes')" in lines[0]
    assert (out / "manifest.json").read_text() == manifest_text
    assert sorted(p.name for p in out.iterdir()) == files

    code, _, err = run_cli(["analyze", "modes", str(run), "--out", str(out)], capsys)
    assert code == 0, err
    assert json.loads((out / "manifest.json").read_text())["analysis"] == "modes"
