"""Training data: JSONL loading with one-line errors, held-out splits, the resumable question order."""

import json

import pytest

from polsplit_cli.errors import UserError
from polsplit_cli.train.data import QuestionStream, load_qa_jsonl, load_task


def _write(tmp_path, lines):
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_loads_records_numbers_become_strings_blank_lines_skipped(tmp_path):
    path = _write(tmp_path, ['{"question": "What is 2+2?", "answer": 4}', "",
                             '{"question": "Half of 3?", "answer": 1.5, "id": "h"}',
                             '{"question": "Name?", "answer": "x"}'])
    records = load_qa_jsonl(path)
    assert records == [
        {"id": "qa-1", "question": "What is 2+2?", "answer": "4"},
        {"id": "h", "question": "Half of 3?", "answer": "1.5"},
        {"id": "qa-4", "question": "Name?", "answer": "x"},
    ]


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", "malformed JSON"),
    ('["a", "b"]', "expected a JSON object"),
    ('{"answer": "1"}', "'question' must be a non-empty string"),
    ('{"question": 3, "answer": "1"}', "'question' must be a non-empty string"),
    ('{"question": "q"}', "'answer' must be"),
    ('{"question": "q", "answer": true}', "'answer' must be"),
    ('{"question": "q", "answer": ["1"]}', "'answer' must be"),
])
def test_bad_line_names_file_and_line(tmp_path, line, message):
    path = _write(tmp_path, ['{"question": "ok", "answer": "1"}', line])
    with pytest.raises(UserError) as error:
        load_qa_jsonl(path)
    assert f"{path}:2" in str(error.value) and message in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(UserError, match="file not found"):
        load_qa_jsonl(tmp_path / "absent.jsonl")
    with pytest.raises(UserError, match="no records"):
        load_qa_jsonl(_write(tmp_path, ["", "  "]))


def test_jsonl_holds_out_its_last_records(tmp_path):
    path = _write(tmp_path, [json.dumps({"question": f"q{i}", "answer": i}) for i in range(10)])
    task = load_task(str(path), eval_size=3)
    assert [r["question"] for r in task.train] == [f"q{i}" for i in range(7)]
    assert [r["question"] for r in task.held_out] == ["q7", "q8", "q9"]
    with pytest.raises(UserError, match="not enough to hold out"):
        load_task(str(path), eval_size=10)


def test_arithmetic_held_out_is_the_test_split():
    task = load_task(None, eval_size=20)
    assert len(task.held_out) == 20
    assert not {q["question"] for q in task.held_out} & {q["question"] for q in task.train}


def test_question_stream_resumes_in_the_same_order_across_epochs():
    questions = [{"question": str(i)} for i in range(5)]
    straight = QuestionStream(questions, seed=3)
    first = straight.take(4) + straight.take(4)  # crosses into epoch 1
    assert sorted(q["question"] for q in first[:5]) == [str(i) for i in range(5)]  # an epoch is a permutation
    resumed_from = QuestionStream(questions, seed=3)
    resumed_from.take(4)
    state = resumed_from.state_dict()
    again = QuestionStream(questions, seed=3)
    again.load_state_dict(state)
    assert again.take(4) == first[4:]
    assert QuestionStream(questions, seed=4).take(5) != first[:5]
