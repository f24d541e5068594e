"""Benchmarks: name resolution, data files (math, generic choice, synthetic GPQA schema), GPQA option order,
built-in sets and the one-line errors for bad files and an unreachable hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polsplit_cli.errors import UserError
from polsplit_cli.eval.benchmarks import PAPER, load_benchmark, load_data_file, resolve_benchmarks
from polsplit_cli.eval.benchmarks.gpqa_diamond import option_order
from polsplit_cli.prompts import choice_task, math_task

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_resolve_expands_paper_and_comma_lists():
    assert resolve_benchmarks(["paper"]) == list(PAPER)
    assert resolve_benchmarks(["arithmetic,MATH-500", "arithmetic"]) == ["arithmetic", "math-500"]
    with pytest.raises(UserError, match="unknown benchmark 'gsm8k'"):
        resolve_benchmarks(["gsm8k"])


def test_math_data_file_as_custom_benchmark():
    loaded = load_data_file(FIXTURES / "math_small.jsonl", benchmark=None, seed=0)
    assert (loaded.name, loaded.kind) == ("math_small", "math")
    assert [p.id for p in loaded.problems] == ["m1", "m2", "3"]  # a missing id is the line number
    assert [p.gold for p in loaded.problems] == ["5", "\\frac{5}{2}", "42"]
    assert loaded.problems[0].user_text == math_task("What is 2+3?")
    assert len(loaded.source["sha256"]) == 64


def test_choice_data_file_accepts_letters_and_indices():
    loaded = load_data_file(FIXTURES / "choice_small.jsonl", benchmark=None, seed=0, limit=2)
    assert loaded.kind == "choice"
    assert [(p.gold, p.n_options) for p in loaded.problems] == [("B", 3), ("B", 4)]
    assert loaded.problems[0].user_text == choice_task("Which number is even?", ["3", "8", "5"])


def test_gpqa_schema_file_is_permuted_by_seed_and_record_id():
    rows = [json.loads(line) for line in (FIXTURES / "gpqa_synthetic.jsonl").read_text().splitlines()]
    first = load_data_file(FIXTURES / "gpqa_synthetic.jsonl", benchmark="gpqa-diamond", seed=0)
    again = load_data_file(FIXTURES / "gpqa_synthetic.jsonl", benchmark="gpqa-diamond", seed=0)
    assert first.problems == again.problems  # stable across runs (and modes: the mode never enters)
    for row, problem in zip(rows, first.problems, strict=True):
        assert problem.id == row["Record ID"]
        order = option_order(0, row["Record ID"], 4)
        assert sorted(order) == [0, 1, 2, 3]
        assert problem.gold == "ABCD"[order.index(0)]
        options = [row["Correct Answer"], row["Incorrect Answer 1"], row["Incorrect Answer 2"],
                   row["Incorrect Answer 3"]]
        assert problem.user_text == choice_task(row["Question"], [options[i] for i in order])
    # a function of (seed, id): another seed moves at least one question's options, the first seed is kept
    orders = {seed: [option_order(seed, row["Record ID"], 4) for row in rows] for seed in (0, 1)}
    assert orders[0] != orders[1]
    assert option_order(0, "synthetic-0", 4) == orders[0][0]
    assert len({tuple(o) for o in orders[0]}) > 1  # not one fixed order for every question


def test_builtin_sets_need_no_network():
    arithmetic = load_benchmark("arithmetic", seed=0, limit=3)
    assert [p.kind for p in arithmetic.problems] == ["math"] * 3
    assert arithmetic.problems == load_benchmark("arithmetic", seed=5, limit=3).problems  # fixed test split order
    creative = load_benchmark("creative", seed=0)
    assert len(creative.problems) == 13 and creative.problems[0].gold is None
    assert creative.problems[0].user_text == creative.problems[0].question


@pytest.mark.parametrize(("content", "message"), [
    ('{"question": "q", "answer": "1"}\n{not json\n', r"bad\.jsonl:2: malformed JSON"),
    ('{"question": "", "answer": "1"}\n', r"bad\.jsonl:1: field 'question'"),
    ('{"question": "q", "options": ["a", "b"], "answer": "C"}\n', r"bad\.jsonl:1: field 'answer' must be a letter A-B"),
    ('{"question": "q", "options": ["a"], "answer": 0}\n', r"bad\.jsonl:1: field 'options' must have 2-26"),
    ('{"id": 1, "question": "q", "answer": "1"}\n{"id": 1, "question": "r", "answer": "2"}\n', "duplicate id '1'"),
    ('{"question": "q", "answer": "1"}\n{"question": "q", "options": ["a", "b"], "answer": 0}\n', "mix kinds"),
    ("", "no records"),
])
def test_malformed_data_files_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        load_data_file(path, benchmark=None, seed=0)


def test_gpqa_schema_row_missing_a_column(tmp_path):
    path = tmp_path / "g.jsonl"
    path.write_text(json.dumps({"Record ID": "x", "Question": "q", "Correct Answer": "a"}) + "\n")
    with pytest.raises(UserError, match="g.jsonl:1: missing field 'Incorrect Answer 1'"):
        load_data_file(path, benchmark="gpqa-diamond", seed=0)


def test_unreachable_hub_is_one_line_suggesting_data_file():
    with pytest.raises(UserError, match="--data-file") as error:
        load_benchmark("math-500", seed=0, limit=1)
    assert "\n" not in str(error.value) and "HuggingFaceH4/MATH-500" in str(error.value)


def test_gated_dataset_error_explains_token_and_terms():
    from datasets.exceptions import DatasetNotFoundError

    from polsplit_cli.eval.benchmarks import gpqa_diamond
    from polsplit_cli.eval.benchmarks.base import hub_error

    gated = DatasetNotFoundError("Dataset 'Idavidrein/gpqa' is a gated dataset on the Hub. You must be "
                                 "authenticated to access it.")
    message = str(hub_error(gpqa_diamond.SOURCE, "gpqa-diamond", gated))
    assert "HF_TOKEN" in message and "accept its terms" in message and "Idavidrein/gpqa" in message
