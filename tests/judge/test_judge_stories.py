"""Reading stories: both input formats, run folders, flags, and one-line errors for bad lines."""

from __future__ import annotations

import json

import pytest

from polsplit_cli.errors import UserError
from polsplit_cli.judge.stories import load_stories, story_flag
from polsplit_cli.prompts import story_prompts


def write_jsonl(path, records):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def test_judge_reads_plain_story_records(tmp_path):
    door_id, door = story_prompts()[0]
    path = write_jsonl(tmp_path / "s.jsonl", [
        {"prompt": door, "story": "A door stood in the desert.", "model": "m1", "mode": "he"},
        {"prompt": door, "story": "Another door.", "model": "m1", "mode": "he"},
        {"prompt": "Write about rain.", "story": "It rained.", "prompt_id": "rain", "sample": 4},
    ])
    first, second, third = load_stories(path)
    assert (first.prompt_id, first.sample, second.sample) == (door_id, 0, 1)  # shipped id, samples numbered
    assert (third.model, third.mode, third.prompt_id, third.sample) == ("-", "-", "rain", 4)
    assert first.flag is None and third.line == 3


def test_judge_reads_eval_samples_and_run_folders(tmp_path):
    records = [
        {"benchmark": "math500", "problem_id": 1, "mode": "normal", "sample": 0, "model": "m",
         "question": "1+1?", "response": "2"},
        {"benchmark": "creative", "problem_id": "01-mysterious-door", "mode": "he", "sample": 0, "model": "m",
         "question": "Write a story.", "response": "<think>plan the plot</think>\n\nThe door hummed."},
        {"benchmark": "creative", "problem_id": "01-mysterious-door", "mode": "he", "sample": 1, "model": "m",
         "question": "Write a story.", "response": "<think>still planning when the tokens ran out"},
    ]
    records.append({"benchmark": "my-tales", "problem_id": "t1", "mode": "normal", "sample": 0, "model": "m",
                    "question": "Write a tale.", "response": "A tale."})
    write_jsonl(tmp_path / "samples.jsonl", records)
    (tmp_path / "manifest.json").write_text(json.dumps({"kind": "eval", "benchmarks": {
        "math500": {"kind": "math"}, "creative": {"kind": "creative"}, "my-tales": {"kind": "creative"}}}))
    stories = load_stories(tmp_path)  # the run folder; a custom creative benchmark counts too
    assert [s.story for s in stories] == ["The door hummed.", "", "A tale."]
    assert stories[0].flag is None and "inside <think>" in stories[1].flag
    assert stories[0].prompt == "Write a story." and stories[0].prompt_id == "01-mysterious-door"

    (tmp_path / "manifest.json").write_text(json.dumps({"kind": "train"}))
    with pytest.raises(UserError, match="'train' run folder"):
        load_stories(tmp_path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"prompt": "p", "story": ', ":2: malformed JSON"),
        ('{"prompt": "p"}', ":2: missing field 'story'"),
        ('{"story": "s"}', ":2: missing field 'prompt'"),
        ('{"prompt": "p", "story": 5}', ":2: field 'story' must be str, got int"),
        ('{"prompt": "p", "story": "s", "sample": "3"}', ":2: field 'sample' must be int, got str"),
        ('{"prompt": "p", "story": "s", "sample": true}', ":2: field 'sample' must be int, got bool"),
        ('["prompt", "story"]', ":2: expected a JSON object"),
        ('{"benchmark": "creative", "question": "q", "model": "m", "mode": "he", "sample": 0, "problem_id": 1}',
         ":2: missing field 'response'"),
        ('{"prompt": "p", "story": "other text", "sample": 0}', ":2: duplicate story"),
    ],
)
def test_judge_bad_lines_name_file_line_and_field(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"prompt": "p", "story": "s", "sample": 0}) + "\n" + line + "\n")
    with pytest.raises(UserError) as caught:
        load_stories(path)
    text = str(caught.value)
    assert str(path) in text
    assert any(part in text for part in message.split("|"))


def test_judge_missing_and_empty_inputs(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load_stories(tmp_path / "nope.jsonl")
    with pytest.raises(UserError, match="no records"):
        load_stories(write_jsonl(tmp_path / "empty.jsonl", []))
    with pytest.raises(UserError, match="no samples.jsonl"):
        load_stories(tmp_path)
    (tmp_path / "latin1.jsonl").write_bytes('{"prompt": "p", "story": "caf\u00e9"}\n'.encode("latin-1"))
    with pytest.raises(UserError, match="not UTF-8 text"):
        load_stories(tmp_path / "latin1.jsonl")
    with pytest.raises(UserError, match="field 'benchmark' must be str"):
        load_stories(write_jsonl(tmp_path / "b.jsonl", [{"benchmark": ["creative"], "question": "q"}]))


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("", True),
        ("   \n ", True),
        ("Error code: 429 - {'error': {'message': 'Rate limit reached'}}", True),
        ("Traceback (most recent call last):\n  File ...", True),
        ('{"error": {"message": "overloaded"}}', True),
        ("<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", True),
        ("Request timed out.", True),
        ("Errol found the door behind the bakery.", False),
        ("The error of her ways was a door.", False),
    ],
)
def test_judge_flags_empty_and_error_like_stories(text, flagged):
    assert (story_flag(text) is not None) is flagged
