"""The screen is ours: no transformers progress bars or deprecation notices in CLI output.

The CLI runs go with Python's warnings switched on (``PYTHONWARNINGS``), which turns our
deprecation filter off, so a deprecated transformers API still in our code fails here
instead of being hidden: on transformers >= 5.24 the old ``past_key_values`` name did.
"""

import os
import subprocess
import sys

NOISE = ("FutureWarning", "deprecated", "Loading weights")


def polsplit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "polsplit_cli.cli", *args], env=env, capture_output=True,
                          text=True, timeout=300)


def test_train_and_eval_print_no_deprecation_or_loading_bar(tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "default::FutureWarning"}
    train = polsplit("train", "--steps", "1", "-Q", "2", "-G", "4", "--max-new-tokens", "8", "eval_size=0",
                     "threads=1", "--out", str(tmp_path / "train"), env=env)
    evaluation = polsplit("eval", "--model", "tiny", "--benchmarks", "arithmetic", "--limit", "2", "--n", "1",
                          "--max-new-tokens", "8", "--out", str(tmp_path / "eval"), env=env)
    for run in (train, evaluation):
        assert run.returncode == 0, run.stderr
        assert not [word for word in NOISE if word in run.stderr], run.stderr
    assert "done: 1 steps" in train.stderr
    assert (tmp_path / "eval" / "summary.json").is_file()


LOAD_THEN_WARN = """
import warnings
from transformers.utils import logging
from polsplit_cli.models import load_model
load_model("tiny")
log = logging.get_logger("transformers.modeling_utils")
warnings.warn("`a` is deprecated and will be removed in version 9.0", FutureWarning)
log.warning("`b` is deprecated, use `c`")
warnings.warn("integer division will change", FutureWarning)
log.warning("weights of d were not initialized")
log.error("e is broken")
"""


def test_loading_hides_deprecations_and_bars_but_not_other_warnings():
    quiet = subprocess.run([sys.executable, "-c", LOAD_THEN_WARN], capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 0, quiet.stderr
    for shown in ("integer division will change", "weights of d were not initialized", "e is broken"):
        assert shown in quiet.stderr
    assert not [word for word in NOISE[1:] if word in quiet.stderr], quiet.stderr

    asked = subprocess.run([sys.executable, "-c", LOAD_THEN_WARN], capture_output=True, text=True, timeout=300,
                           env={**os.environ, "PYTHONWARNINGS": "default::FutureWarning"})
    assert asked.returncode == 0, asked.stderr
    assert "`a` is deprecated" in asked.stderr and "`b` is deprecated" in asked.stderr
    assert "Loading weights" not in asked.stderr
