"""Figures are written and re-read (size, non-blank panels), and checked as a reader would:
mode colours, legends and titles outside the data, error bars of hand-computed length."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from analyze_fixtures import run_cli, samples_from_counts, write_eval_run, write_train_run

image = pytest.importorskip("matplotlib.image")
from matplotlib.colors import to_rgba  # noqa: E402  (after the importorskip of the plot extra)
from matplotlib.container import BarContainer  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402

from polsplit_cli import metrics  # noqa: E402
from polsplit_cli.analyze import plot  # noqa: E402
from polsplit_cli.analyze.io import load_eval_run, load_train_run, selections_from_specs  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def _metrics(steps: int, scale: float, *, with_kl: bool = True, noise: float = 0.0) -> list[dict]:
    wiggle = np.random.default_rng(0).normal(0, noise, steps) if noise else np.zeros(steps)
    records = []
    for step in range(1, steps + 1):
        jitter = float(wiggle[step - 1])
        record = {"step": step, "normal/entropy_bits": 0.4 - 0.005 * step * scale + jitter,
                  "he/entropy_bits": 0.4 + 0.02 * step * scale + jitter,
                  "normal/reward": 0.5 + 0.01 * step, "he/reward": 0.45 + 0.01 * step * scale}
        if with_kl:
            record |= {"kl/forward_bits": 0.01 * step * scale, "kl/reverse_bits": 0.008 * step * scale}
        records.append(record)
    return records


def _panels(pixels: np.ndarray, count: int) -> list[np.ndarray]:
    """The image cut into ``count`` equal vertical strips (one per subplot)."""
    width = pixels.shape[1] // count
    return [pixels[:, i * width : (i + 1) * width] for i in range(count)]


def _extents(figure):
    """Display-coordinate boxes after drawing: the legend, the title, each axes, each drawn bar."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    legends = figure.findobj(Legend)
    assert len(legends) == 1  # one legend for the whole figure
    axes = figure.findobj(lambda artist: hasattr(artist, "containers") and hasattr(artist, "bbox"))
    bars = [patch.get_window_extent(renderer) for axis in axes for container in axis.containers
            if isinstance(container, BarContainer) for patch in container if math.isfinite(patch.get_height())]
    return (legends[0].get_window_extent(renderer), figure._suptitle.get_window_extent(renderer),
            [axis.bbox for axis in axes], bars)


def _assert_legend_clear(figure) -> None:
    legend, title, axes, bars = _extents(figure)
    assert not any(legend.overlaps(box) for box in axes)
    assert not any(legend.overlaps(box) for box in bars)
    assert not legend.overlaps(title)
    assert 0 <= legend.x0 and legend.x1 <= figure.bbox.x1 and 0 <= legend.y0 and legend.y1 <= figure.bbox.y1


def _errors(axis) -> list[list[float]]:
    """Half-lengths of the error bars of each bar series (nan where a bar has none)."""
    lengths = []
    for container in (c for c in axis.containers if isinstance(c, BarContainer)):
        if container.errorbar is None:
            lengths.append([math.nan] * len(container))
            continue
        segments = container.errorbar.lines[2][0].get_segments()  # one per bar; empty where no bar
        assert len(segments) == len(container)
        lengths.append([(s[1][1] - s[0][1]) / 2 if len(s) == 2 else math.nan for s in segments])
    return lengths


def test_training_curves_overlay_runs(tmp_path, capsys):
    a = write_train_run(tmp_path / "policy-split", _metrics(30, 1.0))
    b = write_train_run(tmp_path / "grpo", _metrics(30, 0.2, with_kl=False))
    out = tmp_path / "figs"
    code, stdout, _ = run_cli(["analyze", "plot", str(a), str(b), "--smooth", "3", "--out", str(out), "--json"], capsys)
    assert code == 0
    data = json.loads(stdout)
    assert list(data["figures"]) == ["training.png"]
    assert "no data for grpo: kl/forward_bits" in data["notes"]
    pixels = image.imread(out / "training.png")
    assert pixels.shape[:2] == (520, 1500)  # figsize 15 x 5.2 in at 100 dpi
    for panel in _panels(pixels[..., :3], 3):
        assert panel.std() > 0.05  # axes, curves and labels, not a blank panel
        assert (panel.min(axis=-1) < 0.9).mean() > 0.01
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "analyze" and manifest["files"] == ["training.png"]


