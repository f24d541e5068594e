"""Shared fixtures of the eval tests: offline hub, the built-in tiny model, a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Offline hub; one torch thread: the tiny model's ops are too small to share, and on a busy 2-core machine
# spinning intra-op threads made a CLI run four times slower.
TEST_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
os.environ.update(TEST_ENV)
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def tiny():
    """(model, tokenizer) of the built-in tiny model, float32 on CPU."""
    import torch

    from polsplit_cli.models import load_model

    torch.set_num_threads(1)
    return load_model("tiny", device="cpu", dtype=torch.float32)


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``polsplit ARGS`` in a fresh process (exit codes and one-line errors are part of the contract)."""
    code = "from polsplit_cli.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **TEST_ENV})


@pytest.fixture
def cli():
    return run_cli
