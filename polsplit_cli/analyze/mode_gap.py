"""Table 5: how far apart two modes of one model are — |dAcc|, |dEnt| (bits), |dLen| (tokens)
and, when ``analyze kl`` has run, the forward KL D_KL(pi_B || pi_A) per token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from polsplit_cli.analyze.io import EvalRun
from polsplit_cli.analyze.report import Analysis, ResultTable, best_row, fmt
from polsplit_cli.analyze.stats import by_column, metrics, mode_problem_tables
from polsplit_cli.errors import UserError
from polsplit_cli.metrics import averaged_columns, columns_for, mean_or_none

AVERAGE = "average"
GAPS = (("accuracy_pct", "dAcc"), ("entropy_bits", "dEnt"), ("response_length", "dLen"))


def load_kl_result(path: str | Path) -> dict[str, Any]:
    """The JSON written by ``analyze kl`` (its ``--json`` output, or ``kl.json`` in its ``--out`` folder)."""
    file = Path(path)
    if file.is_dir():
        file = file / "kl.json"
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise UserError(f"{file}: file not found") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{file}: not valid JSON ({error})") from error
    if not isinstance(data, dict) or data.get("analysis") != "kl":
        raise UserError(f"{file} is not the output of 'polsplit analyze kl'")
    missing = [key for key in ("run", "mode", "reference", "benchmarks") if key not in data]
    if missing:
        raise UserError(f"{file}: missing field '{missing[0]}'")
    return data


def _kl_for(run: EvalRun, modes: tuple[str, str], kl_results: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The KL result computed on this run for these modes, if one was given."""
    matches = [k for k in kl_results if Path(k["run"]).resolve() == run.path.resolve()]
    for kl in matches:
        if (kl["reference"], kl["mode"]) != modes:
            raise UserError(f"KL result for {run.label} is D({kl['mode']} || {kl['reference']}), not D({modes[1]} || {modes[0]})")
    return matches[0] if matches else None


def _pooled_kl(kl: dict[str, Any], benchmarks: list[str]) -> float | None:
    """Token-weighted forward KL over several benchmarks of a KL result (None if one is missing)."""
    entries = [kl["benchmarks"].get(b) for b in benchmarks]
    if any(e is None for e in entries):
        return None
    tokens = sum(e["tokens"] for e in entries)
    return sum(e["tokens"] * e["forward_bits_per_token"] for e in entries) / tokens


def _gap_row(label: str, column: str, a: dict[str, Any], b: dict[str, Any], kl: float | None) -> dict[str, Any]:
    row: dict[str, Any] = {"run": label, "benchmark": column, "a": a, "b": b}
    for key, name in GAPS:
        delta = None if a[key] is None or b[key] is None else b[key] - a[key]
        row[name] = delta
        row[f"|{name}|"] = None if delta is None else abs(delta)
    row["kl_forward_bits"] = kl
    return row


def mode_gap(
    runs: list[EvalRun],
    modes: tuple[str, str] = ("normal", "high-entropy"),
    *,
    kl_results: list[dict[str, Any]] | None = None,
    allow_partial: bool = False,
    entropy: str = "raw",
) -> Analysis:
    """Rows per run x Table 1 column, and an 'average' row per run over the columns Table 1 averages."""
    run_paths = {run.path.resolve() for run in runs}
    for kl in kl_results or []:
        if Path(kl["run"]).resolve() not in run_paths:
            raise UserError(f"--kl: the KL result of {kl['run']} belongs to none of the runs given")
    results, notes = [], []
    for run in runs:
        tables, run_notes = mode_problem_tables(run, list(modes), allow_partial=allow_partial)
        notes += [f"{run.label}: {note}" for note in run_notes]
        kl = _kl_for(run, modes, kl_results or [])
        benchmarks_of = columns_for(dict.fromkeys(b for b, _ in tables[modes[0]]))
        grouped = {mode: by_column(table) for mode, table in tables.items()}
        rows = {}
        for column, benchmarks in benchmarks_of.items():
            a, b = (metrics(grouped[mode][column], entropy=entropy).as_dict() for mode in modes)
            rows[column] = _gap_row(run.label, column, a, b, _pooled_kl(kl, benchmarks) if kl else None)
        results += rows.values()
        averaged = averaged_columns(rows)
        if len(averaged) > 1:
            a, b = ({key: mean_or_none(rows[c][side][key] for c in averaged) for key, _ in GAPS} for side in ("a", "b"))
            kl_mean = mean_or_none(rows[c]["kl_forward_bits"] for c in averaged) if kl else None
            results.append(_gap_row(run.label, AVERAGE, a, b, kl_mean))
    notes.append(
        f"d = {modes[1]} - {modes[0]}; Acc in points of avg@n, Ent = token-weighted entropy in bits ({entropy}), "
        f"Len = mean response tokens; D_KL = D_KL(pi_{modes[1]} || pi_{modes[0]}) bits/token on {modes[1]} samples "
        "('—' without --kl); average rows: mean over the columns Table 1 averages"
    )
    table = ResultTable(f"Gap between {modes[0]} and {modes[1]} mode (Table 5)",
                        ["run", "benchmark", "|dAcc|", "|dEnt|", "|dLen|", "D_KL"], notes=notes)
    for r in results:
        table.rows.append([r["run"], r["benchmark"], fmt(r["|dAcc|"]), fmt(r["|dEnt|"], 3), fmt(r["|dLen|"], 1),
                           fmt(r["kl_forward_bits"], 3)])
    for column in dict.fromkeys(r["benchmark"] for r in results):
        indices = [i for i, r in enumerate(results) if r["benchmark"] == column]
        for position, key in enumerate(("|dAcc|", "|dEnt|", "|dLen|", "kl_forward_bits"), start=2):
            best = best_row([results[i][key] for i in indices])
            if best is not None and len(indices) > 1:
                table.bold.add((indices[best], position))
    data = {"modes": list(modes), "entropy": entropy, "rows": results, "notes": notes}
    return Analysis("modes", [table], data, [str(run.path) for run in runs])
