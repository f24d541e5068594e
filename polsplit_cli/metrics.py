"""The metric definitions every result table reads: eval's summary.json and the analyze tables.

Said once here: per-problem stats, avg@n (the mean over problems of each problem's share of
correct samples) and its standard error over problems, best@n, pass@k (the unbiased estimator
of Chen et al. 2021; pass@1 equals avg@n and pass@n equals best@n when every problem has n
samples), token-weighted entropy (summed bits over all response tokens / their
count), mean response length, the paper's Table 1 columns (AIME-24 and AIME-25 pooled into one)
and the average over them. Means are plain left-to-right sums in record order, so the same
samples give the same digits in summary.json and in the analyze tables.
Standard library only: the ground floor under ``eval`` and ``analyze``.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ENTROPY_KEYS = {"raw": "entropy_bits_sum", "tempered": "entropy_bits_sum_tempered"}

AIME_COLUMN = "AIME-24/25"
# The paper's Table 1 columns, in its order, and the benchmarks (eval registry names) each pools.
PAPER_COLUMNS: dict[str, tuple[str, ...]] = {
    "MATH-500": ("math-500",),
    AIME_COLUMN: ("aime-24", "aime-25"),
    "GPQA-Diamond": ("gpqa-diamond",),
    "MMLU-Pro": ("mmlu-pro",),
}


def _normalized(benchmark: str) -> str:
    return re.sub(r"[^a-z0-9]", "", benchmark.lower())


# Benchmark name (lower case, letters and digits only) -> its column; also the spellings data files use.
_COLUMN_OF = {
    **{_normalized(b): column for column, benchmarks in PAPER_COLUMNS.items() for b in benchmarks},
    "aime2024": AIME_COLUMN,
    "aime2025": AIME_COLUMN,
    "gpqa": "GPQA-Diamond",
}


def column_of(benchmark: str) -> str:
    """The table column a benchmark belongs to: a paper column (AIME-24 and -25 share one), else its own name."""
    return _COLUMN_OF.get(_normalized(benchmark), benchmark)


def columns_for(benchmarks: Iterable[str]) -> dict[str, list[str]]:
    """column -> its benchmarks; the paper's columns first, in the paper's order, then the rest."""
    grouped: dict[str, list[str]] = {}
    for benchmark in benchmarks:
        grouped.setdefault(column_of(benchmark), []).append(benchmark)
    order = [c for c in PAPER_COLUMNS if c in grouped] + [c for c in grouped if c not in PAPER_COLUMNS]
    return {column: grouped[column] for column in order}


def averaged_columns(columns: Iterable[str]) -> list[str]:
    """The columns an average covers: the paper's four where present (Table 1), else all of them."""
    columns = list(columns)
    return [c for c in PAPER_COLUMNS if c in columns] or columns


