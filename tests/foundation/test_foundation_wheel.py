"""The built wheel carries prompts/ and configs/ and finds them without the checkout."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory):
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True, timeout=300,
    )
    wheel = next(out.glob("polsplit-*.whl"))
    target = out / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    return wheel, target


def test_wheel_ships_prompts_and_configs(installed_wheel):
    wheel, _ = installed_wheel
    names = zipfile.ZipFile(wheel).namelist()
    assert "polsplit_cli/_data/prompts/modes/high-entropy.txt" in names
    assert "polsplit_cli/_data/prompts/creative/judge_rubric.txt" in names
    shipped_configs = {n for n in names if n.startswith("polsplit_cli/_data/configs/")}
    repo_configs = {f"polsplit_cli/_data/configs/{p.relative_to(REPO / 'configs')}" for p in (REPO / "configs").rglob("*") if p.is_file()}
    assert repo_configs <= shipped_configs


def test_installed_wheel_reads_its_own_data(installed_wheel, tmp_path):
    _, target = installed_wheel
    code = "from polsplit_cli.resources import data_dir; from polsplit_cli.modes import get_mode; print(data_dir('prompts')); print(get_mode('low-entropy').system[:30])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                            env={"PYTHONPATH": str(target), "PATH": ""}, timeout=60)
    assert result.returncode == 0, result.stderr
    where, text = result.stdout.splitlines()
    assert where == str(target / "polsplit_cli" / "_data" / "prompts")
    assert text == 'You are now in "Low Entropy" m'
