"""load_model on the shipped tiny checkpoint and on bad paths; the checkpoint really answers."""

import time

import pytest

from polsplit_cli.data.arithmetic import arithmetic_problems
from polsplit_cli.errors import UserError
from polsplit_cli.models import TINY_CHECKPOINT, load_model
from polsplit_cli.tools.build_tiny import greedy_accuracy


def test_load_tiny_is_fast_and_eval_mode():
    load_model("tiny")  # warm the imports; the figure that matters is a load after import
    started = time.perf_counter()
    model, tokenizer = load_model()
    elapsed = time.perf_counter() - started
    assert elapsed < 5.0, elapsed
    assert not model.training
    assert model.config.model_type == "qwen3"
    assert 0.7e6 < sum(p.numel() for p in model.parameters()) < 1.0e6
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id


def test_load_by_folder_path_equals_tiny():
    model, _ = load_model(str(TINY_CHECKPOINT))
    tiny, _ = load_model("tiny")
    assert all((a == b).all() for a, b in zip(model.parameters(), tiny.parameters(), strict=True))


def test_missing_path_is_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_model(str(tmp_path / "nope"))
    with pytest.raises(UserError, match="does not exist"):
        load_model("Qwen/Qwen3-8B")  # a hub id is never downloaded


def test_folder_without_model_is_user_error(tmp_path):
    with pytest.raises(UserError, match="no config.json"):
        load_model(str(tmp_path))
    (tmp_path / "config.json").write_text('{"model_type": "qwen3"}')
    with pytest.raises(UserError, match="cannot load"):
        load_model(str(tmp_path))


def test_shipped_model_greedy_accuracy_in_band():
    model, tokenizer = load_model("tiny")
    problems = arithmetic_problems(50, seed=0, split="test")
    accuracy = greedy_accuracy(model, tokenizer, problems, batch_size=50)
    assert 0.3 <= accuracy <= 0.7, accuracy