def k_values(n: int) -> list[int]:
    """1, 2, 4, ... up to n, and n itself."""
    return sorted({*(2**i for i in range(n.bit_length()) if 2**i <= n), n})


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased probability that at least one of k samples drawn from n (c correct) is correct
    (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if k > n:
        raise ValueError(f"k={k} > n={n}")
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def mean(values: Iterable[float]) -> float | None:
    """Arithmetic mean; None for no values."""
    values = list(values)
    return sum(values) / len(values) if values else None


def mean_or_none(values: Iterable[float | None]) -> float | None:
    """Mean of the values, or None when any is None (an average must not silently skip a column)."""
    values = list(values)
    return None if any(value is None for value in values) else mean(values)


@dataclass
class ProblemStats:
    """The samples of one problem in one mode, in file order."""

    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def graded(self) -> bool:
        return all(sample["correct"] is not None for sample in self.samples)

    @property
    def correct(self) -> int:
        return sum(bool(sample["correct"]) for sample in self.samples)

    @property
    def accuracy(self) -> float:
        """Share of correct samples."""
        return self.correct / self.n


def per_problem(records: Iterable[dict[str, Any]]) -> dict[tuple[str, Any], ProblemStats]:
    """(benchmark, problem_id) -> ProblemStats over the given sample records."""
    table: dict[tuple[str, Any], ProblemStats] = {}
    for record in records:
        table.setdefault((record["benchmark"], record["problem_id"]), ProblemStats()).samples.append(record)
    return table


def _samples(problems: list[ProblemStats]) -> list[dict[str, Any]]:
    return [sample for problem in problems for sample in problem.samples]


def accuracy(problems: list[ProblemStats]) -> float | None:
    """avg@n: the mean over problems of each one's share correct; None when any sample is ungraded."""
    return mean(p.accuracy for p in problems) if all(p.graded for p in problems) else None


def mean_pass_at_k(problems: list[ProblemStats], k: int) -> float | None:
    """pass@k averaged over problems, each with its own number of samples."""
    return mean(pass_at_k(p.n, p.correct, k) for p in problems)


def token_entropy(problems: list[ProblemStats], entropy: str = "raw") -> float | None:
    """Token-weighted mean entropy in bits (``entropy``: raw or tempered); None when any sample has no value."""
    key = ENTROPY_KEYS[entropy]
    samples = _samples(problems)
    if any(s.get(key) is None or s.get("entropy_tokens") is None for s in samples):
        return None
    tokens = sum(s["entropy_tokens"] for s in samples)
    return sum(s[key] for s in samples) / tokens if tokens else None


def token_entropy_error(problems: list[ProblemStats], entropy: str = "raw") -> float | None:
    """Standard error of ``token_entropy`` with problems as clusters; None when any sample has no value."""
    key = ENTROPY_KEYS[entropy]
    if any(s.get(key) is None or s.get("entropy_tokens") is None for s in _samples(problems)):
        return None
    return ratio_standard_error([sum(s[key] for s in p.samples) for p in problems],
                                [sum(s["entropy_tokens"] for s in p.samples) for p in problems])


def response_length(problems: list[ProblemStats]) -> float | None:
    """Mean response tokens per sample."""
    return mean(s["response_tokens"] or 0 for s in _samples(problems))


def benchmark_stats(problems: list[ProblemStats], n: int) -> dict[str, Any]:
    """The metrics of one benchmark (or pooled column) x mode, as summary.json stores them."""
    samples = _samples(problems)
    stats: dict[str, Any] = {"problems": len(problems), "samples": len(samples)}
    avg = accuracy(problems)
    if avg is not None:
        shares = [p.accuracy for p in problems]
        spread = sum((a - avg) ** 2 for a in shares) / (len(shares) - 1) if len(shares) > 1 else None
        stats["accuracy"] = avg
        stats["accuracy_se"] = math.sqrt(spread / len(shares)) if spread is not None else None
        stats["best_at_n"] = mean(float(a > 0) for a in shares)
        stats["pass_at_k"] = {str(k): mean_pass_at_k(problems, k) for k in k_values(n)
                              if all(p.n >= k for p in problems)}
    else:  # creative prompts: generation only
        stats.update(accuracy=None, accuracy_se=None, best_at_n=None, pass_at_k={})
    stats["entropy_bits"] = token_entropy(problems, "raw")
    stats["entropy_bits_tempered"] = token_entropy(problems, "tempered")
    stats["response_length"] = response_length(problems)
    stats["truncation_rate"] = mean(float(s["finish_reason"] == "length") for s in samples)
    stats["missing_think_rate"] = mean(float("</think>" not in s["response"]) for s in samples)
    return stats


# Error bars: spreads over problems (problems are the sampling unit of every benchmark).
def standard_error(values: list[float]) -> float | None:
    """Standard error of the mean over problems (sample standard deviation / sqrt n); None below 2."""
    if len(values) < 2:
        return None
    return statistics.stdev(values) / math.sqrt(len(values))


def ratio_standard_error(numerators: list[float], denominators: list[float]) -> float | None:
    """Linearised standard error of sum(numerators) / sum(denominators) over problems (the
    token-weighted entropy: bits / tokens, problems as clusters); None below 2 problems."""
    total = sum(denominators)
    if len(numerators) < 2 or total <= 0:
        return None
    ratio = sum(numerators) / total
    squares = sum((n - ratio * d) ** 2 for n, d in zip(numerators, denominators, strict=True))
    return math.sqrt(len(numerators) / (len(numerators) - 1) * squares) / total


def pooled_error(errors: list[float | None]) -> float | None:
    """Standard error of the mean of independent column means (the Average column); None if any is."""
    if not errors or any(e is None for e in errors):
        return None
    return math.sqrt(sum(e**2 for e in errors)) / len(errors)
