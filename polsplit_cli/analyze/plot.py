"""PNG figures: training curves from train runs (Figure 1(c): per-mode entropy, inter-mode KL,
per-mode reward), bar charts of ``compare`` and ``best-of-n`` from eval runs. matplotlib (the
``plot`` extra) is imported here only, with the Agg backend (no display needed).

Every figure has a title naming its runs and one legend above the panels (never over the data).
Modes keep one colour in every figure; in training curves the runs differ by line style."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from polsplit_cli.analyze.best_of_n import AVERAGE, best_of_n
from polsplit_cli.analyze.compare import compare
from polsplit_cli.analyze.io import EvalRun, Selection, TrainRun, restrict, shared_problems
from polsplit_cli.analyze.stats import by_column, mode_problem_tables
from polsplit_cli.errors import UserError, missing_extra
from polsplit_cli.metrics import (
    ProblemStats,
    averaged_columns,
    pass_at_k,
    per_problem,
    pooled_error,
    standard_error,
    token_entropy_error,
)

# One colour per mode in every figure ("he" is the high-entropy mode in training metrics).
MODE_COLOURS = {"normal": "C0", "high-entropy": "C1", "he": "C1"}
OTHER_COLOURS = ("C2", "C4", "C5", "C6", "C8", "C9")
KL_COLOURS = {"kl/forward_bits": "C2", "kl/reverse_bits": "C4"}
RUN_STYLES = ("-", "--", ":", "-.")
RUN_MARKERS = ("o", "s", "^", "D", "v", "P")
# (panel title, y label, [(metrics key, legend label)]); "eval/" keys are held-out evaluations (markers).
TRAINING_PANELS = (
    ("Entropy per mode", "bits / token", [
        ("normal/entropy_bits", "normal"), ("he/entropy_bits", "HE"),
        ("eval/normal/entropy_bits", "normal"), ("eval/he/entropy_bits", "HE")]),
    ("KL between modes", "bits / token", [
        ("kl/forward_bits", "D(HE||normal)"), ("kl/reverse_bits", "D(normal||HE)"),
        ("eval/kl/forward_bits", "D(HE||normal)")]),
    ("Reward per mode", "mean reward (held-out: greedy accuracy)", [
        ("normal/reward", "normal"), ("he/reward", "HE"),
        ("eval/normal/accuracy", "normal"), ("eval/he/accuracy", "HE")]),
)
AUTO_SMOOTH_POINTS = 25  # the default window leaves about this many independent points per curve
ERROR_BARS = "error bars: \u00b11 standard error over problems"
DPI = 100


def _pyplot():
    try:
        import matplotlib
    except ImportError as error:
        raise missing_extra("plot", "matplotlib") from error
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _title(kind: str, labels: list[str], detail: str) -> str:
    """Figure title: what it shows, the run names, and how to read it (wrapped to the figure)."""
    names = " vs ".join(dict.fromkeys(labels))
    return textwrap.fill(f"{kind}: {names}", 110) + f"\n{detail}"


def _figure(panels: int, width: float) -> tuple[Any, Any, Any]:
    """A figure, the subfigure holding its panels (so the legend stacks under the title), the axes."""
    figure = _pyplot().figure(figsize=(width, 5.2), dpi=DPI, layout="constrained")
    body = figure.subfigures(1, 1)
    return figure, body, body.subplots(1, panels)


def _decorate(figure, body, handles: list, labels: list[str], title: str) -> None:
    """The title on top, then one legend above the panels: outside the axes, so no data is covered."""
    figure.suptitle(title, fontsize=11)
    if handles:
        body.legend(handles, labels, loc="outside upper center", ncols=min(len(handles), 8), fontsize=8)


def _save(figure, path: Path) -> None:
    figure.savefig(path)
    _pyplot().close(figure)


def mode_colour(mode: str, modes: list[str]) -> str:
    """The colour of a mode: fixed for normal and high-entropy, the next free one otherwise."""
    others = [m for m in dict.fromkeys(modes) if m not in MODE_COLOURS]
    return MODE_COLOURS.get(mode) or OTHER_COLOURS[others.index(mode) % len(OTHER_COLOURS)]


def _smooth(values: list[float], window: int) -> np.ndarray:
    """Trailing moving average over ``window`` steps (1 = raw values)."""
    array = np.asarray(values, dtype=float)
    if window <= 1 or array.size == 0:
        return array
    cumulative = np.cumsum(np.insert(array, 0, 0.0))
    counts = np.minimum(np.arange(1, array.size + 1), window)
    return (cumulative[1:] - cumulative[np.arange(1, array.size + 1) - counts]) / counts


def auto_smooth(runs: list[TrainRun]) -> int:
    """Default moving-average window: 1 (raw) for short runs, else steps / AUTO_SMOOTH_POINTS."""
    steps = max((len(run.metrics) for run in runs), default=0)
    return max(1, round(steps / AUTO_SMOOTH_POINTS))


def training_figure(runs: list[TrainRun], *, smooth: int | None = None) -> tuple[Any, list[str]]:
    """Three panels over training steps, colour = mode (or KL direction), line style = run; with
    smoothing each curve is a light per-step line under its moving average. Returns the figure
    and the series that had no data."""
    from matplotlib.lines import Line2D

    window = auto_smooth(runs) if smooth is None else smooth
    figure, body, axes = _figure(len(TRAINING_PANELS), 15)
    empty, legend, held_out_runs = [], {}, []
    for axis, (title, ylabel, series) in zip(axes, TRAINING_PANELS, strict=True):
        drawn = 0
        for index, run in enumerate(runs):
            style, marker = RUN_STYLES[index % len(RUN_STYLES)], RUN_MARKERS[index % len(RUN_MARKERS)]
            for key, label in series:
                held_out, name = key.startswith("eval/"), key.removeprefix("eval/")
                colour = KL_COLOURS.get(name) or MODE_COLOURS[name.split("/")[0]]
                steps, values = run.series(key)
                if not steps:
                    if not held_out:  # held-out evaluation is optional
                        empty.append(f"{run.label}: {key}")
                    continue
                drawn += 1
                legend.setdefault(label, Line2D([], [], color=colour, linewidth=2))
                if held_out:
                    held_out_runs += [] if index in held_out_runs else [index]
                    axis.plot(steps, values, marker, color=colour, markeredgecolor="black", markersize=6, zorder=3)
                    continue
                if window > 1:
                    axis.plot(steps, values, style, color=colour, alpha=0.25, linewidth=0.8)
                axis.plot(steps, _smooth(values, window), style, color=colour, linewidth=1.8)
        axis.set_title(title)
        axis.set_xlabel("step")
        axis.set_ylabel(ylabel)
        if not drawn:
            axis.text(0.5, 0.5, "no data", ha="center", va="center", transform=axis.transAxes)
    if len(runs) > 1:
        legend |= {run.label: Line2D([], [], color="0.3", linestyle=RUN_STYLES[i % len(RUN_STYLES)])
                   for i, run in enumerate(runs)}
    legend |= {f"held-out ({runs[i].label})" if len(runs) > 1 else "held-out evaluation":
               Line2D([], [], linestyle="", marker=RUN_MARKERS[i % len(RUN_MARKERS)], color="0.5", markeredgecolor="black")
               for i in sorted(held_out_runs)}
    reading = f"light: per step; bold: trailing mean over {window} steps" if window > 1 else "per-step values"
    _decorate(figure, body, list(legend.values()), list(legend), _title("Training curves", [r.label for r in runs], reading))
    return figure, empty


def plot_training(runs: list[TrainRun], path: Path, *, smooth: int | None = None) -> list[str]:
    """training.png (see ``training_figure``); returns the series that had no data."""
    figure, empty = training_figure(runs, smooth=smooth)
    _save(figure, path)
    return empty


def _column_errors(problems: list[ProblemStats]) -> dict[str, float | None]:
    graded = all(p.graded for p in problems)
    return {
        "accuracy_pct": standard_error([100.0 * p.accuracy for p in problems]) if graded else None,
        "entropy_bits": token_entropy_error(problems),
    }


def _grouped_bars(axis, groups: list[str], series: dict[str, dict[str, Any]], ylabel: str, title: str) -> None:
    """Bars for each group (x) and series; a series gives ``values``, ``colour``, optional ``errors``
    and ``hatch``. Missing values are left out, and so is an error bar without a spread."""
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(groups))
    for index, (name, bars) in enumerate(series.items()):
        heights = [np.nan if v is None else v for v in bars["values"]]
        errors = [np.nan if e is None else e for e in bars.get("errors") or [None] * len(groups)]
        axis.bar(x + (index - (len(series) - 1) / 2) * width, heights, width, label=name, color=bars["colour"],
                 hatch=bars.get("hatch"), edgecolor="white" if bars.get("hatch") else None,
                 yerr=None if all(math.isnan(e) for e in errors) else errors, capsize=3, ecolor="0.15")
    axis.set_xticks(x, groups, fontsize=8)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.margins(y=0.08)


def compare_figure(selections: list[Selection], *, allow_partial: bool = False) -> tuple[Any, dict[str, Any]]:
    """Accuracy and entropy per benchmark column (and the average), one bar per run/mode row,
    with standard errors over problems; returns the figure and the ``compare`` data."""
    data = compare(selections, allow_partial=allow_partial).data
    shared, _ = shared_problems(selections, allow_partial=allow_partial)
    columns = list(data["columns"])
    groups = [*columns, "Average"]
    figure, body, axes = _figure(2, max(10, 2.2 * len(groups) * 2))
    panels = (("accuracy_pct", "accuracy (%)", "Accuracy (avg@n)"), ("entropy_bits", "bits / token", "Entropy"))
    errors_of = []
    for selection in selections:
        per_column = {c: _column_errors(p) for c, p in by_column(per_problem(restrict(selection.records, shared))).items()}
        per_column["Average"] = {key: pooled_error([per_column[c][key] for c in data["average_of"]]) for key, *_ in panels}
        errors_of.append(per_column)
    for axis, (key, ylabel, title) in zip(axes, panels, strict=True):
        series = {
            row["label"]: {"values": [*(row["columns"][c][key] for c in columns), row["average"][key]],
                           "errors": [errors[g][key] for g in groups], "colour": f"C{index % 10}"}
            for index, (row, errors) in enumerate(zip(data["rows"], errors_of, strict=True))
        }
        _grouped_bars(axis, groups, series, ylabel, title)
    _decorate(figure, body, *axes[0].get_legend_handles_labels(),
              _title("Accuracy and entropy per benchmark", [s.run.label for s in selections], ERROR_BARS))
    return figure, data


def plot_compare(selections: list[Selection], path: Path, *, allow_partial: bool = False) -> dict[str, Any]:
    """compare.png (see ``compare_figure``); returns the ``compare`` data."""
    figure, data = compare_figure(selections, allow_partial=allow_partial)
    _save(figure, path)
    return data


def _best_of_n_errors(runs: list[EvalRun], modes: tuple[str, str], rows: list[dict[str, Any]],
                      allow_partial: bool) -> dict[tuple[str, str, str], tuple[float | None, float | None]]:
    """(run, benchmark, mode) -> standard errors over problems of the average and best-of-n accuracy."""
    errors = {}
    for run in runs:
        tables, _ = mode_problem_tables(run, list(modes), allow_partial=allow_partial)
        for mode in modes:
            columns = by_column(tables[mode])
            mine = [r for r in rows if r["run"] == run.label and r["mode"] == mode]
            for row in (r for r in mine if r["benchmark"] != AVERAGE):
                problems = columns[row["benchmark"]]
                errors[run.label, row["benchmark"], mode] = (
                    standard_error([100.0 * p.accuracy for p in problems]),
                    standard_error([100.0 * pass_at_k(p.n, p.correct, row["n"]) for p in problems]))
            if any(r["benchmark"] == AVERAGE for r in mine):
                averaged = averaged_columns([c for c in columns if (run.label, c, mode) in errors])
                errors[run.label, AVERAGE, mode] = tuple(
                    pooled_error([errors[run.label, c, mode][i] for c in averaged]) for i in range(2))
    return errors


def best_of_n_figure(runs: list[EvalRun], modes: tuple[str, str], *, allow_partial: bool = False) -> tuple[Any, dict[str, Any]]:
    """Average vs best-of-n accuracy (colour = mode, hatched = best-of-n, with standard errors over
    problems), and unique solved problems, per run; returns the figure and the ``best-of-n`` data."""
    from matplotlib.patches import Patch

    data = best_of_n(runs, modes, allow_partial=allow_partial).data
    averaged_runs = {r["run"] for r in data["rows"] if r["benchmark"] == AVERAGE}
    rows = [r for r in data["rows"] if r["run"] not in averaged_runs or r["benchmark"] == AVERAGE]
    errors = _best_of_n_errors(runs, modes, data["rows"], allow_partial)

    def group(row: dict[str, Any]) -> str:  # a run's average, else one bar group per column
        return row["run"] if row["benchmark"] == AVERAGE else f"{row['run']}\n{row['benchmark']}"

    groups = list(dict.fromkeys(group(r) for r in rows))
    figure, body, axes = _figure(2, max(10, 3 * len(groups) * 2))

    def column(mode: str, value) -> list[Any]:
        return [next((value(r) for r in rows if group(r) == g and r["mode"] == mode), None) for g in groups]

    colours = {mode: mode_colour(mode, list(modes)) for mode in modes}
    accuracy = {}
    for mode in modes:
        accuracy[f"{mode} avg"] = {"values": column(mode, lambda r: r["accuracy_pct"]), "colour": colours[mode],
                                   "errors": column(mode, lambda r: errors[r["run"], r["benchmark"], r["mode"]][0])}
        accuracy[f"{mode} best@n"] = {"values": column(mode, lambda r: r["best_of_k_pct"][r["n"]]), "hatch": "//",
                                      "colour": colours[mode],
                                      "errors": column(mode, lambda r: errors[r["run"], r["benchmark"], r["mode"]][1])}
    _grouped_bars(axes[0], groups, accuracy, "accuracy (%)", "Average vs best-of-n")
    _grouped_bars(axes[1], groups, {m: {"values": column(m, lambda r: r["unique"]["problems"]), "colour": colours[m]}
                                    for m in modes}, "problems", "Solved only by this mode")
    axes[1].yaxis.get_major_locator().set_params(integer=True)
    n = max(r["n"] for r in rows)
    handles = [Patch(color=colours[m], label=m) for m in modes] + [
        Patch(facecolor="0.6", edgecolor="white", label="average (avg@n)"),
        Patch(facecolor="0.6", edgecolor="white", hatch="//", label=f"best-of-n (n = {n})")]
    _decorate(figure, body, handles, [h.get_label() for h in handles], _title("Best-of-n", [r.label for r in runs], ERROR_BARS))
    return figure, data


def plot_best_of_n(runs: list[EvalRun], path: Path, modes: tuple[str, str], *, allow_partial: bool = False) -> dict[str, Any]:
    """best_of_n.png (see ``best_of_n_figure``); returns the ``best-of-n`` data."""
    figure, data = best_of_n_figure(runs, modes, allow_partial=allow_partial)
    _save(figure, path)
    return data


def plot_runs(
    train_runs: list[TrainRun],
    selections: list[Selection],
    out: Path,
    *,
    modes: tuple[str, str] = ("normal", "high-entropy"),
    smooth: int | None = None,
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
