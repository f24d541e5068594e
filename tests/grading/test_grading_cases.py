"""The grader on two case sets with expected verdicts and a source per row (docs/grading.md, "Accuracy"):

- ``data/grader-cases-external.jsonl``: 241 cases from other graders' own test suites (Math-Verify,
  NeMo-Skills, hendrycks/math, lighteval, Qwen2.5-Math, verl); a copy of the project's shared file,
  which is read instead where it exists (``../shared/data`` beside the repository);
- ``data/grader-cases-polsplit.jsonl``: the verdicts issue 13 requires, the grading decisions of
  docs/grading.md, and MATH/AIME answer forms, written by hand.

Each case becomes a response ``<think>...</think> The answer is \\boxed{PRED}``. The combined
grader's disagreements with the expected verdicts are pinned below, each with its reason: a new
miss, a new false positive or a fixed case fails the test until this list is updated.
"""

import json
from pathlib import Path

import pytest

from polsplit_cli.eval.grading import grade_many

DATA = Path(__file__).resolve().parent / "data"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "grader-cases-external.jsonl"

KNOWN_DISAGREEMENTS = {
    "grader-cases-external.jsonl": {
        ("C", "c"): "a lower-case letter in the box is read as the option (lighteval's pattern is case-sensitive)",
        ("B", "b"): "the same",
        ("10, 4, -2", "4, 10, -2"): "a bare list of answers is unordered (hendrycks/math's string match keeps order)",
        ("0.1, 4, 2", "4, .1, 2"): "the same",
        ("1000.99", "1000,99"): "a decimal comma is not read: '1,22' may as well be the list 1, 22",
        ("1,22", "1.22"): "the same",
        ("185", "185\\"): "the response \\boxed{185\\} never closes: its backslash escapes the brace",
    },
    "grader-cases-polsplit.jsonl": {
        ("[-2, 3]", r"-2 \le x \le 3"): "math-verify compares a relation with a set only when the prediction "
                                         "is the set; the PRM800K path reads neither",
    },
}
PRM800K_FALSE_POSITIVES = {("C", "c"), ("B", "b")}  # the paper's reward: lower-case letters, nothing else


def load(name: str) -> list[dict]:
    path = SHARED if name == SHARED.name and SHARED.is_file() else DATA / name
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert all(row["source"] and isinstance(row["expected"], bool) for row in rows)
    return rows


def disagreements(rows: list[dict], grader: str) -> dict[tuple[str, str], bool]:
    """(gold, prediction) -> the grader's verdict, where it differs from the expected one."""
    items = [(f"<think>...</think> The answer is \\boxed{{{row['pred']}}}", row["gold"], row["kind"],
              row["n_options"]) for row in rows]
    return {(row["gold"], row["pred"]): result.correct
            for row, result in zip(rows, grade_many(items, grader=grader), strict=True)
            if result.correct != row["expected"]}


def test_the_copy_is_the_shared_file():
    if not SHARED.is_file():
        pytest.skip("the shared case file is not beside this checkout")
    assert (DATA / SHARED.name).read_bytes() == SHARED.read_bytes()


@pytest.mark.parametrize("name", sorted(KNOWN_DISAGREEMENTS))
def test_combined_grader_disagrees_only_where_documented(name):
    rows = load(name)
    assert set(disagreements(rows, "combined")) == set(KNOWN_DISAGREEMENTS[name])


@pytest.mark.parametrize("name", sorted(KNOWN_DISAGREEMENTS))
def test_paper_reward_adds_no_false_positive(name):
    found = disagreements(load(name), "prm800k")
    assert {case for case, correct in found.items() if correct} <= PRM800K_FALSE_POSITIVES


def test_required_verdicts_are_in_the_case_set():
    required = [row for row in load("grader-cases-polsplit.jsonl") if row["source"].startswith("polsplit issue 13")]
    pairs = {(row["gold"], row["pred"]): row["expected"] for row in required}
    assert pairs[("7 = 11a+c", "11a+c")] is False and pairs[("32349", "32, 349")] is False
    assert pairs[("(0,1)", "[0,1]")] is False and pairs[("5", "6")] is False
    assert pairs[(r"\pm 2021", r"\{-2021, 2021\}")] is True and len(required) >= 25
