"""summary.json and the printed table: per benchmark x mode, plus the paper's combined columns.

Accuracies are fractions in [0, 1] in summary.json and percentages in the table; every metric
is defined in ``polsplit_cli.metrics``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from polsplit_cli.metrics import (
    AIME_COLUMN,
    PAPER_COLUMNS,
    ProblemStats,
    benchmark_stats,
    k_values,
    mean,
    mean_or_none,
)

# summary.json names a paper column by its benchmark, or by the column itself when it pools several.
AVERAGE_COLUMNS = tuple(column if len(parts) > 1 else parts[0] for column, parts in PAPER_COLUMNS.items())


def summarize(records: list[dict[str, Any]], *, n: int, temperature: float) -> dict[str, Any]:
    """The content of summary.json."""
    grouped: dict[str, dict[str, dict[str, ProblemStats]]] = defaultdict(lambda: defaultdict(
        lambda: defaultdict(ProblemStats)))
    for record in records:
        grouped[record["benchmark"]][record["mode"]][str(record["problem_id"])].samples.append(record)
    benchmarks = {bench: {mode: benchmark_stats(list(problems.values()), n) for mode, problems in modes.items()}
                  for bench, modes in grouped.items()}
    paper: dict[str, dict[str, Any]] = {}
    modes = list(dict.fromkeys(record["mode"] for record in records))
    aime_parts = PAPER_COLUMNS[AIME_COLUMN]
    for mode in modes:
        columns: dict[str, Any] = {}
        if all(mode in grouped.get(part, {}) for part in aime_parts):
            columns[AIME_COLUMN] = benchmark_stats([p for part in aime_parts for p in grouped[part][mode].values()], n)
        if all(mode in grouped.get(c, {}) for c in AVERAGE_COLUMNS if c != AIME_COLUMN) and AIME_COLUMN in columns:
            cells = [columns[AIME_COLUMN] if c == AIME_COLUMN else benchmarks[c][mode] for c in AVERAGE_COLUMNS]
            columns["average"] = {
                "columns": list(AVERAGE_COLUMNS),
                "accuracy": mean([cell["accuracy"] for cell in cells]),
                "entropy_bits": mean_or_none([c["entropy_bits"] for c in cells]),
                "entropy_bits_tempered": mean_or_none([c["entropy_bits_tempered"] for c in cells]),
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
