"""parse_scores against a table of judge replies, and the rubric template."""

from __future__ import annotations

import time

import pytest

from polsplit_cli.judge.rubric import RUBRIC_NAMES, parse_scores, render_rubric, rubric_version

ALL = dict(zip(RUBRIC_NAMES, (7.0, 6.0, 8.0, 5.0, 9.0), strict=True))

CASES = [
    # the format the rubric asks for
    ("* **Creativity:** 7\n* **Originality:** 6\n* **Narrative Flow:** 8\n* **Emotional Impact:** 5\n"
     "* **Imagery:** 9", ALL),
    # x/10, "Score:", decimals, bold numbers, prose around
    ("My verdict follows.\n- Creativity: 7/10\n- Originality: Score: 6\n- Narrative Flow: 8.0\n"
     "- Emotional Impact: 5 out of 10\n- Imagery: **9**\nThanks!", ALL),
    ("Creativity: 7.5\nOriginality: 6.25\nNarrative Flow: 8\nEmotional Impact: 5\nImagery: 9",
     {**ALL, "Creativity": 7.5, "Originality": 6.25}),
    # headings, the rubric's parenthesised glosses, brackets
    ("### Creativity (Novelty and uniqueness of ideas): [7]\n### Originality (Innovative approach): [6]\n"
     "### Narrative Flow (Coherence): [8]\n### Emotional Impact (Ability to evoke feelings): [5]\n"
     "### Imagery (Vividness of descriptions): [9]", ALL),
    # JSON keys with underscores, any case
    ('{"creativity": 7, "originality": 6, "narrative_flow": 8, "emotional_impact": 5, "imagery": 9}', ALL),
    # another denominator is rescaled to 0-10: 70/100 -> 7
    ("Creativity: 70/100\nOriginality: 60/100\nNarrative Flow: 80/100\nEmotional Impact: 50/100\n"
     "Imagery: 90/100", ALL),
    # a name repeated: the last score counts
    ("Creativity: 3 at first sight, but on reflection...\nCreativity: 7\nOriginality: 6\n"
     "Narrative Flow: 8\nEmotional Impact: 5\nImagery: 9", ALL),
    # reasoning in <think> is ignored
    ("<think>Creativity: 1 Originality: 1 Narrative Flow: 1 Emotional Impact: 1 Imagery: 1</think>"
     "Creativity: 7\nOriginality: 6\nNarrative Flow: 8\nEmotional Impact: 5\nImagery: 9", ALL),
    # bounds 0 and 10 are in range
    ("Creativity: 0\nOriginality: 10\nNarrative Flow: 10/10\nEmotional Impact: 0.0\nImagery: 10",
     {"Creativity": 0.0, "Originality": 10.0, "Narrative Flow": 10.0, "Emotional Impact": 0.0, "Imagery": 10.0}),
    # failures: None, never 0
    ("I loved it!", None),
    ("", None),
    ("Creativity: 7\nOriginality: 6\nNarrative Flow: 8\nEmotional Impact: 5", None),  # Imagery missing
    ("Creativity: 11\nOriginality: 6\nNarrative Flow: 8\nEmotional Impact: 5\nImagery: 9", None),  # > 10
    ("Creativity: -1\nOriginality: 6\nNarrative Flow: 8\nEmotional Impact: 5\nImagery: 9", None),  # < 0
    ("Creativity: N/A\nOriginality: 6\nNarrative Flow: 8\nEmotional Impact: 5\nImagery: 9", None),
    ("<think>Creativity: 7 Originality: 6 Narrative Flow: 8 Emotional Impact: 5 Imagery: 9</think>", None),
    ("Creativity: 7\nOriginality: 6\nNarrative Flow: 8\nEmotional Impact: 5\nImagery: 9/0", None),
]


@pytest.mark.parametrize(("reply", "expected"), CASES)
def test_judge_parse_scores_table(reply, expected):
    assert parse_scores(reply) == expected


def test_judge_parse_scores_rejects_non_text():
    assert parse_scores(None) is None  # type: ignore[arg-type]


def test_judge_parse_scores_bounded_on_hostile_input():
    hostile = "Creativity " * 200_000 + "**" * 100_000 + "Narrative" + " -" * 100_000
    start = time.perf_counter()
    assert parse_scores(hostile) is None
    assert time.perf_counter() - start < 5.0


def test_judge_render_rubric_fills_prompt_and_story_verbatim():
    text = render_rubric("Write about {braces}.", "A story with {prompt} and {} in it.")
    assert "**Original Prompt:**\nWrite about {braces}." in text
    assert "**Story to Evaluate:**\nA story with {prompt} and {} in it." in text
    assert "{story}" not in text
    for name in RUBRIC_NAMES:
        assert f"**{name}:** [Score]" in text


def test_judge_rubric_version_is_stable_hex():
    assert rubric_version() == rubric_version()
    assert len(rubric_version()) == 16
    int(rubric_version(), 16)
