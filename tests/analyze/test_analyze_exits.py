"""Inputs `polsplit analyze` used to accept with exit 0, in a real process: each is now one red line
and exit 2 before any work."""

from __future__ import annotations

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

