"""Rendering analysis results: a rich table on the terminal, and markdown, CSV, LaTeX and JSON
files, plus the ``manifest.json`` (kind ``"analyze"``) of an ``--out`` folder."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polsplit_cli import runfiles
from polsplit_cli.runfiles import write_json
from polsplit_cli.terminal import table_console


@dataclass
class ResultTable:
    """One printed table: display strings per cell, the cells to bold, notes printed beneath."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    key: str = ""  # file-name suffix of this table's CSV when it is not the first table
    bold: set[tuple[int, int]] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


@dataclass
class Analysis:
    """What a subcommand produces: tables for people, ``data`` (JSON-able) for scripts."""

    name: str
    tables: list[ResultTable]
    data: dict[str, Any]
    inputs: list[str]


def fmt(value: float | int | None, digits: int = 2) -> str:
    """A table cell: fixed digits, thousands separators for large numbers, '—' for missing."""
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def best_row(values: list[float | None]) -> int | None:
    """Index of the largest value (ties: the first), ignoring missing ones."""
    present = [(v, i) for i, v in enumerate(values) if v is not None]
    if not present:
        return None
    return max(present, key=lambda item: item[0])[1]


def json_safe(value: Any) -> Any:
    """The value with non-finite floats (a degenerate test statistic) as null, so the JSON stays valid."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def to_rich(table: ResultTable):
    from rich.table import Table

    rich_table = Table(*table.columns, title=table.title, caption="\n".join(table.notes) or None)
    for r, row in enumerate(table.rows):
        rich_table.add_row(*(f"[bold]{cell}[/bold]" if (r, c) in table.bold else cell for c, cell in enumerate(row)))
    return rich_table


def to_markdown(table: ResultTable) -> str:
    header = (c.replace("|", "\\|") for c in table.columns)
    lines = [f"### {table.title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(table.columns)]
    for r, row in enumerate(table.rows):
        cells = [f"**{cell}**" if (r, c) in table.bold else cell for c, cell in enumerate(row)]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    for note in table.notes:  # footnotes: one paragraph each, never list items
        lines += ["", note]
    return "\n".join(lines) + "\n"


def to_csv(table: ResultTable) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return buffer.getvalue()


LATEX_SPECIAL = {c: "\\" + c for c in "&%$#_{}"} | {"~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}", "—": "--",
                                                "\u2020": r"\textsuperscript{\dag}"}


def _latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIAL.get(c, c) for c in text)


def to_latex(table: ResultTable) -> str:
    lines = [
        "% " + _latex_escape(table.title),
        r"\begin{tabular}{l" + "r" * (len(table.columns) - 1) + "}",
        r"\toprule",
        " & ".join(_latex_escape(c) for c in table.columns) + r" \\",
        r"\midrule",
    ]
    for r, row in enumerate(table.rows):
        cells = [_latex_escape(cell) for cell in row]
        cells = [rf"\textbf{{{cell}}}" if (r, c) in table.bold else cell for c, cell in enumerate(cells)]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", *("% " + _latex_escape(note) for note in table.notes)]
    return "\n".join(lines) + "\n"


def _csv_files(analysis: Analysis, path: Path) -> dict[Path, str]:
    """One CSV per table: the first at ``path``, the others at ``<stem>-<key>.csv``."""
    first, *others = analysis.tables
    files = {path: to_csv(first)}
    files.update({path.with_name(f"{path.stem}-{table.key}{path.suffix}"): to_csv(table) for table in others})
    return files


def check_out_dir(out: Path | None, analysis: str) -> None:
    """Refuse (before any work) an --out folder that holds another command's or analysis' results."""
    if out is not None:
        runfiles.check_out_dir(out, "analyze", analysis)


def prepare_out_dir(out: Path, analysis: str) -> Path:
    """Create an analyze output folder (after ``check_out_dir``)."""
    check_out_dir(out, analysis)
    out.mkdir(parents=True, exist_ok=True)
    return out


def default_out_dir(name: str) -> Path:
    """runs/analyze-<name>-<timestamp>, the default folder of commands that must write files."""
    return runfiles.new_run_dir(f"analyze-{name}")


def write_manifest(out: Path, analysis_name: str, inputs: list[str], files: list[str]) -> None:
    """manifest.json of an analyze folder: command line, inputs, files written, versions."""
    manifest = {
        **runfiles.manifest_header("analyze", ("numpy", "scipy")),
        "analysis": analysis_name,
        "inputs": inputs,
        "files": sorted(files),
    }
    write_json(out / runfiles.MANIFEST_FILE, manifest)


def emit(
    analysis: Analysis,
    *,
    as_json: bool = False,
    out: Path | None = None,
    markdown: Path | None = None,
    csv_path: Path | None = None,
    latex: Path | None = None,
    extra_files: dict[str, str] | None = None,
) -> None:
    """Print the tables (to stderr when ``--json`` owns stdout) and write the requested files."""
    files: dict[Path, str] = {}
    if markdown:
        files[markdown] = "\n".join(to_markdown(t) for t in analysis.tables)
    if latex:
        files[latex] = "\n".join(to_latex(t) for t in analysis.tables)
    if csv_path:
        files.update(_csv_files(analysis, csv_path))
    document = json.dumps(json_safe(analysis.data), indent=2, allow_nan=False) + "\n"
    if out:
        prepare_out_dir(out, analysis.name)
        stem = out / analysis.name.replace("-", "_")
        files[stem.with_suffix(".json")] = document
        files[stem.with_suffix(".md")] = "\n".join(to_markdown(t) for t in analysis.tables)
        files[stem.with_suffix(".tex")] = "\n".join(to_latex(t) for t in analysis.tables)
        files.update(_csv_files(analysis, stem.with_suffix(".csv")))
        files.update({out / name: text for name, text in (extra_files or {}).items()})
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if out:
        names = [str(p.relative_to(out)) for p in files if p.parent == out]
        write_manifest(out, analysis.name, analysis.inputs, names)
    console = table_console(stderr=as_json)  # files first: a closed pipe while printing loses nothing
    for table in analysis.tables:
        console.print(to_rich(table))
    if files:
        console.print(f"wrote {', '.join(str(p) for p in files)}")
    if as_json:
        sys.stdout.write(document)