def test_training_modes_have_own_colours_runs_own_styles(tmp_path):
    runs = [load_train_run(write_train_run(tmp_path / name, _metrics(40, scale, noise=0.05)))
            for name, scale in (("policy-split", 1.0), ("grpo", 0.2))]
    figure, empty = plot.training_figure(runs, smooth=4)
    assert empty == []
    entropy_axis = figure.axes[0]
    bold = [line for line in entropy_axis.lines if line.get_alpha() is None]
    light = [line for line in entropy_axis.lines if line.get_alpha() is not None]
    assert len(bold) == len(light) == 4  # 2 runs x 2 modes, each a raw line under its moving average
    assert all(line.get_alpha() <= 0.3 and line.get_linewidth() < bold[0].get_linewidth() for line in light)
    normal, he = bold[0], bold[1]  # first run: normal then HE
    assert to_rgba(normal.get_color()) != to_rgba(he.get_color())  # colour tells the modes apart
    assert normal.get_linestyle() == he.get_linestyle()
    assert bold[2].get_linestyle() != normal.get_linestyle()  # line style tells the runs apart
    assert to_rgba(bold[2].get_color()) == to_rgba(normal.get_color())  # ... and a mode keeps its colour
    raw = np.array(runs[0].series("normal/entropy_bits")[1])
    assert light[0].get_ydata().tolist() == pytest.approx(raw.tolist())
    assert bold[0].get_ydata()[3] == pytest.approx(raw[:4].mean())  # trailing mean over 4 steps
    title = figure._suptitle.get_text()
    assert "policy-split" in title and "grpo" in title and "trailing mean over 4 steps" in title
    _assert_legend_clear(figure)
    labels = [text.get_text() for text in figure.findobj(Legend)[0].get_texts()]
    assert labels[:2] == ["normal", "HE"] and "policy-split" in labels and "grpo" in labels


def test_default_smoothing_follows_run_length(tmp_path):
    long = load_train_run(write_train_run(tmp_path / "long", _metrics(250, 1.0)))
    short = load_train_run(write_train_run(tmp_path / "short", _metrics(4, 1.0)))
    assert plot.auto_smooth([long]) == 10  # 250 steps / 25
    assert plot.auto_smooth([short]) == 1
    figure, _ = plot.training_figure([short])
    assert "per-step values" in figure._suptitle.get_text()
    assert all(line.get_alpha() is None for line in figure.axes[0].lines)  # no smoothing: no light copy


# Figures of one eval run: math-500 (normal 2/2, 1/2, 0/2 correct; HE 1/2 on each of 3) and aime-25 (1 problem).
def _eval_run(tmp_path):
    records = (samples_from_counts("math-500", "normal", [2, 1, 0], 2) + samples_from_counts("math-500", "high-entropy", [1, 1, 1], 2)
               + samples_from_counts("aime-25", "normal", [1], 2) + samples_from_counts("aime-25", "high-entropy", [2], 2))
    return write_eval_run(tmp_path / "eval", records)


def test_eval_bar_charts(tmp_path, capsys):
    run = _eval_run(tmp_path)
    out = tmp_path / "figs"
    code, stdout, _ = run_cli(["analyze", "plot", str(run), "--out", str(out), "--json"], capsys)
    assert code == 0
    assert sorted(json.loads(stdout)["figures"]) == ["best_of_n.png", "compare.png"]
    for name in ("compare.png", "best_of_n.png"):
        pixels = image.imread(out / name)[..., :3]
        height, width = pixels.shape[:2]
        assert height == 520 and width >= 1000
        for panel in _panels(pixels, 2):
            assert panel.std() > 0.05
            # coloured bars: pixels far from grey (channels differ)
            assert (np.ptp(panel, axis=-1) > 0.3).mean() > 0.005


