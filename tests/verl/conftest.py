"""Shared fixture for the verl tests: the built-in tiny model."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny():
    """(model, tokenizer, checkpoint folder) of the built-in tiny model."""
    from polsplit_cli.models import load_model, resolve_model_path

    model, tokenizer = load_model("tiny")
    return model, tokenizer, resolve_model_path("tiny")
