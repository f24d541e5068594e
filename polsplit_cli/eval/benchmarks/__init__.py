"""The benchmark registry: one small module per benchmark (simple-evals style).

A benchmark module defines ``NAME``, ``KIND`` ("math" | "choice" | "creative"), ``SOURCE`` (a pinned
``HubSource`` or None for built-in sets), ``NATIVE_FIELD`` (a column only its own schema has) and
either ``to_record(row, seed)`` (dataset row -> generic record) or ``builtin_rows()``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polsplit_cli.errors import UserError
from polsplit_cli.eval.benchmarks import aime24, aime25, arithmetic, creative, gpqa_diamond, math500, mmlu_pro
from polsplit_cli.eval.benchmarks.base import Problem, load_hub_rows, problem_from_record
from polsplit_cli.runfiles import read_jsonl

REGISTRY = {module.NAME: module for module in (math500, aime24, aime25, gpqa_diamond, mmlu_pro, arithmetic, creative)}
PAPER = ("math-500", "aime-24", "aime-25", "gpqa-diamond", "mmlu-pro")


@dataclass(frozen=True)
class LoadedBenchmark:
    name: str
    kind: str
    problems: list[Problem]
    source: dict[str, Any]  # recorded in the manifest: dataset + revision, data file + sha256, or built-in


def resolve_benchmarks(specs: list[str]) -> list[str]:
    """Expand comma lists and 'paper' (the five paper benchmarks); unknown names are a UserError."""
    names: list[str] = []
    for spec in specs:
        for part in (p.strip().lower() for p in spec.split(",")):
            for name in PAPER if part == "paper" else (part,) if part else ():
                if name not in REGISTRY:
                    raise UserError(f"unknown benchmark '{name}': use paper or any of {', '.join(REGISTRY)}")
                if name not in names:
                    names.append(name)
    return names


def load_benchmark(name: str, *, seed: int, limit: int | None = None) -> LoadedBenchmark:
    """A registered benchmark from its built-in rows or its pinned Hugging Face dataset."""
    module = REGISTRY[name]
    if module.SOURCE is None:
        rows, source = module.builtin_rows(), {"builtin": name}
        where = f"built-in {name}"
    else:
        try:
            rows = [module.to_record(row, seed) for row in load_hub_rows(module.SOURCE, name)]
        except KeyError as error:
            raise UserError(f"{name}: {module.SOURCE.dataset} has no column {error} (schema changed? pin "
                            f"another revision or pass --data-file)") from error
        source, where = module.SOURCE.describe(), f"{module.SOURCE.dataset}"
    numbered = list(enumerate(rows, start=1))[:limit]
    return LoadedBenchmark(name, module.KIND, _problems(name, module.KIND, numbered, where), source)


def load_data_file(path: Path, *, benchmark: str | None, seed: int, limit: int | None = None) -> LoadedBenchmark:
    """A JSONL file standing in for ``benchmark``'s source (its own columns or generic records), or,
    without a benchmark, a custom one named after the file whose kind is inferred from its records."""
    path = Path(path)
    rows = list(read_jsonl(path))[:limit]
    if benchmark is not None:
        module = REGISTRY[benchmark]
        name, kind = benchmark, module.KIND
        records = []
        for number, row in rows:
            if module.NATIVE_FIELD is not None and module.NATIVE_FIELD in row:
                try:
                    row = module.to_record(row, seed)
                except KeyError as error:
                    raise UserError(f"{path}:{number}: missing field {error} of the {benchmark} schema") from error
            records.append((number, row))
    else:
        name, kind, records = path.stem, _infer_kind(path, rows), rows
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return LoadedBenchmark(name, kind, _problems(name, kind, records, str(path), line_numbers=True),
                           {"data_file": str(path), "sha256": digest})


def _infer_kind(path: Path, rows: list[tuple[int, Any]]) -> str:
    """choice if records have 'options', math if they have 'answer', creative if neither; never mixed."""
    kinds = set()
    for _, row in rows:
        kinds.add("choice" if "options" in row else "math" if "answer" in row else "creative")
    if len(kinds) > 1:
        raise UserError(f"{path}: records mix kinds ({', '.join(sorted(kinds))}): use one kind per file")
    return kinds.pop()


def _problems(name: str, kind: str, rows: list[tuple[int, Any]], where: str, *,
              line_numbers: bool = False) -> list[Problem]:
    problems, seen = [], set()
    for number, record in rows:
        location = f"{where}:{number}" if line_numbers else f"{where} row {number}"
        problem = problem_from_record(name, kind, record, number, location)
        if problem.id in seen:
            raise UserError(f"{location}: duplicate id '{problem.id}'")
        seen.add(problem.id)
        problems.append(problem)
    return problems
