"""PNG figures: training curves from train runs (Figure 1(c): per-mode entropy, inter-mode KL,
per-mode reward), bar charts of ``compare`` and ``best-of-n`` from eval runs. matplotlib (the
``plot`` extra) is imported here only, with the Agg backend (no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from polsplit_cli.analyze.best_of_n import AVERAGE, best_of_n
from polsplit_cli.analyze.compare import compare
from polsplit_cli.analyze.io import EvalRun, Selection, TrainRun
from polsplit_cli.errors import UserError, missing_extra

# (panel title, y label, [(metrics key, matplotlib format, legend suffix)]); markers = held-out evaluation
TRAINING_PANELS = (
    ("Entropy per mode", "bits / token", [
        ("normal/entropy_bits", "-", "normal"), ("he/entropy_bits", "--", "HE"),
        ("eval/normal/entropy_bits", "o", "normal, held-out"), ("eval/he/entropy_bits", "s", "HE, held-out")]),
    ("KL between modes", "bits / token", [
        ("kl/forward_bits", "-", "D(HE||normal)"), ("kl/reverse_bits", ":", "D(normal||HE)"),
        ("eval/kl/forward_bits", "o", "D(HE||normal), held-out")]),
    ("Reward per mode", "mean reward / accuracy", [
        ("normal/reward", "-", "normal"), ("he/reward", "--", "HE"),
        ("eval/normal/accuracy", "o", "normal, held-out greedy accuracy"), ("eval/he/accuracy", "s", "HE, held-out greedy accuracy")]),
)
DPI = 100


def _pyplot():
    try:
        import matplotlib
    except ImportError as error:
        raise missing_extra("plot", "matplotlib") from error
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _smooth(values: list[float], window: int) -> np.ndarray:
    """Trailing moving average over ``window`` steps (1 = raw values)."""
    array = np.asarray(values, dtype=float)
    if window <= 1 or array.size == 0:
        return array
    cumulative = np.cumsum(np.insert(array, 0, 0.0))
    counts = np.minimum(np.arange(1, array.size + 1), window)
    return (cumulative[1:] - cumulative[np.arange(1, array.size + 1) - counts]) / counts


def plot_training(runs: list[TrainRun], path: Path, *, smooth: int = 1) -> list[str]:
    """Three panels over training steps, one colour per run; returns the series that had no data."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(TRAINING_PANELS), figsize=(15, 4.2), dpi=DPI)
    empty = []
    for axis, (title, ylabel, series) in zip(axes, TRAINING_PANELS, strict=True):
        drawn = 0
        for colour, run in enumerate(runs):
            for key, style, suffix in series:
                steps, values = run.series(key)
                if not steps:
                    if not key.startswith("eval/"):  # held-out evaluation is optional
                        empty.append(f"{run.label}: {key}")
                    continue
                axis.plot(steps, _smooth(values, smooth), style, color=f"C{colour}", label=f"{run.label} {suffix}")
                drawn += 1
        axis.set_title(title)
        axis.set_xlabel("step")
        axis.set_ylabel(ylabel)
        if drawn:
            axis.legend(fontsize=7)
        else:
            axis.text(0.5, 0.5, "no data", ha="center", va="center", transform=axis.transAxes)
    if smooth > 1:
        figure.suptitle(f"moving average over {smooth} steps", fontsize=9)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return empty


def _grouped_bars(axis, groups: list[str], series: dict[str, list[float | None]], ylabel: str, title: str) -> None:
    """Bars for each group (x) and series (colour); missing values are left out."""
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(groups))
    for index, (name, values) in enumerate(series.items()):
        heights = [np.nan if v is None else v for v in values]
        axis.bar(x + (index - (len(series) - 1) / 2) * width, heights, width, label=name, color=f"C{index}")
    axis.set_xticks(x, groups, fontsize=8)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.legend(fontsize=7)


