"""The local training loop on the real tiny model: every algorithm, metrics, robustness, resume."""

import importlib.metadata
import json
import math

import pytest
import torch
from train_fixtures import EVAL_KEYS, TRAIN_KEYS, read_metrics, small_config

from polsplit_cli.models import load_model
from polsplit_cli.train.algorithms import ALGORITHMS, get_algorithm
from polsplit_cli.train.loggers import MetricLoggers, logged_name
from polsplit_cli.train.loop import Trainer, write_manifest

DUAL_ONLY = {"he/reward", "he/accuracy", "he/response_length", "he/entropy_bits", "kl/forward_bits",
             "kl/reverse_bits", "adv/he_mean", "adv/he_abs_mean"}


def _state(model):
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_every_algorithm_runs_two_steps_with_complete_finite_metrics(tmp_path, algo):
    config = small_config(algo=algo)
    trainer = Trainer(config, tmp_path)
    before = _state(trainer.model)
    result = trainer.run()
    records = read_metrics(tmp_path)
    assert [r["step"] for r in records] == [0, 1, 2]
    assert set(records[0]) == {"step", *EVAL_KEYS}
    assert set(records[1]) == set(TRAIN_KEYS)
    assert set(records[2]) == set(TRAIN_KEYS) | set(EVAL_KEYS)  # the last step is evaluated
    dual = get_algorithm(algo).dual_mode
    for record in records[1:]:
        for key, value in record.items():
            if key in DUAL_ONLY and not dual:
                assert value is None, key  # no HE rollouts in single-mode baselines
            elif key == "adv/entropy_term_clip_fraction" and algo != "policy-split":
                assert value is None
            else:
                assert value is not None and math.isfinite(value), (key, value)
        assert record["tokens"] > 0 and record["skipped_updates"] == 0
        assert 0.0 <= record["normal/accuracy"] <= 1.0
        assert record["normal/entropy_bits"] > 0.0
        if dual:
            assert record["kl/forward_bits"] >= 0.0 and record["kl/reverse_bits"] >= 0.0
    after = _state(trainer.model)
    assert any(not torch.equal(before[k], after[k]) for k in before)  # it trained
    assert result.checkpoint == tmp_path / "checkpoints" / "step-000002" and not result.interrupted


def test_checkpoint_is_a_loadable_model_and_manifest_names_the_run(tmp_path):
    trainer = Trainer(small_config(steps=1, eval_size=0), tmp_path)
    write_manifest(trainer, status="running")
    result = trainer.run()
    model, tokenizer = load_model(str(result.checkpoint))
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, trainer.model.state_dict()[name]), name
    assert tokenizer.chat_template == trainer.tokenizer.chat_template
    assert not list((tmp_path / "checkpoints").glob(".tmp-*"))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["kind"] == "train" and manifest["config"]["algo"] == "policy-split"
    assert manifest["modes"]["high-entropy"] == trainer.modes[1].digest
    assert manifest["versions"]["torch"] == torch.__version__
    assert manifest["config"]["grader"] == "combined"  # the reward's grader and its checkers' versions
    assert manifest["grading"]["grader"] == "combined" and manifest["grading"]["answer_region"] == "after-think"
    assert manifest["grading"]["versions"]["math-verify"] == importlib.metadata.version("math-verify")


def test_resumed_run_matches_an_uninterrupted_one(tmp_path):
    settings = dict(steps=4, eval_every=2, eval_size=4)
    straight = Trainer(small_config(**settings), tmp_path / "straight")
    straight.run()
    first_half = Trainer(small_config(**{**settings, "steps": 2}), tmp_path / "resumed")
    first_half.run()
    resumed = Trainer(small_config(**settings), tmp_path / "resumed", resume=True)
    assert resumed.step == 2
    resumed.run()
    drop_time = lambda records: [{k: v for k, v in r.items() if k != "step_time_s"} for r in records]  # noqa: E731
    assert drop_time(read_metrics(tmp_path / "resumed")) == drop_time(read_metrics(tmp_path / "straight"))
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name


def test_non_finite_loss_skips_the_update_and_leaves_weights_untouched(tmp_path):
    def poison(copies):
        copies.adv[0, 0, 0] = float("nan")

    trainer = Trainer(small_config(steps=1, eval_size=0), tmp_path, advantage_hook=poison)
    before = _state(trainer.model)
    trainer.run()
    (record,) = read_metrics(tmp_path)
    assert record["skipped_updates"] == 1
    assert record["loss"] is None and record["grad_norm"] is None
    for name, tensor in trainer.model.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    assert trainer.optimizer.state_dict()["state"] == {}  # AdamW never stepped


def test_all_equal_rewards_give_zero_advantages(tmp_path):
    data = tmp_path / "unanswerable.jsonl"
    data.write_text("".join(json.dumps({"question": f"What is {i}+1?", "answer": "never"}) + "\n" for i in range(6)))
    trainer = Trainer(small_config(steps=1, eval_size=2, data=str(data)), tmp_path / "run")
    trainer.run()
    record = read_metrics(tmp_path / "run")[1]
    assert record["normal/reward"] == 0.0 and record["he/reward"] == 0.0
    assert record["adv/normal_abs_mean"] == 0.0 and record["adv/he_abs_mean"] == 0.0
    assert record["loss"] == 0.0 and math.isfinite(record["grad_norm"])


