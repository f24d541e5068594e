"""Table 7: prompt generalization — accuracy, entropy and entropy change of each system-prompt
mode relative to no system prompt (normal), for one or more models."""

from __future__ import annotations

from typing import Any

from polsplit_cli.analyze.io import EvalRun
from polsplit_cli.analyze.report import Analysis, ResultTable, fmt
from polsplit_cli.analyze.stats import by_column, metrics, mode_problem_tables
from polsplit_cli.metrics import averaged_columns, mean_or_none

BASE = "normal"


def generalization(
    runs: list[EvalRun], modes: list[str] | None = None, *, allow_partial: bool = False, entropy: str = "raw"
) -> Analysis:
    """Per run: the normal row, then one row per other mode with its accuracy and entropy change.

    Accuracy and entropy are averaged as Table 1's Average column (``metrics.averaged_columns``).
    """
    results, notes = [], []
    for run in runs:
        run_modes = [BASE] + [m for m in (modes or run.modes) if m != BASE]
        tables, run_notes = mode_problem_tables(run, run_modes, allow_partial=allow_partial)
        notes += [f"{run.label}: {note}" for note in run_notes]
        averages = {}
        for mode in run_modes:
            columns = by_column(tables[mode])
            names = averaged_columns(columns)
            averaged = [metrics(columns[c], entropy=entropy) for c in names]
            averages[mode] = {
                "accuracy_pct": mean_or_none(m.accuracy_pct for m in averaged),
                "entropy_bits": mean_or_none(m.entropy_bits for m in averaged),
                "columns": names,
            }
        base = averages[BASE]
        for mode in run_modes:
            row: dict[str, Any] = {"run": run.label, "mode": mode, **averages[mode]}
            for key, name in (("accuracy_pct", "delta_accuracy_pct"), ("entropy_bits", "delta_entropy_bits")):
                missing = mode == BASE or row[key] is None or base[key] is None
                row[name] = None if missing else row[key] - base[key]
            results.append(row)
    notes.append(f"Acc = avg@n in %, Ent = token-weighted entropy in bits ({entropy}), both averaged as Table 1's Average "
                 "(the paper's four columns where present, else all); "
                 "dAcc/dEnt relative to the same model's normal mode (no system prompt)")
    table = ResultTable("Mode-switching prompts vs no system prompt (Table 7)",
                        ["model", "Acc", "Ent", "dAcc", "dEnt"], notes=notes)
    for r in results:
        label = r["run"] if r["mode"] == BASE else f"  + {r['mode']} prompt"
        table.rows.append([label, fmt(r["accuracy_pct"]), fmt(r["entropy_bits"]),
                           _signed(r["delta_accuracy_pct"]), _signed(r["delta_entropy_bits"])])
    data = {"base_mode": BASE, "entropy": entropy, "rows": results, "notes": notes}
    return Analysis("generalization", [table], data, [str(run.path) for run in runs])


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f}"
