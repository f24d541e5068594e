"""``polsplit export``: a verl checkpoint (FSDP shards) -> a Hugging Face folder ``polsplit eval`` loads.

verl saves the actor as FSDP shards (``global_step_N/actor/model_world_size_W_rank_R.pt``); eval,
vLLM and transformers want a Hugging Face folder. This wraps verl's own model merger (the same as
``python -m verl.model_merger merge --backend fsdp --local_dir .../global_step_N/actor
--target_dir DIR``): the shards are joined and written in bfloat16, as that merger writes them,
with the tokenizer and chat template saved next to the checkpoint. ``polsplit_export.json`` in the
output records where it came from.
"""

from __future__ import annotations

import contextlib
import re
import sys
from pathlib import Path

import typer

from polsplit_cli.errors import UserError, first_line, missing_extra
from polsplit_cli.runfiles import load_manifest, manifest_header, write_json

PROVENANCE_FILE = "polsplit_export.json"
STEP_FOLDER = re.compile(r"global_step_(\d+)")


def last_checkpoint_step(checkpoints: Path) -> int | None:
    """The step of verl's newest complete checkpoint in ``checkpoints`` (its tracker file), or None."""
    tracker = checkpoints / "latest_checkpointed_iteration.txt"
    try:
        return int(tracker.read_text().strip())
    except (OSError, ValueError):
        return None


def _checkpoints_of(source: Path) -> Path:
    """verl's checkpoint folder for a polsplit run folder (its manifest says where), else ``source`` itself."""
    manifest = load_manifest(source)
    if manifest is not None and manifest.get("backend") == "verl":
        return Path(manifest["checkpoints"])
    return source / "checkpoints" if (source / "checkpoints").is_dir() else source


def find_actor_checkpoint(source: Path, step: int | None = None) -> tuple[Path, int]:
    """(``global_step_N/actor`` folder, N) for a run folder, a verl checkpoint folder or an actor folder.

    Without ``step``: the newest complete checkpoint (verl's tracker file).
    """
    if not source.is_dir():
        raise UserError(f"{source} is not a folder")
    if (source / "fsdp_config.json").is_file():  # already an actor folder
        match = STEP_FOLDER.fullmatch(source.parent.name)
        return source, int(match.group(1)) if match else -1
    checkpoints = _checkpoints_of(source)
    available = sorted(int(m.group(1)) for p in checkpoints.glob("global_step_*") if (m := STEP_FOLDER.fullmatch(p.name)))
    if step is None:
        step = last_checkpoint_step(checkpoints)
        if step is None:
            raise UserError(f"{checkpoints}: no verl checkpoint (latest_checkpointed_iteration.txt is missing)")
    actor = checkpoints / f"global_step_{step}" / "actor"
    if not (actor / "fsdp_config.json").is_file():
        steps = ", ".join(map(str, available)) or "none"
        raise UserError(f"{checkpoints} has no actor checkpoint for step {step} (steps saved: {steps})")
    return actor, step


def export(source: Path, out: Path, *, step: int | None = None) -> int:
    """Merge the actor checkpoint of ``step`` (default: the newest) into the Hugging Face folder ``out``;
    return the step exported."""
    actor, step = find_actor_checkpoint(source, step)
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} is not empty: choose a new --out")
    try:
        from verl.model_merger.base_model_merger import ModelMergerConfig
        from verl.model_merger.fsdp_model_merger import FSDPModelMerger
    except ImportError as error:
        raise missing_extra("verl", "verl") from error
    config = ModelMergerConfig(operation="merge", backend="fsdp", local_dir=str(actor), target_dir=str(out),
                               hf_model_config_path=str(actor / "huggingface"))
    try:
        with contextlib.redirect_stdout(sys.stderr):  # the merger narrates; stdout says where the model went
            merger = FSDPModelMerger(config)
            merger.merge_and_save()
            merger.cleanup()
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise UserError(f"cannot merge {actor}: {first_line(error)}") from error
    write_json(out / PROVENANCE_FILE, {
        **manifest_header("export", ("verl", "torch")), "source": str(actor.resolve()), "step": step,
        "dtype": "bfloat16", "merger": "verl.model_merger (fsdp)",
    })
    return step


def export_command(
    source: Path = typer.Argument(..., help="A `polsplit train --backend verl` run folder, verl's checkpoint "
                                  "folder (trainer.default_local_dir), or one global_step_N/actor folder."),
    out: Path = typer.Option(..., "--out", help="New folder for the Hugging Face model."),
    step: int = typer.Option(None, "--step", help="Checkpoint step (default: the newest)."),
) -> None:
    """Turn a verl checkpoint into a Hugging Face model folder (bfloat16) for `polsplit eval --model`."""
    exported = export(source, out, step=step)
    print(f"wrote {out} (step {exported}); evaluate it with: polsplit eval --model {out}")
