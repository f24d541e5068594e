"""``polsplit train``: the local trainer with a live display, or a hand-off to verl (``--backend verl``)."""

from __future__ import annotations

import inspect
import time
import typing
from pathlib import Path
from typing import Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from polsplit_cli.errors import UserError
from polsplit_cli.models import TINY_NAME, check_device, resolve_model_path
from polsplit_cli.runfiles import check_out_dir, new_run_dir, read_manifest
from polsplit_cli.train.config import (
    TrainConfig,
    demo_settings,
    parse_overrides,
    resolve_config,
    resume_config,
)
from polsplit_cli.train.data import load_task
from polsplit_cli.train.knobs import MethodKnobs, flagged
from polsplit_cli.train.loggers import check_installed, logger_names

INTERRUPTED_EXIT = 130
# local-trainer flags that have a verl counterpart in the ``policy_split:`` section
VERL_KNOBS = tuple(f.name for f in flagged(MethodKnobs))
LIVE_ROWS = (("reward", "{:.2f}"), ("accuracy", "{:.2f}"), ("entropy_bits", "{:.3f}"), ("response_length", "{:.1f}"))
SUMMARY_ROWS = (("greedy accuracy, normal", "eval/normal/accuracy"), ("greedy accuracy, HE", "eval/he/accuracy"),
                ("entropy (bits), normal", "eval/normal/entropy_bits"), ("entropy (bits), HE", "eval/he/entropy_bits"),
                ("KL(HE || normal) (bits/token)", "eval/kl/forward_bits"))


def train_command(
    config: Path = typer.Option(None, "--config", help="Run config YAML, or a shipped preset by name: small-cpu "
                                "(a small real model on CPU; default: the built-in tiny-model demo, "
                                "configs/train/demo.yaml). Knobs: docs/train.md."),
    out: Path = typer.Option(None, "--out", help="Run folder (default: runs/train-<timestamp>)."),
    resume: Path = typer.Option(None, "--resume", help="Continue the run in this folder from its last checkpoint."),
    quiet: bool = typer.Option(False, "--quiet", metavar="", help="No live display; only warnings and the final lines."),
    backend: str = typer.Option("local", "--backend", help="local (this process) | verl (distributed)."),
    dry_run: bool = typer.Option(False, "--dry-run", metavar="", help="Print the resolved config and exit."),
    overrides: list[str] = typer.Argument(None, help="More knobs as key=value (e.g. eval_every=5); "
                                          "with --backend verl, Hydra overrides."),
    **flags: Any,
) -> None:
    """Train with Policy Split or a baseline: G/2 normal + G/2 high-entropy rollouts per question, PPO updates.

    With no arguments: the built-in demo (tiny model, arithmetic, CPU, a few minutes), which shows the high-entropy mode splitting off from the normal mode.
    """
    overrides = list(overrides or [])
    given = {key: value for key, value in flags.items() if value is not None}
    if backend == "verl":
        raise typer.Exit(_launch_verl(given, config, overrides, dry_run, out, resume))
    if backend != "local":
        raise UserError(f"--backend must be local or verl, got '{backend}'")

    given = {**parse_overrides(overrides), **given}
    if resume is not None:
        run_dir = resume
        settings = resume_config(read_manifest(run_dir, "train")["config"], given)
    else:
        settings = resolve_config(config, given)
        run_dir = out or new_run_dir("train")
        check_out_dir(run_dir, "train")
        if (run_dir / "metrics.jsonl").exists():
            raise UserError(f"{run_dir} already holds a training run: continue it with --resume {run_dir}, "
                            "or choose another --out")
    if dry_run:
        import yaml

        print(yaml.safe_dump(settings.to_dict(), sort_keys=False), end="")
        return
    # everything a user can get wrong is checked here, before torch and the model load
    task = load_task(settings.data, eval_size=settings.eval_size, eval_data=settings.eval_data)
    if resume is None:
        resolve_model_path(settings.model)
    check_installed(logger_names(settings.logger))
    check_device(settings.device)
    raise typer.Exit(_run_local(settings, run_dir, resume is not None, quiet, task,
                                demo_model=config is None and resume is None and settings.model != TINY_NAME))


