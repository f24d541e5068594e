"""--help of every command: flags show no value type, options that take a value show it, and the
text points to what a user has (docs/, flags), not to the design documents."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

COMMANDS = [[], ["train"], ["prepare"], ["export"], ["eval"], ["judge"], ["modes"], ["analyze"],
            *[["analyze", name] for name in ("kl", "modes", "best-of-n", "generalization", "compare", "plot")]]


def help_text(command: list[str]) -> str:
    result = subprocess.run([sys.executable, "-c", "from polsplit_cli.cli import main; main()", *command, "--help"],
                            capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "polsplit")
def test_flags_show_no_value_type(command):
    text = help_text(command)
    assert "--help" in text and "<bool>" not in text


def test_eval_help_takes_a_run_folder_to_resume_and_cites_no_spec():
    text = help_text(["eval"])
    assert "SPEC" not in text and "docs/eval.md" in text
    resume = next(line for line in text.splitlines() if "--resume" in line)
    assert "RUN_DIR" in resume
    quiet = next(line for line in text.splitlines() if "--quiet" in line)
    assert quiet.split("--quiet", 1)[1].split()[0] == "No"  # straight to the help: no value to give
    assert "[default: 16]" in text  # --batch-size
