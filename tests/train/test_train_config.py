"""Config resolution: defaults <- algorithm preset <- run config <- flags; one-line errors."""

import dataclasses

import pytest
import yaml

from polsplit_cli.errors import UserError
from polsplit_cli.resources import config_path
from polsplit_cli.train.algorithms import ALGORITHMS
from polsplit_cli.train.config import TrainConfig, parse_overrides, resolve_config, resume_config

SPEC_ALGORITHMS = {"policy-split", "grpo", "grpo-sharing", "forking-tokens", "clip-cov",
                   "entropy-driven-advantage", "entropy-regularization", "entropy-advantage"}


def test_every_spec_algorithm_is_registered_with_a_preset():
    assert set(ALGORITHMS) == SPEC_ALGORITHMS
    for name in SPEC_ALGORITHMS:
        assert resolve_config(flags={"algo": name}).algo == name


def test_presets_carry_the_paper_values():
    policy_split = yaml.safe_load(config_path("train/policy-split.yaml").read_text())
    assert (policy_split["eta"], policy_split["kappa"], policy_split["alpha"]) == (0.03, 2.0, 0.5)
    clip_cov = resolve_config(flags={"algo": "clip-cov"})
    assert (clip_cov.clip_cov_ratio, clip_cov.clip_cov_lb, clip_cov.clip_cov_ub) == (0.0002, 1.0, 5.0)
    assert resolve_config(flags={"algo": "entropy-regularization"}).entropy_coeff == 0.003
    assert resolve_config(flags={"algo": "forking-tokens"}).forking_ratio == 0.2
    advantage = resolve_config(flags={"algo": "entropy-advantage"})
    assert (advantage.entropy_adv_alpha, advantage.entropy_adv_kappa) == (0.4, 2.0)


def test_run_config_overrides_preset_and_flags_override_both(tmp_path):
    demo = yaml.safe_load(config_path("train/demo.yaml").read_text())
    assert resolve_config().eta == demo["eta"]  # the demo's documented eta wins over the preset's 0.03
    run = tmp_path / "run.yaml"
    run.write_text("algo: policy-split\nlr: 1e-4\nsteps: 7\n")  # YAML reads 1e-4 as a string
    config = resolve_config(run, {"steps": 9, "kappa": 3})
    assert (config.lr, config.steps, config.kappa, config.eta) == (1e-4, 9, 3.0, 0.03)


def test_unknown_keys_and_bad_types_are_one_line_errors(tmp_path):
    run = tmp_path / "run.yaml"
    run.write_text("algo: grpo\nlearning_rate: 0.1\n")
    with pytest.raises(UserError, match="unknown key 'learning_rate'"):
        resolve_config(run)
    with pytest.raises(UserError, match="'steps' must be int"):
        resolve_config(flags={"steps": "many"})
    with pytest.raises(UserError, match="unknown algorithm 'ppo'"):
        resolve_config(flags={"algo": "ppo"})
    with pytest.raises(UserError, match="not key=value"):
        parse_overrides(["eta"])


@pytest.mark.parametrize(("group_size", "message"), [(3, "group-size must be even"), (1, ">= 2"), (0, ">= 2")])
def test_dual_mode_needs_an_even_group_of_at_least_two(group_size, message):
    for algo in ("policy-split", "grpo-sharing"):
        with pytest.raises(UserError, match=message):
            resolve_config(flags={"algo": algo, "group_size": group_size})


def test_single_mode_takes_odd_groups_but_not_below_two():
    assert resolve_config(flags={"algo": "grpo", "group_size": 3}).group_size == 3
    with pytest.raises(UserError, match=">= 2"):
        resolve_config(flags={"algo": "grpo", "group_size": 1})


def test_overrides_parse_yaml_values_and_resume_keeps_the_saved_algorithm():
    assert parse_overrides(["eval_every=5", "sharing=false", "data=x.jsonl"]) == {
        "eval_every": 5, "sharing": False, "data": "x.jsonl"}
    saved = TrainConfig(algo="grpo", steps=3).to_dict()
    assert resume_config(saved, {"steps": 6}).steps == 6
    with pytest.raises(UserError, match="cannot change"):
        resume_config(saved, {"algo": "policy-split"})


def test_resume_refuses_another_answer_region_as_eval_does():
    saved = TrainConfig(answer_region="auto").to_dict()
    assert resume_config(saved, {"answer_region": "auto", "steps": 9}).answer_region == "auto"
    with pytest.raises(UserError, match="answer_region='auto', now 'after-think'; --answer-region cannot change"):
        resume_config(saved, {"answer_region": "after-think"})
    old = {k: v for k, v in TrainConfig().to_dict().items() if k != "answer_region"}  # a run from before the knob
    with pytest.raises(UserError, match="cannot change"):
        resume_config(old, {"answer_region": "auto"})


@pytest.mark.parametrize(("flags", "message"), [
    ({"lr": -1}, "--lr must be > 0, got -1"),
    ({"temperature": 0}, "--temperature must be > 0, got 0"),
    ({"steps": 0}, "--steps must be >= 1, got 0"),
    ({"eval_size": -3}, "eval_size must be >= 0, got -3"),
    ({"top_p": 1.5}, r"top_p must be in \(0, 1\], got 1.5"),
    ({"answer_region": "end"}, "--answer-region must be one of after-think, whole, auto, got 'end'"),
    ({"logger": "tensorboard,mlflow"}, "--logger must be one of tensorboard, wandb, trackio"),
])
def test_range_errors_say_the_valid_range(flags, message):
    with pytest.raises(UserError, match=message):
        resolve_config(flags=flags)


def test_shipped_presets_load_by_name():
    small = resolve_config("small-cpu", {"model": "tiny"})
    preset = yaml.safe_load(config_path("train/small-cpu.yaml").read_text())
    assert (small.lr, small.answer_region, small.eval_size) == (preset["lr"], "auto", preset["eval_size"])
    with pytest.raises(UserError, match="no such file .*small-cpu"):
        resolve_config("small-gpu")


def test_every_knob_has_help_so_the_help_lists_are_derived():
    missing = [f.name for f in dataclasses.fields(TrainConfig) if not f.metadata.get("help")]
    assert missing == []


def test_loggers_come_as_a_comma_list_or_a_yaml_list(tmp_path):
    run = tmp_path / "run.yaml"
    run.write_text("logger: [tensorboard, wandb]\n")
    assert resolve_config(run).logger == "tensorboard,wandb"
    assert resolve_config(flags={"logger": "wandb"}).logger == "wandb"
