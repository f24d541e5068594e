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
from polsplit_cli.runfiles import check_out_dir, new_run_dir, read_manifest
from polsplit_cli.train.config import TrainConfig
from polsplit_cli.train.knobs import MethodKnobs, flagged

INTERRUPTED_EXIT = 130
# local-trainer flags that have a verl counterpart in the ``policy_split:`` section
VERL_KNOBS = tuple(f.name for f in flagged(MethodKnobs))
LIVE_ROWS = (("reward", "{:.2f}"), ("accuracy", "{:.2f}"), ("entropy_bits", "{:.3f}"), ("response_length", "{:.1f}"))
SUMMARY_ROWS = (("greedy accuracy, normal", "eval/normal/accuracy"), ("greedy accuracy, HE", "eval/he/accuracy"),
                ("entropy (bits), normal", "eval/normal/entropy_bits"), ("entropy (bits), HE", "eval/he/entropy_bits"),
                ("KL(HE || normal) (bits/token)", "eval/kl/forward_bits"))


def train_command(
    config: Path = typer.Option(None, "--config", help="Run config YAML (default: the built-in demo, "
                                "configs/train/demo.yaml). Knobs: docs/train.md."),
    out: Path = typer.Option(None, "--out", help="Run folder (default: runs/train-<timestamp>)."),
    resume: Path = typer.Option(None, "--resume", help="Continue the run in this folder from its last checkpoint."),
    quiet: bool = typer.Option(False, "--quiet", help="No live display; only the final lines."),
    backend: str = typer.Option("local", "--backend", help="local (this process) | verl (distributed)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved config and exit."),
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

    from polsplit_cli.train.config import parse_overrides, resolve_config, resume_config

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
    raise typer.Exit(_run_local(settings, run_dir, resume is not None, quiet))


def _with_knob_flags(command):
    """Give ``command`` one ``--flag`` option per knob declared with flags (train/config.py, train/knobs.py),
    ahead of its own options; their values arrive in ``**flags`` (None when not given)."""
    types = typing.get_type_hints(TrainConfig)
    knobs = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=types[f.name],
                               default=typer.Option(None, *f.metadata["flags"], help=f.metadata["help"]))
             for f in flagged(TrainConfig)]
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.kind != p.VAR_KEYWORD]
    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
    command.__signature__ = inspect.Signature([*knobs, *own], return_annotation=None)
    return command


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


def _run_local(settings, run_dir: Path, resumed: bool, quiet: bool) -> int:
    from polsplit_cli.train.loop import Trainer, write_manifest, write_summary

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    if not quiet:
        console.print(f"polsplit train: {settings.algo} on {settings.model}, {settings.steps} steps, "
                      f"Q={settings.questions_per_step} G={settings.group_size} -> {run_dir}")
    view = None if quiet else LiveView(settings.steps, 0, console)
    on_event = view if view is not None else (lambda kind, payload: None)
    trainer = Trainer(settings, run_dir, resume=resumed, on_event=on_event)
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
