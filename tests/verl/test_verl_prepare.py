"""``polsplit prepare``: JSONL -> verl parquet, read back by verl's own RLHFDataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("verl")
pytestmark = pytest.mark.verl

from typer.testing import CliRunner  # noqa: E402

from polsplit_cli.cli import app  # noqa: E402
from polsplit_cli.errors import UserError  # noqa: E402
from polsplit_cli.prompts import math_task  # noqa: E402
from polsplit_cli.train.verl.prepare import prepare  # noqa: E402


def _jsonl(path, n):
    path.write_text("".join(json.dumps({"question": f"What is {i}+1?", "answer": i + 1}) + "\n" for i in range(n)))
    return path


def test_prepare_writes_verl_schema_that_rlhf_dataset_reads(tmp_path, tiny):
    _, tokenizer, _ = tiny
    paths = prepare(tmp_path / "out", data_file=_jsonl(tmp_path / "qa.jsonl", 10), size=6, val_size=3, seed=1)
    import pandas as pd

    train, val = pd.read_parquet(paths["train"]), pd.read_parquet(paths["val"])
    assert (len(train), len(val)) == (6, 3)
    assert not set(train["extra_info"].map(lambda e: e["id"])) & set(val["extra_info"].map(lambda e: e["id"]))
    row = train.iloc[0]
    question = row["extra_info"]["question"]
    assert row["data_source"] == "polsplit/qa" and row["ability"] == "math"
    assert list(row["prompt"]) == [{"role": "user", "content": math_task(question)}]
    assert row["reward_model"] == {"style": "rule", "ground_truth": str(int(question.split()[2].split("+")[0]) + 1)}
    assert list(train["extra_info"].map(lambda e: e["index"])) == list(range(6))
    assert json.loads(paths["manifest"].read_text())["kind"] == "data"

    from omegaconf import OmegaConf
    from verl.utils.dataset.rl_dataset import RLHFDataset

    data_config = OmegaConf.create({"prompt_key": "prompt", "max_prompt_length": 1024, "return_raw_chat": True,
                                    "filter_overlong_prompts": False, "truncation": "error"})
    item = RLHFDataset(str(paths["train"]), tokenizer, data_config)[0]
    assert list(item["raw_prompt"]) == [{"role": "user", "content": math_task(question)}]
    assert item["index"] == 0 and item["reward_model"]["ground_truth"] == row["reward_model"]["ground_truth"]


def test_same_seed_same_sample_other_seed_other_sample(tmp_path):
    data = _jsonl(tmp_path / "qa.jsonl", 30)
    import pandas as pd

    def ids(seed, name):
        paths = prepare(tmp_path / name, data_file=data, size=10, val_size=5, seed=seed)
        return list(pd.read_parquet(paths["train"])["extra_info"].map(lambda e: e["id"]))

    assert ids(0, "a") == ids(0, "b") != ids(1, "c")


def test_bad_input_is_a_one_line_error(tmp_path):
    with pytest.raises(UserError, match="exceeds"):
        prepare(tmp_path / "o", data_file=_jsonl(tmp_path / "qa.jsonl", 5), size=10, val_size=1)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "answer": "1"}\n{"question": 3}\n')
    result = CliRunner().invoke(app, ["prepare", "--data-file", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0 and ":2: " in str(result.exception)


def test_deepmath_offline_is_one_line_suggesting_data_file(tmp_path):
    # a fresh process: huggingface_hub reads the offline switch at import time
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    result = subprocess.run([sys.executable, "-m", "polsplit_cli.cli", "prepare", "--out", str(tmp_path / "o")],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "--data-file" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()
