"""The protocol preset (configs/eval/paper.yaml) and --config overrides."""

from __future__ import annotations

import re

import pytest

from polsplit_cli.errors import UserError
from polsplit_cli.eval.protocol import EvalProtocol, load_protocol


def test_preset_is_the_paper_protocol():
    assert load_protocol(None) == {"benchmarks": ["paper"], "modes": ["normal"], "n": 8, "temperature": 0.6,
                                   "top_k": 20, "top_p": 0.95, "max_new_tokens": 32768, "seed": 0}


def test_user_config_replaces_preset_keys(tmp_path):
    path = tmp_path / "quick.yaml"
    path.write_text("n: 2\ntemperature: 1\nmodes: [normal, high-entropy]\nlimit: 10\n")
    protocol = load_protocol(path)
    assert (protocol["n"], protocol["temperature"], protocol["modes"], protocol["limit"]) == (
        2, 1.0, ["normal", "high-entropy"], 10)
    assert protocol["top_k"] == 20


@pytest.mark.parametrize(("text", "message"), [
    ("samples: 8\n", "unknown key 'samples'"),
    ("n: eight\n", "'n' should be of type int"),
    ("- 1\n", "expected a mapping"),
    ("n: [\n", "cannot read eval config"),
])
def test_bad_config_is_a_user_error(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        load_protocol(path)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("n", 0, "--n must be >= 1, got 0"),
    ("top_p", 1.5, "--top-p must be in (0, 1], got 1.5"),
    ("limit", 0, "--limit must be >= 1, got 0"),
])
def test_protocol_is_checked_when_built_outside_the_cli(field, value, message):
    paper = {"benchmarks": ["paper"], "modes": ["normal"], "n": 8, "temperature": 0.6, "top_k": 20, "top_p": 0.95,
             "max_new_tokens": 32768, "seed": 0}
    with pytest.raises(UserError, match=re.escape(message)):
        EvalProtocol(**{**paper, field: value})
    assert isinstance(EvalProtocol(**{**paper, "temperature": 1}).sampling.temperature, float)  # manifest: 1.0
