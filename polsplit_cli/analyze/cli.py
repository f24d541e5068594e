"""``polsplit analyze ...``: typer wiring over the analysis modules (each prints a rich table,
``--json`` puts the machine-readable result on stdout, ``--out DIR`` writes files + manifest)."""

from __future__ import annotations

from pathlib import Path

import typer

from polsplit_cli.analyze.best_of_n import best_of_n
from polsplit_cli.analyze.compare import compare
from polsplit_cli.analyze.generalization import generalization
from polsplit_cli.analyze.io import (
    load_eval_run,
    load_train_run,
    manifest_kind,
    parse_run_spec,
    reference_index,
    selections_from_specs,
)
from polsplit_cli.analyze.mode_gap import load_kl_result, mode_gap
from polsplit_cli.analyze.plot import plot_runs
from polsplit_cli.analyze.report import (
    Analysis,
    ResultTable,
    check_out_dir,
    default_out_dir,
    emit,
    prepare_out_dir,
    write_manifest,
)
from polsplit_cli.errors import UserError
from polsplit_cli.models import check_device

app = typer.Typer(help="Tables and figures of the paper (Tables 1, 5-7, Figure 1(c)) from train/eval result folders.",
                  no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Print the result as JSON on stdout (the table goes to stderr).")
OUT = typer.Option(None, "--out", help="Write .json/.md/.csv/.tex and manifest.json (kind analyze) to this folder.")
MARKDOWN = typer.Option(None, "--markdown", help="Also write the tables as markdown to this file.")
CSV = typer.Option(None, "--csv", help="Also write the tables as CSV to this file.")
LATEX = typer.Option(None, "--latex", help="Also write the tables as LaTeX (booktabs tabular) to this file.")
PARTIAL = typer.Option(False, "--allow-partial", help="Compare on the problems all rows share (stated in the output).")
ENTROPY = typer.Option("raw", "--entropy", help="Entropy column: 'raw' (T=1) or 'tempered' (at the sampling temperature).")
MODE = typer.Option("high-entropy", "--mode", help="The mode compared against the reference mode.")
REFERENCE = typer.Option("normal", "--reference", help="The reference mode.")
RUNS = typer.Argument(..., help="Eval run folders.")


def _check_entropy(entropy: str) -> str:
    if entropy not in ("raw", "tempered"):
        raise UserError(f"--entropy must be 'raw' or 'tempered', not '{entropy}'")
    return entropy


def _start(out: Path | None, analysis: str, *files: Path | None, modes: tuple[str, str] | None = None) -> None:
    """Checks before any work: an --out folder of another command, a --markdown/--csv/--latex file
    in a folder that does not exist (never created: a typo must not make folders) and, for the
    commands that set two modes against each other, a --mode equal to --reference."""
    check_out_dir(out, analysis)
    for path in files:
        if path is not None and path.is_dir():
            raise UserError(f"{path}: is a folder; name a file to write")
        if path is not None and not path.parent.is_dir():
            raise UserError(f"{path}: parent folder {path.parent} does not exist")
    if modes is not None and modes[0] == modes[1]:
        raise UserError(f"--mode and --reference are both '{modes[0]}': give two different modes")


def _eval_runs(paths: list[str]):
    return [load_eval_run(path) for path in paths]


def _emit(analysis, as_json: bool, out: Path | None, markdown: Path | None = None, csv: Path | None = None,
          latex: Path | None = None, extra_files: dict[str, str] | None = None) -> None:
    emit(analysis, as_json=as_json, out=out, markdown=markdown, csv_path=csv, latex=latex, extra_files=extra_files)


@app.command("kl")
def kl_command(
    run: str = typer.Argument(..., help="An eval run folder (samples with token ids; manifest with model and modes)."),
    mode: str = MODE,
    reference: str = REFERENCE,
    model: str = typer.Option(None, "--model", help="Model folder or 'tiny' (default: the run manifest's model)."),
    chunk_size: int = typer.Option(1024, "--chunk-size", help="Positions per output-projection chunk (bounds memory)."),
    limit: int = typer.Option(None, "--limit", help="Score only the first N responses of the mode."),
    device: str = typer.Option(None, "--device", help="torch device (default: cuda when available, else cpu)."),
    dtype: str = typer.Option("float32", "--dtype", help="Model weights: float32 (default, exact), bfloat16, float16."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples for the 95% intervals (0 = none)."),
    bootstrap_unit: str = typer.Option("response", "--bootstrap-unit", help="Resample 'response's or whole 'problem's."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    as_json: bool = JSON,
    out: Path = OUT,
) -> None:
    """Exact D_KL(pi_mode || pi_reference) and the reverse, bits/token, on the mode's samples (teacher forcing)."""
    _start(out, "kl", modes=(mode, reference))
    # checked before the long teacher-forcing pass, and the numbers and the device before torch loads
    if bootstrap < 0:
        raise UserError(f"--bootstrap must be 0 (no intervals) or more resamples, got {bootstrap}")
    check_device(device)
    from polsplit_cli.analyze.kl import BOOTSTRAP_UNITS, kl_analysis, response_kls, responses_jsonl

    if bootstrap_unit not in BOOTSTRAP_UNITS:
        raise UserError(f"unknown --bootstrap-unit '{bootstrap_unit}': use {' or '.join(BOOTSTRAP_UNITS)}")
    eval_run = load_eval_run(run, token_ids=True)
    responses, notes = response_kls(eval_run, mode=mode, reference=reference, model_path=model, chunk_size=chunk_size,
                                    limit=limit, device=device, dtype=dtype, progress=not as_json)
    analysis = kl_analysis(eval_run, responses, notes, mode=mode, reference=reference,
                           model=model or eval_run.manifest.get("model"), resamples=bootstrap, unit=bootstrap_unit,
                           seed=seed)
    _emit(analysis, as_json, out, extra_files={"kl_responses.jsonl": responses_jsonl(responses)})


@app.command("modes")
def modes_command(
    runs: list[str] = RUNS,
    mode: str = MODE,
    reference: str = REFERENCE,
    kl: list[Path] = typer.Option(None, "--kl", help="Output of 'analyze kl' (kl.json or its --out folder); repeatable."),
    entropy: str = ENTROPY,
    allow_partial: bool = PARTIAL,
    as_json: bool = JSON,
    out: Path = OUT,
    markdown: Path = MARKDOWN,
    csv: Path = CSV,
    latex: Path = LATEX,
) -> None:
    """Table 5: |dAcc|, |dEnt|, |dLen| between two modes of each run, and the KL when given."""
    _start(out, "modes", markdown, csv, latex, modes=(mode, reference))
    kl_results = [load_kl_result(path) for path in kl or []]
    analysis = mode_gap(_eval_runs(runs), (reference, mode), kl_results=kl_results, allow_partial=allow_partial,
                        entropy=_check_entropy(entropy))
    _emit(analysis, as_json, out, markdown, csv, latex)


@app.command("best-of-n")
def best_of_n_command(
    runs: list[str] = RUNS,
    mode: str = MODE,
    reference: str = REFERENCE,
    allow_partial: bool = PARTIAL,
    as_json: bool = JSON,
    out: Path = OUT,
    markdown: Path = MARKDOWN,
    csv: Path = CSV,
    latex: Path = LATEX,
) -> None:
    """Table 6: average and best-of-k accuracy per mode, and the problems only one mode solves."""
    _start(out, "best-of-n", markdown, csv, latex, modes=(mode, reference))
    _emit(best_of_n(_eval_runs(runs), (reference, mode), allow_partial=allow_partial), as_json, out, markdown, csv, latex)


@app.command("generalization")
def generalization_command(
    runs: list[str] = RUNS,
    modes: list[str] = typer.Option(None, "--mode", help="Modes to compare with normal (repeatable; default: all in the run)."),
    entropy: str = ENTROPY,
    allow_partial: bool = PARTIAL,
    as_json: bool = JSON,
    out: Path = OUT,
    markdown: Path = MARKDOWN,
    csv: Path = CSV,
    latex: Path = LATEX,
) -> None:
    """Table 7: accuracy, entropy and entropy change of each system-prompt mode vs no system prompt."""
    _start(out, "generalization", markdown, csv, latex)
    analysis = generalization(_eval_runs(runs), modes or None, allow_partial=allow_partial, entropy=_check_entropy(entropy))
    _emit(analysis, as_json, out, markdown, csv, latex)


@app.command("compare")
def compare_command(
    runs: list[str] = typer.Argument(..., help="RUN or RUN:MODE; a RUN alone gives one row per mode."),
    reference: str = typer.Option(None, "--reference", help="RUN[:MODE] tested against (default: the first row)."),
    labels: list[str] = typer.Option(None, "--label", help="Row labels, one per row, in order (repeatable)."),
    test: str = typer.Option("wilcoxon", "--test", help="Paired test: wilcoxon, ttest or permutation."),
    seed: int = typer.Option(0, "--seed", help="Seed of the permutation test."),
    entropy: str = ENTROPY,
    allow_partial: bool = PARTIAL,
    as_json: bool = JSON,
    out: Path = OUT,
    markdown: Path = MARKDOWN,
    csv: Path = CSV,
    latex: Path = LATEX,
) -> None:
    """Table 1: runs side by side per benchmark, AIME-24/25, the 4-column average, paired p-values."""
    _start(out, "compare", markdown, csv, latex)
    selections = selections_from_specs(runs, labels)
    index = reference_index(selections, reference) if reference else 0
    analysis = compare(selections, reference=index, test=test, entropy=_check_entropy(entropy),
                       allow_partial=allow_partial, seed=seed)
    _emit(analysis, as_json, out, markdown, csv, latex)


@app.command("plot")
def plot_command(
    runs: list[str] = typer.Argument(..., help="Train run folders (training curves) and/or eval RUN[:MODE] (bar charts)."),
    out: Path = typer.Option(None, "--out", help="Folder for the PNGs (default: runs/analyze-plot-<time>)."),
    labels: list[str] = typer.Option(None, "--label", help="Labels of the eval rows, in order (repeatable)."),
    mode: str = MODE,
    reference: str = REFERENCE,
    smooth: int = typer.Option(None, "--smooth", help="Moving-average window over training steps "
                               "(default: steps / 25; 1 = per-step values only)."),
    allow_partial: bool = PARTIAL,
    as_json: bool = JSON,
) -> None:
    """PNG figures: training curves (Figure 1(c)) from train runs; compare and best-of-n bars from eval runs."""
    _start(out, "plot")
    kinds = [manifest_kind(parse_run_spec(spec)[0]) for spec in runs]
    train_runs = [load_train_run(spec) for spec, kind in zip(runs, kinds, strict=True) if kind == "train"]
    eval_specs = [spec for spec, kind in zip(runs, kinds, strict=True) if kind == "eval"]
    selections = selections_from_specs(eval_specs, labels) if eval_specs else []
    folder = prepare_out_dir(out or default_out_dir("plot"), "plot")
    figures, notes = plot_runs(train_runs, selections, folder, modes=(reference, mode), smooth=smooth,
                               allow_partial=allow_partial)
    write_manifest(folder, "plot", runs, list(figures))
    table = ResultTable(f"Figures written to {folder}", ["file", "shows"], [[f, s] for f, s in figures.items()], notes=notes)
    data = {"figures": {name: str(folder / name) for name in figures}, "notes": notes}
    emit(Analysis("plot", [table], data, runs), as_json=as_json)
