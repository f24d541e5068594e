"""summary.json and the printed table: per benchmark x mode, plus the paper's combined columns.

Accuracies are fractions in [0, 1] in summary.json and percentages in the table. avg@n is the
mean over problems of each problem's share of correct samples; its standard error is over
problems. pass@k uses the unbiased estimator of Chen et al. (2021); pass@1 equals avg@n and
pass@n equals best@n when every problem has n samples. Entropy is token-weighted (summed bits
over all response tokens / their count), raw (T=1) and at the sampling temperature.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from polsplit_cli.analyze.stats import pass_at_k

AIME_PARTS = ("aime-24", "aime-25")
AIME_COLUMN = "AIME-24/25"
PAPER_COLUMNS = ("math-500", AIME_COLUMN, "gpqa-diamond", "mmlu-pro")


def k_values(n: int) -> list[int]:
    """1, 2, 4, ... up to n, and n itself."""
    return sorted({*(2**i for i in range(n.bit_length()) if 2**i <= n), n})


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _mean_of_all(values: list[float | None]) -> float | None:
    """Mean of the values, or None when any is missing."""
    return None if any(value is None for value in values) else _mean(values)


def _ratio(records: list[dict[str, Any]], key: str) -> float | None:
    """Token-weighted mean entropy; None when any sample has no value."""
    if any(r.get(key) is None or r.get("entropy_tokens") is None for r in records):
        return None
    tokens = sum(r["entropy_tokens"] for r in records)
    return sum(r[key] for r in records) / tokens if tokens else None


def group_stats(problems: dict[Any, list[dict[str, Any]]], n: int) -> dict[str, Any]:
    """Metrics of one benchmark x mode from its records grouped by problem."""
    samples = [record for records in problems.values() for record in records]
    stats: dict[str, Any] = {"problems": len(problems), "samples": len(samples)}
    if all(record["correct"] is not None for record in samples):
        per_problem = [sum(bool(r["correct"]) for r in records) / len(records) for records in problems.values()]
        accuracy = _mean(per_problem)
        spread = (sum((a - accuracy) ** 2 for a in per_problem) / (len(per_problem) - 1)
                  if len(per_problem) > 1 else None)
        stats["accuracy"] = accuracy
        stats["accuracy_se"] = math.sqrt(spread / len(per_problem)) if spread is not None else None
        stats["best_at_n"] = _mean([float(a > 0) for a in per_problem])
        stats["pass_at_k"] = {
            str(k): _mean([pass_at_k(len(records), sum(bool(r["correct"]) for r in records), k)
                           for records in problems.values()])
            for k in k_values(n) if all(len(records) >= k for records in problems.values())
        }
    else:  # creative prompts: generation only
        stats.update(accuracy=None, accuracy_se=None, best_at_n=None, pass_at_k={})
    stats["entropy_bits"] = _ratio(samples, "entropy_bits_sum")
    stats["entropy_bits_tempered"] = _ratio(samples, "entropy_bits_sum_tempered")
    stats["response_length"] = _mean([r["response_tokens"] for r in samples])
    stats["truncation_rate"] = _mean([float(r["finish_reason"] == "length") for r in samples])
    stats["missing_think_rate"] = _mean([float("</think>" not in r["response"]) for r in samples])
    return stats


def summarize(records: list[dict[str, Any]], *, n: int, temperature: float) -> dict[str, Any]:
    """The content of summary.json."""
    grouped: dict[str, dict[str, dict[Any, list]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for record in records:
        grouped[record["benchmark"]][record["mode"]][str(record["problem_id"])].append(record)
    benchmarks = {bench: {mode: group_stats(problems, n) for mode, problems in modes.items()}
                  for bench, modes in grouped.items()}
    paper: dict[str, dict[str, Any]] = {}
    modes = list(dict.fromkeys(record["mode"] for record in records))
    for mode in modes:
        columns: dict[str, Any] = {}
        if all(mode in grouped.get(part, {}) for part in AIME_PARTS):
            pooled = {(part, pid): rs for part in AIME_PARTS for pid, rs in grouped[part][mode].items()}
            columns[AIME_COLUMN] = group_stats(pooled, n)
        if all(mode in grouped.get(c, {}) for c in PAPER_COLUMNS if c != AIME_COLUMN) and AIME_COLUMN in columns:
            cells = [columns[AIME_COLUMN] if c == AIME_COLUMN else benchmarks[c][mode] for c in PAPER_COLUMNS]
            columns["average"] = {
                "columns": list(PAPER_COLUMNS),
                "accuracy": _mean([cell["accuracy"] for cell in cells]),
                "entropy_bits": _mean_of_all([c["entropy_bits"] for c in cells]),
                "entropy_bits_tempered": _mean_of_all([c["entropy_bits_tempered"] for c in cells]),
            }
        if columns:
            paper[mode] = columns
    return {"n": n, "temperature": temperature, "benchmarks": benchmarks, "paper": paper}


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render_table(summary: dict[str, Any]):
    """A rich Table: one row per benchmark x mode, then the paper's AIME-24/25 and 4-column average."""
    from rich.table import Table

    n, temperature = summary["n"], summary["temperature"]
    extra_k = [k for k in k_values(n) if k not in (1, n)]
    table = Table(title=f"polsplit eval: {n} samples per problem",
                  caption=f"accuracy in %{f'; pass@1 = avg@{n}, pass@{n} = best@{n}' if n > 1 else ''}; "
                          "H: mean entropy, bits per response token (raw and at the sampling temperature); "
                          "length in tokens")
    for column in ("benchmark", "mode", "problems", f"avg@{n} ± se", f"best@{n}", *(f"pass@{k}" for k in extra_k),
                   "H T=1", f"H T={temperature:g}", "length", "trunc %", "no </think> %"):
        table.add_column(column, justify="left" if column in ("benchmark", "mode") else "right")

    def row(bench: str, mode: str, s: dict[str, Any]) -> None:
        accuracy = _pct(s["accuracy"]) + ("" if s["accuracy_se"] is None else f" ± {100 * s['accuracy_se']:.2f}")
        table.add_row(bench, mode, str(s["problems"]), accuracy, _pct(s["best_at_n"]),
                      *(_pct(s["pass_at_k"].get(str(k))) for k in extra_k),
                      _num(s["entropy_bits"]), _num(s["entropy_bits_tempered"]), _num(s["response_length"], 1),
                      _pct(s["truncation_rate"]), _pct(s["missing_think_rate"]))

    for bench, modes in summary["benchmarks"].items():
        for mode, stats in modes.items():
            row(bench, mode, stats)
    for mode, columns in summary["paper"].items():
        if AIME_COLUMN in columns:
            row(AIME_COLUMN, mode, columns[AIME_COLUMN])
        if "average" in columns:
            average = columns["average"]
            table.add_row("average (4 columns)", mode, "", _pct(average["accuracy"]), "", *("" for _ in extra_k),
                          _num(average["entropy_bits"]), _num(average["entropy_bits_tempered"]), "", "", "")
    return table
