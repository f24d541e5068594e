"""Compose a verl config for one algorithm and start verl's V1 PPO entry with our code registered.

Precedence: the preset ``configs/verl/<algo>.yaml`` (over verl's packaged ``ppo_trainer``)
< ``--config FILE`` (merged on top) < ``key=value`` overrides (Hydra syntax; ``+key=`` adds
a key). Ray starts a local cluster unless ``RAY_ADDRESS`` names an existing one; every Ray
process imports ``polsplit_cli.train.verl.plugin`` through ``VERL_USE_EXTERNAL_MODULES``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from polsplit_cli.errors import UserError, first_line, missing_extra
from polsplit_cli.resources import config_path
from polsplit_cli.train.verl.settings import ALGORITHMS, PolicySplitSettings

PLUGIN_MODULE = "polsplit_cli.train.verl.plugin"
AGENT_LOOP = "policy_split_agent"
TRAINER_MODE = "polsplit"


def _require_verl() -> None:
    try:
        import verl  # noqa: F401
    except ImportError as error:
        raise missing_extra("verl", "verl") from error


def compose(algo: str, *, config: str | os.PathLike | None = None, overrides: Sequence[str] = ()):
    """The composed DictConfig: preset, then the user's YAML file, then the overrides."""
    _require_verl()
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf, open_dict

    if algo not in ALGORITHMS:
        raise UserError(f"unknown algorithm '{algo}': use one of {', '.join(ALGORITHMS)}")
    preset_dir = config_path("verl")
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(preset_dir), version_base=None):
            cfg = hydra_compose(config_name=algo, overrides=list(overrides))
        if config is not None:
            user_file = Path(config)
            if not user_file.is_file():
                raise UserError(f"config file {user_file} does not exist")
            with open_dict(cfg):
                cfg.merge_with(OmegaConf.load(user_file))
                # key=value overrides win over the file, so apply them once more on top of it
                dotted = [o.lstrip("+") for o in overrides if "=" in o and "." in o.split("=", 1)[0] and o[0] != "~"]
                cfg.merge_with(OmegaConf.from_dotlist(dotted))
    except UserError:
        raise
    except Exception as error:  # Hydra/OmegaConf parse and composition errors are the user's input
        raise UserError(f"cannot compose the verl config for '{algo}': {first_line(error)}") from error
    finally:
        GlobalHydra.instance().clear()
    return cfg


def check_setup(cfg) -> None:
    """Our invariants, then verl's own validation (the checks ``verl.trainer.main_ppo.main`` runs)."""
    settings = PolicySplitSettings.from_config(cfg)
    rollout = cfg.actor_rollout_ref.rollout
    mode, agent = cfg.trainer.v1.trainer_mode, rollout.agent.default_agent_loop
    if settings.uses_polsplit_trainer != (mode == TRAINER_MODE):
        want = TRAINER_MODE if settings.uses_polsplit_trainer else "sync"
        raise UserError(f"policy_split.algorithm={settings.algorithm} needs trainer.v1.trainer_mode={want}, got {mode}")
    if settings.dual != (agent == AGENT_LOOP):
        want = AGENT_LOOP if settings.dual else "single_turn_agent"
        raise UserError(
            f"policy_split.algorithm={settings.algorithm} needs "
            f"actor_rollout_ref.rollout.agent.default_agent_loop={want}, got {agent}"
        )
    if settings.dual and (rollout.n < 2 or rollout.n % 2):
        raise UserError(f"actor_rollout_ref.rollout.n must be even and >= 2 for {settings.algorithm}, got {rollout.n}")
    if settings.dual and rollout.calculate_log_probs:
        raise UserError("dual-mode rollouts need actor_rollout_ref.rollout.calculate_log_probs=false "
                        "(rollout log-probs belong to the generating prompt only)")
    questions, mini = cfg.data.train_batch_size, cfg.actor_rollout_ref.actor.ppo_mini_batch_size
    if mini > questions or questions % mini:  # else a step silently takes fewer (or no) optimizer steps
        raise UserError(f"actor_rollout_ref.actor.ppo_mini_batch_size ({mini}) must divide "
                        f"data.train_batch_size ({questions})")
    if settings.uses_polsplit_trainer and cfg.algorithm.adv_estimator != "grpo":
        raise UserError(f"{settings.algorithm} builds on GRPO: set algorithm.adv_estimator=grpo")
    if settings.uses_polsplit_trainer and cfg.actor_rollout_ref.actor.loss_agg_mode != "token-mean":
        raise UserError(f"{settings.algorithm} masks tokens through the loss_mask: it needs loss_agg_mode=token-mean")

    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import omega_conf_to_dataclass, validate_config

    try:
        with contextlib.redirect_stdout(sys.stderr):  # verl prints progress; keep stdout for the dry-run YAML
            validate_config(cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
        omega_conf_to_dataclass(cfg.algorithm)  # AlgoConfig: rejects unknown keys under algorithm
        omega_conf_to_dataclass(cfg.actor_rollout_ref.rollout)  # RolloutConfig, as the agent-loop workers build it
    except Exception as error:  # AssertionError/ValueError/TypeError/hydra InstantiationException
        raise UserError(f"verl rejects the config: {first_line(error)}") from error


def ray_env_vars() -> dict[str, str]:
    """Environment every Ray process needs: our plugin module, appended to any the user set."""
    current = [m for m in os.environ.get("VERL_USE_EXTERNAL_MODULES", "").split(",") if m]
    modules = current if PLUGIN_MODULE in current else [*current, PLUGIN_MODULE]
    return {"VERL_USE_EXTERNAL_MODULES": ",".join(modules)}


def launch(algo: str, *, config: str | os.PathLike | None = None, overrides: Sequence[str] = (),
           dry_run: bool = False) -> int:
    """Run ``algo`` with verl (or, with ``dry_run``, print the composed config). Returns the exit code."""
    from omegaconf import OmegaConf, open_dict

    cfg = compose(algo, config=config, overrides=overrides)
    check_setup(cfg)
    if dry_run:
        print(OmegaConf.to_yaml(cfg), end="")
        return 0

    env = ray_env_vars()
    os.environ.update(env)  # this process and any local Ray workers it spawns
    with open_dict(cfg):
        runtime_env = cfg.ray_kwargs.ray_init.setdefault("runtime_env", {})
        runtime_env.setdefault("env_vars", {})
        runtime_env.env_vars.update(env)

    importlib.import_module(PLUGIN_MODULE)  # the driver registers our classes too
    from verl.trainer.main_ppo import TaskRunnerV1, run_ppo
    from verl.utils.device import auto_set_device

    auto_set_device(cfg)
    run_ppo(cfg, task_runner_class=TaskRunnerV1)
    return 0
