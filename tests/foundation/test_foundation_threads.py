"""The CLI makes idle OpenMP threads sleep (benchmarks/busy_machine.py measures why), unless the user chose."""

import os
import subprocess
import sys

import pytest

PROBE = (
    "import os, sys\n"
    "sys.argv = ['polsplit', '--version']\n"
    "from polsplit_cli.cli import main\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    "print('policy=' + os.environ.get('OMP_WAIT_POLICY', '<unset>'))\n"
)


@pytest.mark.parametrize(("user_value", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_cli_sets_passive_waiting_unless_user_chose(user_value: str | None, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if user_value is not None:
        env["OMP_WAIT_POLICY"] = user_value
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True).stdout
    assert f"policy={expected}" in out
