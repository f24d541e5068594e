"""Judge presets, key handling, judgement keys and the x10 summary rows (no network)."""

from __future__ import annotations

import dataclasses

import pytest

from polsplit_cli.errors import UserError
from polsplit_cli.judge.client import Verdict
from polsplit_cli.judge.presets import NO_KEY_PLACEHOLDER, PRESETS, api_key, resolve_judges
from polsplit_cli.judge.results import judgement_key, judgement_record, rubric_rows
from polsplit_cli.judge.stories import Story


def test_judge_presets_carry_the_documented_parameters():
    gpt5, gpt4o, deepseek = PRESETS["gpt-5"], PRESETS["gpt-4o"], PRESETS["deepseek-v3"]
    assert "temperature" not in gpt5.params  # fixed at 1 by the API
    assert set(gpt5.params) == {"max_completion_tokens", "reasoning_effort"}
    assert gpt4o.params["temperature"] == 0.0 and gpt4o.api_key_env == "OPENAI_API_KEY"
    assert (deepseek.model, deepseek.base_url, deepseek.api_key_env) == (
        "deepseek-chat", "https://api.deepseek.com", "DEEPSEEK_API_KEY")


def test_judge_resolve_judges_and_keys(monkeypatch):
    judges = resolve_judges(["gpt-4o"], model="local", base_url="http://127.0.0.1:9/v1")
    assert [j.name for j in judges] == ["gpt-4o", "local"]
    assert api_key(judges[1]) == NO_KEY_PLACEHOLDER  # a local server needs no key
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(UserError, match="set the environment variable OPENAI_API_KEY"):
        api_key(judges[0])
    monkeypatch.setenv("OPENAI_API_KEY", "sk-abc")
    assert api_key(judges[0]) == "sk-abc"
    with pytest.raises(UserError, match="unknown judge 'gpt-6'"):
        resolve_judges(["gpt-6"])
    with pytest.raises(UserError, match="needs --base-url"):
        resolve_judges([], model="m")
    with pytest.raises(UserError, match="named twice"):
        resolve_judges(["gpt-5", "gpt-5"])


def test_judge_api_key_env_value_that_looks_like_a_key_is_not_echoed():
    with pytest.raises(UserError) as caught:
        resolve_judges([], model="m", base_url="http://127.0.0.1:9/v1", api_key_env="sk-live-123/abc")
    assert "sk-live-123/abc" not in str(caught.value) and "NAME" in str(caught.value)


def test_judge_key_depends_on_everything_that_decides_the_answer():
    judge = PRESETS["gpt-4o"]
    base = judgement_key(judge, "prompt", "story")
    assert base == judgement_key(judge, "prompt", "story")
    assert base != judgement_key(judge, "prompt", "story!")
    assert base != judgement_key(judge, "prompt?", "story")
    assert base != judgement_key(PRESETS["gpt-5"], "prompt", "story")
    assert base != judgement_key(dataclasses.replace(judge, params={"temperature": 0.5}), "prompt", "story")
    assert base != judgement_key(dataclasses.replace(judge, base_url="http://127.0.0.1:1/v1"), "prompt", "story")


def test_judge_rubric_rows_scale_by_ten_and_skip_failures():
    judge = PRESETS["gpt-4o"]
    stories = [Story("p", f"story {i}", "m", "he", "p1", i, i + 1) for i in range(4)]
    scores = [dict.fromkeys(("Creativity", "Originality", "Narrative Flow", "Emotional Impact", "Imagery"), v)
              for v in (6.0, 8.5)]
    records = {}
    for story, verdict in zip(stories, [Verdict(scores=scores[0]), Verdict(scores=scores[1]),
                                        Verdict(error="reply without all five scores")], strict=False):
        key = judgement_key(judge, story.prompt, story.story)
        records[key] = judgement_record(key, judge, story, verdict)
    (row,) = rubric_rows(stories, [judge], records)
    # (6 + 8.5) / 2 * 10 = 72.5; the failure and the unjudged story do not count as 0
    assert row["Creativity"] == pytest.approx(72.5) and row["Imagery"] == pytest.approx(72.5)
    assert (row["judged"], row["failed"], row["pending"]) == (2, 1, 1)
