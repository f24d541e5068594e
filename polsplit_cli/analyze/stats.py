"""Statistics of the analyze tables on top of the shared metric definitions (``polsplit_cli.metrics``):
benchmark metrics in percent per column, bootstrap intervals and paired significance tests
(named in every output)."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from polsplit_cli.analyze.io import Selection, restrict, shared_problems
from polsplit_cli.errors import UserError
from polsplit_cli.metrics import (
    ProblemStats,
    accuracy,
    columns_for,
    per_problem,
    response_length,
    token_entropy,
)

PAIRED_TESTS = {
    "wilcoxon": "Wilcoxon signed-rank test (scipy.stats.wilcoxon, two-sided, zero differences dropped)",
    "ttest": "paired t-test (scipy.stats.ttest_rel, two-sided)",
    "permutation": "sign-flip permutation test of the mean difference (scipy.stats.permutation_test, "
    "two-sided, 10,000 resamples, exact up to 13 non-zero differences)",
}


@dataclass
class Metrics:
    """Benchmark-level metrics of one mode (accuracy in percent; None where undefined)."""

    problems: int
    samples: int
    accuracy_pct: float | None
    entropy_bits: float | None
    response_length: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def metrics(problems: list[ProblemStats], *, entropy: str = "raw") -> Metrics:
    """The shared definitions (``polsplit_cli.metrics``), accuracy in percent."""
    avg = accuracy(problems)
    return Metrics(
        problems=len(problems),
        samples=sum(p.n for p in problems),
        accuracy_pct=100.0 * avg if avg is not None else None,
        entropy_bits=token_entropy(problems, entropy),
        response_length=response_length(problems),
    )


def by_column(table: dict[tuple[str, str], ProblemStats]) -> dict[str, list[ProblemStats]]:
    """column -> the stats of its problems (AIME-24/25 pools both years' problems), in table order."""
    columns = columns_for(dict.fromkeys(benchmark for benchmark, _ in table))
    return {
        column: [stats for (b, _), stats in table.items() if b in benchmarks] for column, benchmarks in columns.items()
    }


def bootstrap_ci(
    statistic: Callable[[np.ndarray], float], n_units: int, *, resamples: int, seed: int, level: float = 0.95
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of ``statistic(indices)`` over ``n_units`` resampled with replacement."""
    if resamples <= 0 or n_units < 2:
        return None
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(rng.integers(0, n_units, n_units)) for _ in range(resamples)])
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(draws, [tail, 100.0 - tail])
    return float(low), float(high)


def paired_test(a: np.ndarray, b: np.ndarray, *, test: str = "wilcoxon", seed: int = 0) -> float:
    """Two-sided p-value that paired per-problem scores ``a`` and ``b`` differ.

    All-zero differences give p = 1 (no evidence of a difference) for every test.
    """
    from scipy import stats as scipy_stats

    if test not in PAIRED_TESTS:
        raise UserError(f"unknown test '{test}': use one of {', '.join(PAIRED_TESTS)}")
    difference = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if difference.size == 0 or not np.any(difference):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if test == "wilcoxon":
            return float(scipy_stats.wilcoxon(a, b).pvalue)
        if test == "ttest":
            return float(scipy_stats.ttest_rel(a, b).pvalue)
        # scipy >= 1.15 names the generator ``rng``; older releases call it ``random_state``.
        seeding = "rng" if "rng" in inspect.signature(scipy_stats.permutation_test).parameters else "random_state"
        # Zero differences flip to themselves: dropping them leaves the test unchanged and makes it
        # exact (all 2^m sign patterns) whenever 2^m <= n_resamples.
        result = scipy_stats.permutation_test(
            (difference[difference != 0],), np.mean, permutation_type="samples", n_resamples=10_000, **{seeding: seed}
        )
        return float(result.pvalue)


def mode_problem_tables(
    run: Any, modes: list[str], *, allow_partial: bool = False
) -> tuple[dict[str, dict[tuple[str, str], ProblemStats]], list[str]]:
    """Per-problem stats of several modes of one eval run on the problems they all answered,
    and the notes of what was left out (see ``io.shared_problems``)."""
    selections = [Selection(run, mode, f"{run.label}:{mode}", run.select(mode)) for mode in modes]
    shared, notes = shared_problems(selections, allow_partial=allow_partial)
    return {s.mode: per_problem(restrict(s.records, shared)) for s in selections}, notes
