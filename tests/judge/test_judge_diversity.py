"""Div-N-Gram and Div-BLEU against values worked out by hand."""

from __future__ import annotations

import pytest

from polsplit_cli.judge.diversity import div_bleu, div_ngram, diversity_rows, self_bleu

# "the cat sat on the mat" -> bigrams: the cat | cat sat | sat on | on the | the mat
#   5 total, 5 unique -> 5/5 = 1
# "the cat the cat"        -> bigrams: the cat | cat the | the cat
#   3 total, 2 unique -> 2/3
STORY_A = "the cat sat on the mat"
STORY_B = "the cat the cat"


def test_judge_div_ngram_per_story_by_hand():
    # mean(1, 2/3) = 5/6 -> 83.333
    assert div_ngram([STORY_A, STORY_B]) == pytest.approx(100 * 5 / 6)


def test_judge_div_ngram_pooled_by_hand():
    # all 8 bigrams together; unique: the cat, cat sat, sat on, on the, the mat, cat the = 6 -> 6/8
    assert div_ngram([STORY_A, STORY_B], pooling="pooled") == pytest.approx(75.0)


def test_judge_div_ngram_lowercases_and_splits_punctuation():
    # "The cat. the cat" -> the | cat | . | the | cat -> bigrams: the cat | cat . | . the | the cat
    # 4 total, 3 unique -> 75
    assert div_ngram(["The cat. the cat"]) == pytest.approx(75.0)


def test_judge_div_ngram_trigrams_and_short_stories():
    # "a b a b" trigrams: a b a | b a b -> 2/2 = 1; "a b" has no trigram and is left out -> 100
    assert div_ngram(["a b a b", "a b"], n=3) == pytest.approx(100.0)
    # unigrams of "a b a b": 4 total, 2 unique -> 50
    assert div_ngram(["a b a b"], n=1) == pytest.approx(50.0)
    with pytest.raises(ValueError):
        div_ngram(["one"], n=2)
    with pytest.raises(ValueError):
        div_ngram([STORY_A], pooling="sideways")  # type: ignore[arg-type]


# Div-BLEU on three 5-word stories (sacreBLEU 13a splits on spaces here):
#   A = "the cat sat on mats", B = "the cat sat on hats", C = "green dogs run very fast"
# BLEU(A | refs B, C): matched 1-grams 4/5, 2-grams 3/4, 3-grams 2/3, 4-grams 1/2; lengths equal -> BP = 1
#   -> 100 * (4/5 * 3/4 * 2/3 * 1/2) ** (1/4) = 100 * 0.2 ** 0.25 = 66.874; BLEU(B | A, C) the same.
# BLEU(C | A, B) = 0 (no word in common).
# mean = 2 * 66.874 / 3 = 44.583 -> Div-BLEU = 100 - 44.583 = 55.417
BLEU_STORIES = ["the cat sat on mats", "the cat sat on hats", "green dogs run very fast"]


def test_judge_div_bleu_by_hand():
    expected_bleu = 100 * 0.2**0.25
    assert div_bleu(BLEU_STORIES) == pytest.approx(100 - 2 * expected_bleu / 3, abs=1e-6)


def test_judge_div_bleu_identical_stories_have_no_diversity():
    assert div_bleu(["the same story again"] * 3) == pytest.approx(0.0)


def test_judge_div_bleu_needs_two_stories_and_states_signature():
    with pytest.raises(ValueError):
        div_bleu(["alone"])
    _, signature = self_bleu(BLEU_STORIES)
    assert "nrefs:2" in signature and "case:lc" in signature and "tok:13a" in signature


def test_judge_diversity_rows_average_per_prompt_then_over_prompts():
    groups = {
        ("m", "he"): {
            "p1": [STORY_A, STORY_B],  # Div-2-Gram 83.333 (above)
            "p2": ["a b a b", "c d"],  # "a b a b": a b | b a | a b -> 2/3; "c d": 1/1 -> mean 5/6 as well
            "p3": ["x y z"],  # 1 story: Div-2-Gram 100, no Div-BLEU
        }
    }
    rows, signatures = diversity_rows(groups, pooling="per-story")
    (row,) = rows
    assert row["div_ngram"] == pytest.approx((100 * 5 / 6 + 100 * 5 / 6 + 100) / 3)
    assert row["prompts"] == 3 and row["stories"] == 5
    assert row["prompts_without_div_bleu"] == 1
    expected_bleu = (div_bleu([STORY_A, STORY_B]) + div_bleu(["a b a b", "c d"])) / 2
    assert row["div_bleu"] == pytest.approx(expected_bleu)
    assert signatures and all("nrefs:1" in s for s in signatures)
