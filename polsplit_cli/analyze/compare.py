"""Table 1: several eval runs (models x modes) side by side per benchmark, the paper's
AIME-24/25 column and 4-column average, with a paired significance test over problems
against a reference row."""

from __future__ import annotations

from typing import Any

import numpy as np

from polsplit_cli.analyze.io import Selection, restrict, shared_problems
from polsplit_cli.analyze.report import Analysis, ResultTable, best_row, fmt
from polsplit_cli.analyze.stats import PAIRED_TESTS, by_column, metrics, paired_test
from polsplit_cli.errors import UserError
from polsplit_cli.metrics import (
    AIME_COLUMN,
    PAPER_COLUMNS,
    averaged_columns,
    columns_for,
    mean_or_none,
    per_problem,
)

SIGNIFICANCE = 0.01
# Marks a significant cell: a dagger, which (unlike "*") cannot collide with markdown bold.
MARK = "\u2020"


def compare(
    selections: list[Selection],
    *,
    reference: int = 0,
    test: str = "wilcoxon",
    entropy: str = "raw",
    allow_partial: bool = False,
    seed: int = 0,
) -> Analysis:
    """Per-column accuracy/entropy of every row, the average, and p-values against row ``reference``."""
    if test not in PAIRED_TESTS:
        raise UserError(f"unknown test '{test}': use one of {', '.join(PAIRED_TESTS)}")
    shared, notes = shared_problems(selections, allow_partial=allow_partial)
    columns = columns_for(list(shared))
    averaged = averaged_columns(columns)
    missing = [c for c in PAPER_COLUMNS if c not in columns]
    if AIME_COLUMN in columns:
        notes.append(f"{AIME_COLUMN} pools the problems of {', '.join(columns[AIME_COLUMN])}")
    if missing and averaged[0] in PAPER_COLUMNS:
        notes.append(f"Average over {', '.join(averaged)}; missing paper columns: {', '.join(missing)}")
    elif missing:
        notes.append(f"no paper benchmark present: Average over all columns ({', '.join(averaged)})")

    tables = [per_problem(restrict(s.records, shared)) for s in selections]
    keys = sorted(tables[0])
    results: list[dict[str, Any]] = []
    for selection, table in zip(selections, tables, strict=True):
        row: dict[str, Any] = {"label": selection.label, "run": str(selection.run.path), "mode": selection.mode}
        row["columns"] = {column: metrics(problems, entropy=entropy).as_dict() for column, problems in by_column(table).items()}
        row["average"] = {
            "accuracy_pct": mean_or_none(row["columns"][c]["accuracy_pct"] for c in averaged),
            "entropy_bits": mean_or_none(row["columns"][c]["entropy_bits"] for c in averaged),
        }
        results.append(row)

    reference_label = selections[reference].label
    for column in [*columns, "Average"]:
        benchmarks = [b for c in (averaged if column == "Average" else [column]) for b in columns[c]]
        column_keys = [k for k in keys if k[0] in benchmarks]
        if any(not tables[0][k].graded for k in column_keys):
            continue
        base = np.array([tables[reference][k].accuracy for k in column_keys])
        cells = [row["average"] if column == "Average" else row["columns"][column] for row in results]
        for index, (cell, table) in enumerate(zip(cells, tables, strict=True)):
            if index == reference:
                continue
            scores = np.array([table[k].accuracy for k in column_keys])
            cell["p_value"] = paired_test(scores, base, test=test, seed=seed)
            cell["delta_pct"] = cell["accuracy_pct"] - cells[reference]["accuracy_pct"]
            cell["paired_problems"] = len(column_keys)
    notes.append(
        f"{MARK} p < {SIGNIFICANCE} vs {reference_label}: {PAIRED_TESTS[test]} on per-problem accuracy "
        f"(mean over samples), paired by problem; the Average test pools the problems of {', '.join(averaged)}"
    )
    notes.append(f"Acc = avg@n in % (bold: the best of its column); Ent = mean full-vocabulary token entropy in bits ({entropy})")
    data = {
        "reference": reference_label,
        "test": PAIRED_TESTS[test],
        "significance_level": SIGNIFICANCE,
        "entropy": entropy,
        "columns": {column: benchmarks for column, benchmarks in columns.items()},
        "average_of": averaged,
        "missing_paper_columns": missing,
        "rows": results,
        "notes": notes,
    }
    tables_out = [_main_table(results, columns, notes), _p_table(results, columns, reference)]
    return Analysis("compare", tables_out, data, list(dict.fromkeys(str(s.run.path) for s in selections)))


def _main_table(results: list[dict[str, Any]], columns: dict[str, list[str]], notes: list[str]) -> ResultTable:
    headers = ["model"] + [f"{c} {m}" for c in [*columns, "Average"] for m in ("Acc", "Ent")]
    table = ResultTable("Accuracy and entropy per benchmark (Table 1)", headers, notes=notes)
    cells_of = [[*row["columns"].values(), row["average"]] for row in results]
    for row, cells in zip(results, cells_of, strict=True):
        line = [row["label"]]
        for cell in cells:
            mark = MARK if cell.get("p_value") is not None and cell["p_value"] < SIGNIFICANCE else ""
            line += [fmt(cell["accuracy_pct"]) + mark, fmt(cell["entropy_bits"])]
        table.rows.append(line)
    for c in range(len(columns) + 1):
        best = best_row([cells[c]["accuracy_pct"] for cells in cells_of])
        if best is not None:
            table.bold.add((best, 1 + 2 * c))
    return table


def _p_table(results: list[dict[str, Any]], columns: dict[str, list[str]], reference: int) -> ResultTable:
    table = ResultTable(
        f"Paired test vs {results[reference]['label']}: accuracy difference (points) and p-value",
        ["model"] + [f"{c} {m}" for c in [*columns, "Average"] for m in ("dAcc", "p")],
        key="pvalues",
    )
    for index, row in enumerate(results):
        if index == reference:
            continue
        line = [row["label"]]
        for cell in [*row["columns"].values(), row["average"]]:
            p = cell.get("p_value")
            line += [fmt(cell.get("delta_pct")), "—" if p is None else f"{p:.3g}" + (MARK if p < SIGNIFICANCE else "")]
        table.rows.append(line)
    return table