def settings_line(settings: TrainConfig) -> str:
    """The settings that decide a run's cost and outcome, as printed at its start (all are in manifest.json)."""
    evaluation = (f"eval_size {settings.eval_size} every {settings.eval_every or settings.steps} steps"
                  if settings.eval_size else "no held-out eval")
    return (f"lr {settings.lr:g}, Q {settings.questions_per_step}, G {settings.group_size}, steps {settings.steps}, "
            f"{evaluation}, max_new_tokens {settings.max_new_tokens}, temperature {settings.temperature:g}, "
            f"answer_region {settings.answer_region}, grader {settings.grader}, threads {settings.threads or 'auto'}, "
            f"device {settings.device}, dtype {settings.dtype}, logger {settings.logger or 'none'}")


def _with_knob_flags(command):
    """Give ``command`` one ``--flag`` option per knob declared with flags (train/config.py, train/knobs.py),
    ahead of its own options; their values arrive in ``**flags`` (None when not given)."""
    types = typing.get_type_hints(TrainConfig)
    demo = demo_settings()
    knobs = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=types[f.name],
                               default=typer.Option(None, *f.metadata["flags"], show_default=False,
                                                    help=f"{f.metadata['help']} (default: {_shown_default(f, demo)})",
                                                    **({"metavar": ""} if types[f.name] is bool else {})))
             for f in flagged(TrainConfig)]
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.kind != p.VAR_KEYWORD]
    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
    command.__signature__ = inspect.Signature([*knobs, *own], return_annotation=None)
    command.__doc__ += "\n\n" + _knob_list(demo)
    return command


def _shown_default(field, demo: dict[str, Any]) -> str:
    """A knob's default for --help: the declared one, and the demo's where a plain ``polsplit train`` differs."""
    default = "none" if field.default in (None, "") else field.default
    differs = field.name in demo and demo[field.name] != field.default
    return f"{default}; demo: {demo[field.name]}" if differs else str(default)


def _knob_list(demo: dict[str, Any]) -> str:
    """--help's list of the knobs without a flag (key=value, or in the --config YAML), from their declarations."""
    import dataclasses

    lines = [f"{f.name} (default {_shown_default(f, demo)}): {f.metadata['help']}" for f in dataclasses.fields(TrainConfig)
             if "help" in f.metadata and not f.metadata.get("flags")]
    return "\b\nKnobs without a flag, given as key=value (or in the --config YAML):\n" + "\n".join(lines)


train_command = _with_knob_flags(train_command)


def _launch_verl(given: dict[str, Any], config: Path | None, overrides: list[str], dry_run: bool,
                 out: Path | None, resume: Path | None) -> int:
    """Hand off to the verl launcher; Policy Split flags become ``policy_split.*`` overrides.

    The run folder (``--out``, default ``runs/train-<time>``; or ``--resume DIR``) holds the
    manifest, verl's checkpoints and metrics, as for the local trainer.
    """
    local_only = sorted(set(given) - {"algo", "model", *VERL_KNOBS})
    if local_only:
        raise UserError(f"--{local_only[0].replace('_', '-')} is a local-trainer flag: with --backend verl pass "
                        "verl overrides instead (e.g. actor_rollout_ref.model.path=..., trainer.total_epochs=1)")
    if out is not None and resume is not None:
        raise UserError("--out and --resume name the run folder twice: give one")
    try:
        from polsplit_cli.train.verl.launch import launch
    except ImportError as error:
        raise UserError("the verl backend is not installed: pip install 'polsplit[verl]'") from error
    knobs = [f"policy_split.{key}={str(value).lower() if isinstance(value, bool) else value}"
             for key, value in given.items() if key in VERL_KNOBS]
    if "model" in given:
        knobs.append(f"actor_rollout_ref.model.path={given['model']}")
    run_dir = resume or out or new_run_dir("train")
    return launch(given.get("algo"), config=config, overrides=[*knobs, *overrides], dry_run=dry_run,
                  run_dir=run_dir, resume=resume is not None)


def _fmt(value: float | None, pattern: str = "{:.3f}") -> str:
    return "-" if value is None else pattern.format(value)


