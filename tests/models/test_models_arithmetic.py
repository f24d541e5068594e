import re

import pytest

from polsplit_cli.data.arithmetic import (
    ARITHMETIC_TEST_SIZE,
    ARITHMETIC_TRAIN_SIZE,
    arithmetic_problems,
)


def test_splits_partition_all_pairs_about_ninety_ten():
    assert ARITHMETIC_TRAIN_SIZE + ARITHMETIC_TEST_SIZE == 100 * 100
    assert 900 <= ARITHMETIC_TEST_SIZE <= 1100


def test_train_and_test_are_disjoint():
    train = {p["question"] for p in arithmetic_problems(ARITHMETIC_TRAIN_SIZE, split="train")}
    test = {p["question"] for p in arithmetic_problems(ARITHMETIC_TEST_SIZE, split="test")}
    assert len(train) == ARITHMETIC_TRAIN_SIZE and len(test) == ARITHMETIC_TEST_SIZE
    assert not train & test


def test_same_seed_same_problems_other_seed_other_order():
    assert arithmetic_problems(20, seed=3, split="test") == arithmetic_problems(20, seed=3, split="test")
    assert arithmetic_problems(20, seed=3, split="test") != arithmetic_problems(20, seed=4, split="test")


def test_record_format_and_answers():
    for problem in arithmetic_problems(200, seed=1):
        a, b = map(int, re.fullmatch(r"What is (\d+)\+(\d+)\?", problem["question"]).groups())
        assert a < 100 and b < 100
        assert problem["answer"] == str(a + b)
        assert problem["id"] == f"arith-{a}+{b}"
    assert arithmetic_problems(1, seed=0, split="train")[0]["answer"].isdigit()


def test_too_many_or_unknown_split_is_value_error():
    with pytest.raises(ValueError, match="has 1"):
        arithmetic_problems(ARITHMETIC_TEST_SIZE + 1, split="test")
    with pytest.raises(ValueError, match="unknown arithmetic split"):
        arithmetic_problems(1, split="validation")
