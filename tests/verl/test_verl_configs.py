"""Every configs/verl preset composes over verl's packaged ppo_trainer and passes verl's validation."""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("verl")
pytestmark = pytest.mark.verl

from algorithm_groups import DUAL_MODE, SINGLE_MODE  # noqa: E402

from polsplit_cli.errors import UserError  # noqa: E402
from polsplit_cli.train.algorithms import ALGORITHMS  # noqa: E402
from polsplit_cli.train.verl.launch import check_setup, compose, launch, ray_env_vars  # noqa: E402


@pytest.fixture(scope="module")
def composed():
    return {algo: compose(algo) for algo in ALGORITHMS}


def test_there_is_one_preset_per_spec_algorithm(composed):
    assert sorted(composed) == sorted([
        "grpo", "forking-tokens", "clip-cov", "entropy-driven-advantage", "entropy-regularization",
        "entropy-advantage", "grpo-sharing", "policy-split",
    ])


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_preset_validates_and_carries_the_paper_setting(composed, algo):
    cfg = composed[algo]
    check_setup(cfg)  # raises on any failure of our checks, verl's validate_config, AlgoConfig, RolloutConfig
    actor, rollout = cfg.actor_rollout_ref.actor, cfg.actor_rollout_ref.rollout
    # SPEC §5 / paper Table 8
    assert cfg.data.train_batch_size == 256 and rollout.n == 8
    assert cfg.data.max_response_length == 12288 and rollout.response_length == 12288
    assert actor.optim.lr == 3e-6 and actor.optim.lr_scheduler_type == "constant"
    assert actor.optim.weight_decay == 0.01 and actor.optim.clip_grad == 1.0
    assert rollout.temperature == 1.0 and rollout.top_k == -1 and rollout.top_p == 1.0
    assert actor.clip_ratio_low == actor.clip_ratio_high == 0.2
    assert actor.use_kl_loss is False and cfg.algorithm.use_kl_in_reward is False
    assert cfg.trainer.total_epochs == 1 and cfg.algorithm.adv_estimator == "grpo"
    assert cfg.policy_split.algorithm == algo and cfg.trainer.experiment_name == algo
    assert cfg.reward.custom_reward_function.path == "pkg://polsplit_cli.train.verl.reward"
    uses_ours = algo in SINGLE_MODE + DUAL_MODE
    assert cfg.trainer.v1.trainer_mode == ("polsplit" if uses_ours else "sync")
    assert rollout.agent.default_agent_loop == ("policy_split_agent" if algo in DUAL_MODE else "single_turn_agent")
    assert actor.entropy_coeff == (0.003 if algo == "entropy-regularization" else 0)
    assert actor.policy_loss.loss_mode == ("clip_cov" if algo == "clip-cov" else "vanilla")


def test_method_specific_values(composed):
    loss = composed["clip-cov"].actor_rollout_ref.actor.policy_loss
    assert (loss.clip_cov_ratio, loss.clip_cov_lb, loss.clip_cov_ub) == (0.0002, 1.0, 5.0)
    ps = composed["policy-split"].policy_split
    assert (ps.eta, ps.kappa, ps.alpha, ps.eta_normal, ps.sharing) == (0.03, 2.0, 0.5, 0.0, True)
    ea = composed["entropy-advantage"].policy_split
    assert (ea.entropy_adv_alpha, ea.entropy_adv_kappa) == (0.4, 2.0)
    assert composed["forking-tokens"].policy_split.forking_ratio == 0.2


def test_dry_run_prints_the_composed_config_with_overrides_over_the_config_file(tmp_path, capsys):
    user = tmp_path / "mine.yaml"
    user.write_text("policy_split:\n  eta: 0.5\n  kappa: 4.0\ndata:\n  train_batch_size: 128\n")
    rc = launch("policy-split", config=user, overrides=["policy_split.eta=0.1", "trainer.n_gpus_per_node=4"],
                dry_run=True)
    assert rc == 0
    from omegaconf import OmegaConf

    printed = OmegaConf.create(capsys.readouterr().out)
    assert printed.policy_split.eta == 0.1  # the override beats the file
    assert printed.policy_split.kappa == 4.0 and printed.data.train_batch_size == 128  # the file beats the preset
    assert printed.trainer.n_gpus_per_node == 4
    assert printed.actor_rollout_ref.actor.optim.lr == 3e-6


@pytest.mark.parametrize(
    ("algo", "overrides", "message"),
    [
        ("nope", [], "unknown algorithm"),
        ("policy-split", ["actor_rollout_ref.rollout.n=7"], "even"),
        ("policy-split", ["actor_rollout_ref.rollout.calculate_log_probs=true"], "calculate_log_probs"),
        ("policy-split", ["trainer.v1.trainer_mode=sync"], "trainer_mode=polsplit"),
        ("grpo", ["actor_rollout_ref.rollout.agent.default_agent_loop=policy_split_agent"], "single_turn_agent"),
        ("grpo", ["policy_split.algorithm=typo"], "unknown policy_split.algorithm"),
        ("grpo", ["policy_split.etaa=1"], "cannot compose"),
        ("grpo", ["algorithm.policy_split=1"], "cannot compose"),
        ("grpo", ["+algorithm.policy_split=1"], "verl rejects"),  # AlgoConfig refuses unknown keys
        ("grpo", ["actor_rollout_ref.actor.ppo_mini_batch_size=512"], "must divide"),
        ("policy-split", ["actor_rollout_ref.actor.ppo_mini_batch_size=48"], "must divide"),
        ("grpo", ["actor_rollout_ref.actor.loss_agg_mode=bogus"], "verl rejects"),
        ("policy-split", ["actor_rollout_ref.actor.loss_agg_mode=seq-mean-token-mean"], "token-mean"),
        ("grpo", ["not a valid override"], "cannot compose"),
    ],
)
def test_bad_input_is_one_user_error(algo, overrides, message):
    with pytest.raises(UserError, match=message):
        launch(algo, overrides=overrides, dry_run=True)


def test_missing_config_file_and_missing_verl(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="does not exist"):
        compose("grpo", config=tmp_path / "absent.yaml")
    monkeypatch.setitem(sys.modules, "verl", None)  # import verl -> ImportError
    with pytest.raises(UserError, match=r"pip install 'polsplit\[verl\]'"):
        launch("grpo", dry_run=True)


def test_ray_processes_get_our_plugin_module(monkeypatch):
    monkeypatch.setenv("VERL_USE_EXTERNAL_MODULES", "other.mod")
    assert ray_env_vars() == {"VERL_USE_EXTERNAL_MODULES": "other.mod,polsplit_cli.train.verl.plugin"}
    monkeypatch.delenv("VERL_USE_EXTERNAL_MODULES")
    assert ray_env_vars() == {"VERL_USE_EXTERNAL_MODULES": "polsplit_cli.train.verl.plugin"}
