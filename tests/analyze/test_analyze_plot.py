"""Figures are written, re-read, and checked for size and non-blank content in every panel."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from analyze_fixtures import run_cli, samples_from_counts, write_eval_run, write_train_run

image = pytest.importorskip("matplotlib.image")


def _metrics(steps: int, scale: float, *, with_kl: bool = True) -> list[dict]:
    records = []
    for step in range(1, steps + 1):
        record = {"step": step, "normal/entropy_bits": 0.4 - 0.005 * step * scale, "he/entropy_bits": 0.4 + 0.02 * step * scale,
                  "normal/reward": 0.5 + 0.01 * step, "he/reward": 0.45 + 0.01 * step * scale}
        if with_kl:
            record |= {"kl/forward_bits": 0.01 * step * scale, "kl/reverse_bits": 0.008 * step * scale}
        records.append(record)
    return records


def _panels(pixels: np.ndarray, count: int) -> list[np.ndarray]:
    """The image cut into ``count`` equal vertical strips (one per subplot)."""
    width = pixels.shape[1] // count
    return [pixels[:, i * width : (i + 1) * width] for i in range(count)]


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
    assert pixels.shape[:2] == (420, 1500)  # figsize 15 x 4.2 in at 100 dpi
    for panel in _panels(pixels[..., :3], 3):
        assert panel.std() > 0.05  # axes, curves and labels, not a blank panel
        assert (panel.min(axis=-1) < 0.9).mean() > 0.01
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "analyze" and manifest["files"] == ["training.png"]


def test_eval_bar_charts(tmp_path, capsys):
    records = (samples_from_counts("math-500", "normal", [2, 1, 0], 2) + samples_from_counts("math-500", "high-entropy", [1, 1, 1], 2)
               + samples_from_counts("aime-25", "normal", [1], 2) + samples_from_counts("aime-25", "high-entropy", [2], 2))
    run = write_eval_run(tmp_path / "eval", records)
    out = tmp_path / "figs"
    code, stdout, _ = run_cli(["analyze", "plot", str(run), "--out", str(out), "--json"], capsys)
    assert code == 0
    assert sorted(json.loads(stdout)["figures"]) == ["best_of_n.png", "compare.png"]
    for name in ("compare.png", "best_of_n.png"):
        pixels = image.imread(out / name)[..., :3]
        height, width = pixels.shape[:2]
        assert height == 420 and width >= 800
        for panel in _panels(pixels, 2):
            assert panel.std() > 0.05
            # coloured bars: pixels far from grey (channels differ)
            assert (np.ptp(panel, axis=-1) > 0.3).mean() > 0.005


def test_smoothing_is_a_trailing_mean():
    from polsplit_cli.analyze.plot import _smooth

    assert _smooth([1.0, 3.0, 5.0, 7.0], 2).tolist() == [1.0, 2.0, 4.0, 6.0]
    assert _smooth([1.0, 3.0, 5.0], 1).tolist() == [1.0, 3.0, 5.0]
    assert not any(math.isnan(v) for v in _smooth([2.0] * 5, 10))
