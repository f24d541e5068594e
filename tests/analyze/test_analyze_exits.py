"""Inputs `polsplit analyze` used to accept with exit 0, in a real process: each is now one red line
and exit 2 before any work, and unequal sample counts are stated in the output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from analyze_fixtures import samples_from_counts, write_eval_run


def polsplit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "polsplit_cli.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=os.environ.copy())


def one_red_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    return line


@pytest.fixture
def run(tmp_path):
    records = samples_from_counts("arithmetic", "normal", [1, 2], 4) + samples_from_counts("arithmetic", "high-entropy",
                                                                                          [2, 3], 4)
    return write_eval_run(tmp_path / "run", records)


def test_kl_refuses_a_negative_bootstrap_and_a_mode_against_itself(run, tmp_path):
    line = one_red_line(polsplit("analyze", "kl", str(run), "--bootstrap", "-1", cwd=tmp_path))
    assert "--bootstrap must be 0 (no intervals) or more resamples, got -1" in line
    line = one_red_line(polsplit("analyze", "kl", str(run), "--mode", "normal", "--reference", "normal", cwd=tmp_path))
    assert "--mode and --reference are both 'normal'" in line
    line = one_red_line(polsplit("analyze", "best-of-n", str(run), "--mode", "normal", "--reference", "normal",
                                 cwd=tmp_path))
    assert "--mode and --reference are both 'normal'" in line


def test_output_files_in_a_missing_folder_are_refused_and_no_folder_is_made(run, tmp_path):
    target = tmp_path / "missing" / "dir" / "t.md"
    line = one_red_line(polsplit("analyze", "compare", str(run), "--markdown", str(target), cwd=tmp_path))
    assert f"parent folder {target.parent} does not exist" in line
    assert not (tmp_path / "missing").exists()
    line = one_red_line(polsplit("analyze", "compare", str(run), "--csv", str(tmp_path), cwd=tmp_path))
    assert "is a folder" in line
    written = polsplit("analyze", "compare", str(run), "--markdown", "t.md", cwd=tmp_path)  # a relative name: here
    assert written.returncode == 0, written.stderr
    assert (tmp_path / "t.md").read_text().startswith("### Accuracy and entropy per benchmark")


def test_a_run_spec_with_an_empty_mode_is_refused(run, tmp_path):
    line = one_red_line(polsplit("analyze", "compare", f"{run}:", cwd=tmp_path))
    assert f"'{run}:': no mode after ':'" in line


def test_unequal_sample_counts_are_noted(tmp_path):
    four = write_eval_run(tmp_path / "four", samples_from_counts("arithmetic", "normal", [1, 2], 4))
    two = write_eval_run(tmp_path / "two", samples_from_counts("arithmetic", "normal", [1, 2], 2))
    uneven = write_eval_run(tmp_path / "uneven", samples_from_counts("arithmetic", "normal", [1], 4)
                            + samples_from_counts("arithmetic", "normal", [0, 1], 2)[2:])  # p0: 4 samples, p1: 2
    result = polsplit("analyze", "compare", str(four), str(two), str(uneven), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    note = "samples per problem differ (four: 4, two: 2, uneven: 2-4): each row's accuracy averages its own samples"
    assert note in json.loads(result.stdout)["notes"]
    assert note in " ".join(result.stderr.split())  # printed under the table too (wrapped to its width)
    rows = {row["label"]: row["columns"]["arithmetic"]["accuracy_pct"] for row in json.loads(result.stdout)["rows"]}
    # avg@n per problem, then over problems: four (1/4 + 2/4) / 2, two (1/2 + 2/2) / 2, uneven (1/4 + 1/2) / 2
    assert rows == pytest.approx({"four": 37.5, "two": 75.0, "uneven": 37.5})

    same = polsplit("analyze", "compare", str(four), f"{four}:normal", "--json", cwd=tmp_path)
    assert same.returncode == 0
    assert not any("samples per problem" in note for note in json.loads(same.stdout)["notes"])