class HandMadeRollouts(Trainer):
    """Responses chosen by the test: a correct one, an empty one (EOS only) and a truncated one."""

    def _rollout(self, questions):
        groups, _, gen_mode = super()._rollout(questions)
        eos, limit = self.tokenizer.eos_token_id, self.config.max_new_tokens
        responses = []
        for question in questions:
            expression = question["question"].removeprefix("What is ").removesuffix("?")
            correct = f"<think>{expression}={question['answer']}</think> \\boxed{{{question['answer']}}}"
            correct_ids = self.tokenizer.encode(correct, add_special_tokens=False) + [eos]
            truncated = self.tokenizer.encode("<think>" + "1" * limit, add_special_tokens=False)[:limit]
            responses += [correct_ids, [eos], truncated, correct_ids]
        return groups, responses, gen_mode


def test_empty_and_truncated_responses_train_without_non_finite_values(tmp_path):
    config = small_config(steps=1, eval_size=0, max_new_tokens=40)
    trainer = HandMadeRollouts(config, tmp_path)
    trainer.run()
    (record,) = read_metrics(tmp_path)
    # per question: responses 0, 1 are normal-mode (correct, empty), 2, 3 HE-mode (truncated, correct)
    assert record["normal/reward"] == 0.5 and record["he/reward"] == 0.5
    assert record["skipped_updates"] == 0 and record["adv/normal_abs_mean"] > 0
    for key in TRAIN_KEYS:
        assert record[key] is not None and math.isfinite(record[key]), key


@pytest.mark.parametrize("agg", ["token-mean", "seq-mean-token-mean"])
def test_micro_batches_accumulate_to_the_same_update(tmp_path, agg):
    """Splitting a mini-batch into micro-batches (memory knob) leaves the update unchanged."""
    whole = Trainer(small_config(steps=1, eval_size=0, loss_agg=agg), tmp_path / "whole")
    whole.run()
    pieces = Trainer(small_config(steps=1, eval_size=0, loss_agg=agg, micro_batch_size=3), tmp_path / "pieces")
    pieces.run()
    (one,), (many,) = read_metrics(tmp_path / "whole"), read_metrics(tmp_path / "pieces")
    # Adam's first step hides the gradient's scale in the weights, so check loss and gradient norm too
    assert many["loss"] == pytest.approx(one["loss"], rel=1e-5)
    assert many["grad_norm"] == pytest.approx(one["grad_norm"], rel=1e-5)
    for name, tensor in whole.model.state_dict().items():
        torch.testing.assert_close(pieces.model.state_dict()[name], tensor, rtol=1e-4, atol=1e-6)


def test_a_step_with_no_gradable_response_warns_once_and_is_counted(tmp_path):
    """One new token: no response can close a thought, so after-think grades none of them."""
    events = []
    trainer = Trainer(small_config(steps=2, eval_size=0, max_new_tokens=1), tmp_path,
                      on_event=lambda kind, payload: events.append((kind, payload)))
    trainer.run()
    assert [r["ungradable_steps"] for r in read_metrics(tmp_path)] == [1, 2]
    warnings = [payload["text"] for kind, payload in events if kind == "warning"]
    assert len(warnings) == 1 and warnings[0].startswith("step 1: no response had an answer to grade")
    assert "no-think-close" in warnings[0] and "--answer-region auto" in warnings[0]


def test_tensorboard_gets_the_metrics_under_verls_names(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    Trainer(small_config(steps=2, eval_size=4, logger="tensorboard"), tmp_path).run()
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    logged = {tag: {(e.step, e.value) for e in events.Scalars(tag)} for tag in events.Tags()["scalars"]}
    expected: dict[str, set] = {}
    for record in read_metrics(tmp_path):
        for key, value in record.items():
            if key != "step" and value is not None:
                expected.setdefault(logged_name(key), set()).add((record["step"], value))
    assert set(logged) == set(expected)
    for tag, points in expected.items():  # event files store float32
        got = sorted(logged[tag])
        assert [step for step, _ in got] == sorted(step for step, _ in points), tag
        assert [v for _, v in got] == pytest.approx([v for _, v in sorted(points)], rel=1e-6, abs=1e-7), tag
    for name in ("policy_split/normal/reward", "policy_split/kl/forward_bits", "policy_split/eval/he/accuracy",
                 "actor/pg_loss", "actor/grad_norm", "actor/pg_clipfrac", "actor/ppo_kl", "timing_s/step"):
        assert name in logged, name


def test_wandb_logs_offline_without_an_account(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    loggers = MetricLoggers(["wandb"], tmp_path, {"lr": 1e-3})
    loggers.log({"step": 1, "normal/reward": 0.5, "loss": 0.25, "he/reward": None})
    loggers.log({"step": 2, "normal/reward": 0.75, "loss": 0.125})
    (sink,) = loggers.sinks
    assert sink.run.offline
    summary = {key: sink.run.summary[key] for key in sink.run.summary.keys() if not key.startswith("_")}
    assert summary == {"policy_split/normal/reward": 0.75, "actor/pg_loss": 0.125}
    loggers.close()
    assert len(list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))) == 1