def test_compare_figure_legend_title_error_bars(tmp_path):
    figure, data = plot.compare_figure(selections_from_specs([str(_eval_run(tmp_path))]))
    assert list(data["columns"]) == ["MATH-500", "AIME-24/25"]
    assert "eval" in figure._suptitle.get_text() and "standard error" in figure._suptitle.get_text()
    _assert_legend_clear(figure)
    accuracy, entropy = figure.axes
    # accuracy: groups MATH-500, AIME-24/25 (1 problem: no spread, no bar), Average (needs both: none)
    normal, he = _errors(accuracy)
    assert normal[0] == pytest.approx(50 / math.sqrt(3))  # problems 100, 50, 0 %: sd 50 over sqrt(3)
    assert he[0] == pytest.approx(0.0)  # 50 % on every problem: no spread
    assert math.isnan(normal[1]) and math.isnan(normal[2])
    # entropy 2 bits over 10 tokens on every sample: the same on every problem, a zero error bar
    assert _errors(entropy)[0][0] == pytest.approx(0.0)


def test_best_of_n_figure_legend_title_error_bars(tmp_path):
    records = samples_from_counts("math-500", "normal", [2, 1, 0], 2) + samples_from_counts("math-500", "high-entropy", [1, 1, 2], 2)
    run = load_eval_run(write_eval_run(tmp_path / "he-run", records))
    figure, _ = plot.best_of_n_figure([run], ("normal", "high-entropy"))
    assert "he-run" in figure._suptitle.get_text()
    _assert_legend_clear(figure)
    accuracy, unique = figure.axes
    normal_avg, normal_best, he_avg, he_best = (errors[0] for errors in _errors(accuracy))
    assert normal_avg == pytest.approx(50 / math.sqrt(3))
    assert normal_best == pytest.approx(np.std([100, 100, 0], ddof=1) / math.sqrt(3))  # best@2: 1, 1, 0
    assert he_avg == pytest.approx(np.std([50, 50, 100], ddof=1) / math.sqrt(3))
    assert he_best == pytest.approx(0.0)  # every problem solved at least once
    assert all(math.isnan(e) for errors in _errors(unique) for e in errors)  # counts: no spread
    normal_bar, he_bar = [c.patches[0] for c in accuracy.containers if isinstance(c, BarContainer)][::2]  # the avg bars
    assert to_rgba(normal_bar.get_facecolor()) != to_rgba(he_bar.get_facecolor())


def test_standard_errors_by_hand():
    assert metrics.standard_error([0.0, 50.0, 100.0]) == pytest.approx(50 / math.sqrt(3))
    assert metrics.standard_error([70.0]) is None
    # ratio 15/50 = 0.3; residuals 2-3, 4-3, 9-9 -> sqrt(3/2 * 2) / 50
    assert metrics.ratio_standard_error([2, 4, 9], [10, 10, 30]) == pytest.approx(math.sqrt(3) / 50)
    assert metrics.ratio_standard_error([2], [10]) is None
    assert metrics.pooled_error([3.0, 4.0]) == pytest.approx(2.5)  # sqrt(9 + 16) / 2
    assert metrics.pooled_error([3.0, None]) is None


def test_smoothing_is_a_trailing_mean():
    assert plot._smooth([1.0, 3.0, 5.0, 7.0], 2).tolist() == [1.0, 2.0, 4.0, 6.0]
    assert plot._smooth([1.0, 3.0, 5.0], 1).tolist() == [1.0, 3.0, 5.0]
    assert not any(math.isnan(v) for v in plot._smooth([2.0] * 5, 10))
