"""Fixtures for the judge tests: a real loopback OpenAI-compatible server."""

from __future__ import annotations

import pytest
from judge_server import JudgeServer


@pytest.fixture
def judge_server():
    server = JudgeServer(stall_s=3.0, retry_after="0.3").start()
    yield server
    server.stop()
