"""OpenMP waiting: passive on a busy machine, libgomp's default on an idle one, the user's choice kept.

benchmarks/busy_machine.py measures why (spinning threads fight other processes for the cores).
"""

import os
import subprocess
import sys
import time

import pytest

from polsplit_cli import openmp

PROBE = (
    "import os, sys\n"
    "sys.argv = ['polsplit', 'train', '--lr', '-1']\n"  # a torch job, refused before torch loads
    "from polsplit_cli.cli import main\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    "print('policy=' + os.environ.get('OMP_WAIT_POLICY', '<unset>'))\n"
)
HOG = "import os\nparent = os.getppid()\nwhile os.getppid() == parent: pass"


def _cli_policy(env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True).stdout
    return out.strip().rsplit("policy=", 1)[1]


def _env_without_policy() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in openmp.USER_KNOBS}


def test_policy_from_busy_cores() -> None:
    assert openmp.wait_policy(None) is None  # cannot tell: leave libgomp's default
    assert openmp.wait_policy(0.1) is None
    assert openmp.wait_policy(0.5) == "PASSIVE"
    assert openmp.wait_policy(1.7) == "PASSIVE"


@pytest.mark.parametrize("user_env", [{"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "1000"}])
def test_the_users_choice_is_kept(user_env: dict[str, str]) -> None:
    environ = dict(user_env)
    openmp.choose_openmp_waiting(environ)
    assert environ == user_env


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="the probe reads Linux's /proc/stat")
def test_busy_cores_sees_a_cpu_hog_and_the_cli_waits_passively() -> None:
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(os.cpu_count() or 1)]
    try:
        time.sleep(0.3)
        assert openmp.busy_cores() >= 0.5 * len(hogs)  # each hog keeps (about) one core busy
        assert _cli_policy(_env_without_policy()) == "PASSIVE"
        assert _cli_policy({**_env_without_policy(), "OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
