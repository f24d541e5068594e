"""summary.json metrics against hand-computed values; the paper's AIME-24/25 column and 4-column average."""

from __future__ import annotations

import math

import pytest

from polsplit_cli.eval.report import render_table, summarize
from polsplit_cli.metrics import k_values


def record(benchmark, problem, correct, *, sample=0, mode="normal", bits=2.0, tokens=4, finish="stop",
           response="x</think> \\boxed{1}"):
    return {"benchmark": benchmark, "problem_id": problem, "mode": mode, "sample": sample, "correct": correct,
            "entropy_bits_sum": bits, "entropy_bits_sum_tempered": bits / 2, "entropy_tokens": tokens,
            "response_tokens": tokens, "finish_reason": finish, "response": response}


def test_benchmark_metrics_by_hand():
    outcomes = {"p1": [True, True, False, False], "p2": [False] * 4, "p3": [True] * 4}
    records = []
    for problem, results in outcomes.items():
        for j, correct in enumerate(results):
            big = problem == "p3"
            records.append(record("b", problem, correct, sample=j, bits=30.0 if big else 2.0, tokens=10 if big else 4,
                                  finish="length" if problem == "p2" and j < 3 else "stop",
                                  response="no think" if j < 2 else "a</think>b"))
    stats = summarize(records, n=4, temperature=0.6)["benchmarks"]["b"]["normal"]
    assert stats["problems"] == 3 and stats["samples"] == 12
    assert stats["accuracy"] == pytest.approx(0.5)  # mean of 0.5, 0, 1
    assert stats["accuracy_se"] == pytest.approx(0.5 / math.sqrt(3))  # sample sd 0.5 over 3 problems
    assert stats["best_at_n"] == pytest.approx(2 / 3)
    # pass@2 of p1 (2 of 4 right) = 1 - C(2,2)/C(4,2) = 5/6; p2 = 0; p3 = 1
    assert stats["pass_at_k"] == pytest.approx({"1": 0.5, "2": 11 / 18, "4": 2 / 3})
    assert stats["entropy_bits"] == pytest.approx(136 / 72)  # token-weighted, not the mean of response means
    assert stats["entropy_bits_tempered"] == pytest.approx(68 / 72)
    assert stats["response_length"] == pytest.approx(72 / 12)
    assert stats["truncation_rate"] == pytest.approx(3 / 12)
    assert stats["missing_think_rate"] == pytest.approx(6 / 12)


def test_paper_columns_pool_aime_and_average_four():
    records = [record("aime-24", "p1", True), record("aime-24", "p2", False),
               record("aime-25", "p1", True), record("aime-25", "p2", True),
               record("math-500", "m", True), record("gpqa-diamond", "g", False), record("mmlu-pro", "u", True),
               record("math-500", "m", False, mode="high-entropy")]
    summary = summarize(records, n=1, temperature=0.6)
    normal = summary["paper"]["normal"]
    assert normal["AIME-24/25"]["problems"] == 4  # p1 of AIME-24 and p1 of AIME-25 stay distinct
    assert normal["AIME-24/25"]["accuracy"] == pytest.approx(0.75)
    assert normal["average"]["accuracy"] == pytest.approx((1.0 + 0.75 + 0.0 + 1.0) / 4)
    assert normal["average"]["entropy_bits"] == pytest.approx(0.5)
    assert "high-entropy" not in summary["paper"]  # only MATH-500 in that mode: no combined columns
    table = render_table(summary)
    assert table.row_count == 6 + 2  # six benchmark x mode rows, then AIME-24/25 and the average
    labels = list(table.columns[0]._cells)
    assert "AIME-24/25" in labels and "average (4 columns)" in labels


def test_creative_samples_have_no_accuracy():
    stats = summarize([record("creative", "s1", None)], n=1, temperature=0.6)["benchmarks"]["creative"]["normal"]
    assert stats["accuracy"] is None and stats["best_at_n"] is None and stats["pass_at_k"] == {}
    assert stats["entropy_bits"] == pytest.approx(0.5)


def test_k_values():
    assert k_values(8) == [1, 2, 4, 8]
    assert k_values(6) == [1, 2, 4, 6]
    assert k_values(1) == [1]