class LiveView:
    """Progress bar plus a table of the latest per-mode figures, KL, loss and step time."""

    def __init__(self, total: int, done: int, console: Console) -> None:
        self.console = console
        self.progress = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("eta"), TimeRemainingColumn(), console=console)
        self.task = self.progress.add_task("steps", total=total, completed=done)
        self.latest: dict[str, Any] = {}
        self.live = Live(self._render(), console=console, refresh_per_second=4, transient=False)

    def _render(self) -> Group:
        latest = self.latest
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("step " + str(latest.get("step", "-")))
        table.add_column("normal", justify="right")
        table.add_column("HE", justify="right")
        for name, pattern in LIVE_ROWS:
            table.add_row(name, _fmt(latest.get(f"normal/{name}"), pattern), _fmt(latest.get(f"he/{name}"), pattern))
        for label, key in (("held-out accuracy", "accuracy"), ("held-out entropy_bits", "entropy_bits")):
            table.add_row(label, _fmt(latest.get(f"eval/normal/{key}")), _fmt(latest.get(f"eval/he/{key}")))
        table.add_row("KL fwd / rev (bits)", _fmt(latest.get("kl/forward_bits"), "{:.4f}"),
                      _fmt(latest.get("kl/reverse_bits"), "{:.4f}"))
        table.add_row("held-out KL fwd", _fmt(latest.get("eval/kl/forward_bits"), "{:.4f}"), "")
        table.add_row("loss / grad norm", _fmt(latest.get("loss"), "{:.4f}"), _fmt(latest.get("grad_norm"), "{:.3f}"))
        table.add_row("step time (s)", _fmt(latest.get("step_time_s"), "{:.2f}"), "")
        return Group(self.progress, table)

    def __call__(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "step":
            self.progress.update(self.task, completed=payload["step"])
        if kind in ("step", "eval"):
            self.latest.update({k: v for k, v in payload.items() if v is not None})
            self.latest["step"] = payload["step"]
            self.live.update(self._render())
        elif kind == "message":
            self.console.print(payload["text"])
        elif kind == "warning":
            _print_warning(self.console, payload["text"])


def _print_warning(console: Console, text: str) -> None:
    from rich.markup import escape

    console.print(f"[yellow]warning:[/yellow] {escape(text)}")


def _warnings_only(console: Console):
    """The --quiet event handler: no display, but warnings still print."""
    def on_event(kind: str, payload: dict[str, Any]) -> None:
        if kind == "warning":
            _print_warning(console, payload["text"])
    return on_event


def _run_local(settings, run_dir: Path, resumed: bool, quiet: bool, task, *, demo_model: bool) -> int:
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    if not quiet:
        console.print(f"polsplit train: {settings.algo} on {settings.model} -> {run_dir}\n  {settings_line(settings)}")
        if demo_model:
            console.print("[yellow]note:[/yellow] these are the tiny-model demo's settings (configs/train/demo.yaml); "
                          "for a real model start from --config small-cpu (docs/train.md)")
    from polsplit_cli.train.loop import Trainer, write_manifest, write_summary
    view = None if quiet else LiveView(settings.steps, 0, console)
    on_event = view if view is not None else _warnings_only(console)
    trainer = Trainer(settings, run_dir, resume=resumed, on_event=on_event, task=task)
    write_manifest(trainer, status="running")
    started = time.perf_counter()
    try:
        if view is not None:
            view.progress.update(view.task, completed=trainer.step)
            with view.live:
                result = trainer.run()
        else:
            result = trainer.run()
    except KeyboardInterrupt:
        write_manifest(trainer, status="abandoned")
        console.print(f"stopped at step {trainer.step} without saving; the last complete checkpoint is under "
                      f"{run_dir / 'checkpoints'} (resume with: polsplit train --resume {run_dir})")
        return INTERRUPTED_EXIT
    wall = time.perf_counter() - started
    console.print()
    write_manifest(trainer, status="interrupted" if result.interrupted else "finished")
    summary = write_summary(result, wall_s=wall)
    _print_summary(summary, console)
    if result.interrupted:
        console.print(f"interrupted after step {result.last_step}: checkpoint {result.checkpoint}; "
                      f"resume with: polsplit train --resume {run_dir}")
        return INTERRUPTED_EXIT
    console.print(f"done: {result.last_step} steps in {wall:.0f} s; metrics, checkpoint and manifest in {run_dir}")
    return 0


def _print_summary(summary: dict[str, Any], console: Console) -> None:
    start, end = summary["start"], summary["end"]
    if not start and not end:
        return
    table = Table(title="held-out evaluation (greedy)", header_style="bold")
    for column in ("", "start", "end"):
        table.add_column(column, justify="right" if column else "left")
    for label, key in SUMMARY_ROWS:
        table.add_row(label, _fmt(start.get(key), "{:.4f}"), _fmt(end.get(key), "{:.4f}"))
    console.print(table)
    ratio = summary.get("kl_growth")
    if ratio is not None:
        console.print(f"inter-mode KL grew {ratio:.1f}x; HE minus normal entropy: "
                      f"{_fmt(summary.get('entropy_gap_start'), '{:+.3f}')} -> "
                      f"{_fmt(summary.get('entropy_gap_end'), '{:+.3f}')} bits")
