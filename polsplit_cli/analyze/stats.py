"""Statistics shared by the tables: per-problem aggregates, benchmark metrics, best-of-k,
bootstrap intervals and paired significance tests (named in every output)."""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from math import comb
from typing import Any

import numpy as np

from polsplit_cli.errors import UserError

ENTROPY_KEYS = {"raw": "entropy_bits_sum", "tempered": "entropy_bits_sum_tempered"}
PAIRED_TESTS = {
    "wilcoxon": "Wilcoxon signed-rank test (scipy.stats.wilcoxon, two-sided, zero differences dropped)",
    "ttest": "paired t-test (scipy.stats.ttest_rel, two-sided)",
    "permutation": "sign-flip permutation test of the mean difference (scipy.stats.permutation_test, "
    "two-sided, 10,000 resamples, exact up to 13 non-zero differences)",
}


@dataclass
class ProblemStats:
    """The samples of one problem in one mode: counts and sums."""

    n: int = 0
    correct: int = 0
    graded: bool = True
    entropy_bits: float = 0.0
    entropy_tokens: int = 0
    has_entropy: bool = True
    response_tokens: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.n


def per_problem(records: Iterable[dict[str, Any]], *, entropy: str = "raw") -> dict[tuple[str, str], ProblemStats]:
    """(benchmark, problem_id) -> ProblemStats over the given sample records."""
    key_sum = ENTROPY_KEYS[entropy]
    table: dict[tuple[str, str], ProblemStats] = {}
    for record in records:
        stats = table.setdefault((record["benchmark"], record["problem_id"]), ProblemStats())
        stats.n += 1
        if record["correct"] is None:
            stats.graded = False
        else:
            stats.correct += int(record["correct"])
        if record[key_sum] is None or record["entropy_tokens"] is None:
            stats.has_entropy = False
        else:
            stats.entropy_bits += record[key_sum]
            stats.entropy_tokens += record["entropy_tokens"]
        stats.response_tokens += record["response_tokens"] or 0
    return table


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


def metrics(problems: list[ProblemStats]) -> Metrics:
    """avg@n accuracy (mean over problems of each problem's share correct), token-weighted
    entropy (summed bits / summed tokens) and mean response length over samples."""
    samples = sum(p.n for p in problems)
    graded = all(p.graded for p in problems)
    tokens = sum(p.entropy_tokens for p in problems)
    has_entropy = all(p.has_entropy for p in problems) and tokens > 0
    return Metrics(
        problems=len(problems),
        samples=samples,
        accuracy_pct=100.0 * float(np.mean([p.accuracy for p in problems])) if graded else None,
        entropy_bits=sum(p.entropy_bits for p in problems) / tokens if has_entropy else None,
        response_length=sum(p.response_tokens for p in problems) / samples,
    )


# Benchmark name (lower case, letters and digits only) -> the paper's Table 1 column.
PAPER_COLUMNS = {
    "math500": "MATH-500",
    "aime24": "AIME-24/25",
    "aime2024": "AIME-24/25",
    "aime25": "AIME-24/25",
    "aime2025": "AIME-24/25",
    "gpqadiamond": "GPQA-Diamond",
    "gpqa": "GPQA-Diamond",
    "mmlupro": "MMLU-Pro",
}
PAPER_ORDER = ("MATH-500", "AIME-24/25", "GPQA-Diamond", "MMLU-Pro")


def column_of(benchmark: str) -> str:
    """The table column a benchmark belongs to: a paper column (AIME-24 and -25 share one), else its own name."""
    return PAPER_COLUMNS.get(re.sub(r"[^a-z0-9]", "", benchmark.lower()), benchmark)


def columns_for(benchmarks: Iterable[str]) -> dict[str, list[str]]:
    """column -> its benchmarks; the paper's columns first, in the paper's order, then the rest."""
    grouped: dict[str, list[str]] = {}
    for benchmark in benchmarks:
        grouped.setdefault(column_of(benchmark), []).append(benchmark)
    order = [c for c in PAPER_ORDER if c in grouped] + [c for c in grouped if c not in PAPER_ORDER]
    return {column: grouped[column] for column in order}


def averaged_columns(columns: Iterable[str]) -> list[str]:
    """The columns an 'Average' covers: the paper's four where present (Table 1), else all of them."""
    columns = list(columns)
    return [c for c in PAPER_ORDER if c in columns] or columns


def by_column(table: dict[tuple[str, str], ProblemStats]) -> dict[str, list[ProblemStats]]:
    """column -> the stats of its problems (AIME-24/25 pools both years' problems), in table order."""
    columns = columns_for(dict.fromkeys(benchmark for benchmark, _ in table))
    return {
        column: [stats for (b, _), stats in table.items() if b in benchmarks] for column, benchmarks in columns.items()
    }


def mean_or_none(values: Iterable[float | None]) -> float | None:
    """Mean of the values, or None when any is None (an average must not silently skip a column)."""
    values = list(values)
    if not values or any(v is None for v in values):
        return None
    return float(np.mean(values))


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased probability that at least one of k samples drawn from n (c correct) is correct
    (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if k > n:
        raise ValueError(f"k={k} > n={n}")
    return 1.0 - comb(n - c, k) / comb(n, k)


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
    run: Any, modes: list[str], *, allow_partial: bool = False, entropy: str = "raw"
) -> tuple[dict[str, dict[tuple[str, str], ProblemStats]], list[str]]:
    """Per-problem stats of several modes of one eval run on the problems they all answered,
    and the notes of what was left out (see ``io.shared_problems``)."""
    from polsplit_cli.analyze.io import Selection, restrict, shared_problems

    selections = [Selection(run, mode, f"{run.label}:{mode}", run.select(mode)) for mode in modes]
    shared, notes = shared_problems(selections, allow_partial=allow_partial)
    return {s.mode: per_problem(restrict(s.records, shared), entropy=entropy) for s in selections}, notes