def plot_compare(selections: list[Selection], path: Path, *, allow_partial: bool = False) -> dict[str, Any]:
    """Accuracy and entropy per benchmark column (and the average), one bar per run/mode row."""
    data = compare(selections, allow_partial=allow_partial).data
    plt = _pyplot()
    groups = [*data["columns"], "Average"]
    figure, axes = plt.subplots(1, 2, figsize=(max(8, 2.2 * len(groups) * 2), 4.2), dpi=DPI)
    panels = (("accuracy_pct", "accuracy (%)", "Accuracy (avg@n)"), ("entropy_bits", "bits / token", "Entropy"))
    for axis, (key, ylabel, title) in zip(axes, panels, strict=True):
        series = {
            row["label"]: [*(row["columns"][c][key] for c in data["columns"]), row["average"][key]] for row in data["rows"]
        }
        _grouped_bars(axis, groups, series, ylabel, title)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return data


def plot_best_of_n(runs: list[EvalRun], path: Path, modes: tuple[str, str], *, allow_partial: bool = False) -> dict[str, Any]:
    """Average vs best-of-n accuracy, and unique solved problems, per run and mode."""
    data = best_of_n(runs, modes, allow_partial=allow_partial).data
    averaged_runs = {r["run"] for r in data["rows"] if r["benchmark"] == AVERAGE}
    rows = [r for r in data["rows"] if r["run"] not in averaged_runs or r["benchmark"] == AVERAGE]

    def group(row: dict[str, Any]) -> str:  # a run's average, else one bar group per column
        return row["run"] if row["benchmark"] == AVERAGE else f"{row['run']}\n{row['benchmark']}"

    plt = _pyplot()
    groups = list(dict.fromkeys(group(r) for r in rows))
    figure, axes = plt.subplots(1, 2, figsize=(max(9, 3 * len(groups) * 2), 4.2), dpi=DPI)

    def column(mode: str, value) -> list[float | None]:
        return [next((value(r) for r in rows if group(r) == g and r["mode"] == mode), None) for g in groups]

    accuracy = {}
    for mode in modes:
        accuracy[f"{mode} avg"] = column(mode, lambda r: r["accuracy_pct"])
        accuracy[f"{mode} best@n"] = column(mode, lambda r: r["best_of_k_pct"][r["n"]])
    _grouped_bars(axes[0], groups, accuracy, "accuracy (%)", "Average vs best-of-n")
    _grouped_bars(axes[1], groups, {m: column(m, lambda r: r["unique"]["problems"]) for m in modes},
                  "problems", "Solved only by this mode")
    axes[1].yaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return data


def plot_runs(
    train_runs: list[TrainRun],
    selections: list[Selection],
    out: Path,
    *,
    modes: tuple[str, str] = ("normal", "high-entropy"),
    smooth: int = 1,
    allow_partial: bool = False,
) -> tuple[dict[str, str], list[str]]:
    """Every figure the given runs allow: {file name: what it shows}, and notes on what was skipped."""
    if not train_runs and not selections:
        raise UserError("nothing to plot: give train and/or eval run folders")
    figures, notes = {}, []
    if train_runs:
        empty = plot_training(train_runs, out / "training.png", smooth=smooth)
        figures["training.png"] = "per-mode entropy, inter-mode KL and per-mode reward over steps (Figure 1(c))"
        notes += [f"no data for {series}" for series in empty]
    if selections:
        plot_compare(selections, out / "compare.png", allow_partial=allow_partial)
        figures["compare.png"] = "accuracy and entropy per benchmark, per run/mode (Table 1)"
        eval_runs = list({str(s.run.path): s.run for s in selections}.values())
        paired = [run for run in eval_runs if set(modes) <= set(run.modes)]
        if paired:
            plot_best_of_n(paired, out / "best_of_n.png", modes, allow_partial=allow_partial)
            figures["best_of_n.png"] = f"average vs best-of-n accuracy and unique solves, {modes[0]} vs {modes[1]} (Table 6)"
        notes += [f"{run.label}: no best-of-n figure (needs modes {modes[0]} and {modes[1]})"
                  for run in eval_runs if run not in paired]
    return figures, notes
