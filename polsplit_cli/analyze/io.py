"""Reading the run folders that ``polsplit train`` and ``polsplit eval`` write (docs/formats.md).

Every reader checks the manifest ``kind`` and each JSONL line, and raises ``UserError``
naming the file and line, so a bad input is one red line and never a traceback.
``shared_problems`` checks that the runs being compared answered the same problems.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polsplit_cli.errors import UserError
from polsplit_cli.runfiles import read_jsonl, read_manifest

# Fields a sample record must carry for the tables (docs/formats.md), with their accepted types.
SAMPLE_FIELDS: dict[str, tuple[type, ...]] = {
    "benchmark": (str,),
    "problem_id": (str, int),
    "mode": (str,),
    "sample": (int,),
}
# Optional-valued fields: may be null (creative samples have no grade; entropy may be off).
SAMPLE_NULLABLE: dict[str, tuple[type, ...]] = {
    "correct": (bool,),
    "response_tokens": (int,),
    "entropy_bits_sum": (int, float),
    "entropy_bits_sum_tempered": (int, float),
    "entropy_tokens": (int,),
}
# Large fields only ``analyze kl`` needs; dropped on load otherwise to keep memory small.
TOKEN_FIELDS = ("prompt_token_ids", "response_token_ids", "user_text")
BULKY_FIELDS = ("prompt_token_ids", "response_token_ids", "response", "question", "user_text")


@dataclass
class Run:
    """A results folder and its manifest; labelled by the folder name in tables and plots."""

    path: Path
    manifest: dict[str, Any]

    @property
    def label(self) -> str:
        return self.path.name


@dataclass
class EvalRun(Run):
    """An eval results folder: its manifest and sample records (in file order)."""

    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def modes(self) -> list[str]:
        return list(dict.fromkeys(record["mode"] for record in self.samples))

    @property
    def benchmarks(self) -> list[str]:
        return list(dict.fromkeys(record["benchmark"] for record in self.samples))

    def select(self, mode: str) -> list[dict[str, Any]]:
        """The samples of one mode; an absent mode is a UserError listing the ones present."""
        records = [record for record in self.samples if record["mode"] == mode]
        if not records:
            raise UserError(f"{self.path}: no samples in mode '{mode}' (modes present: {', '.join(self.modes)})")
        return records


@dataclass
class TrainRun(Run):
    """A train results folder: its manifest and one metrics record per optimizer step."""

    metrics: list[dict[str, Any]] = field(default_factory=list)

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """(steps, values) of one metric over the steps where it is a finite number."""
        steps, values = [], []
        for record in self.metrics:
            value = record.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                steps.append(record["step"])
                values.append(float(value))
        return steps, values


@dataclass
class Selection:
    """One table row's source: the samples of one mode of one eval run, under a display label."""

    run: EvalRun
    mode: str
    label: str
    records: list[dict[str, Any]] = field(repr=False)


def run_folder(path: str | Path) -> Path:
    """The run folder for a path that names the folder or a file inside it."""
    folder = Path(path).expanduser()
    if folder.is_file():
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(f"{path}: no such run folder")
    return folder


def _check_field(path: Path, number: int, record: dict, key: str, types: tuple[type, ...], nullable: bool) -> None:
    if key not in record:
        raise UserError(f"{path}:{number}: missing field '{key}'")
    value = record[key]
    if value is None and nullable:
        return
    if isinstance(value, bool) and bool not in types or not isinstance(value, types):
        names = " or ".join(t.__name__ for t in types) + (" or null" if nullable else "")
        raise UserError(f"{path}:{number}: field '{key}' should be {names}, got {value!r:.40}")


def load_eval_run(path: str | Path, *, token_ids: bool = False) -> EvalRun:
    """An eval run folder; ``token_ids=True`` keeps prompt/response ids and user text (for ``kl``)."""
    folder = run_folder(path)
    manifest = read_manifest(folder, "eval")
    samples_path = folder / "samples.jsonl"
    samples: dict[tuple, dict[str, Any]] = {}
    for number, record in read_jsonl(samples_path):
        for key, types in SAMPLE_FIELDS.items():
            _check_field(samples_path, number, record, key, types, nullable=False)
        for key, types in SAMPLE_NULLABLE.items():
            _check_field(samples_path, number, record, key, types, nullable=True)
        record["problem_id"] = str(record["problem_id"])
        if token_ids:
            for key in TOKEN_FIELDS:
                if key not in record:
                    raise UserError(f"{samples_path}:{number}: missing field '{key}'")
        else:
            for key in BULKY_FIELDS:
                record.pop(key, None)
        record["_line"] = number
        # A rerun appends: the last record of a sample wins (as in the writer's runfiles.JsonlLog).
        samples[record["benchmark"], record["problem_id"], record["mode"], record["sample"]] = record
    return EvalRun(folder, manifest, list(samples.values()))


def load_train_run(path: str | Path) -> TrainRun:
    """A train run folder with its metrics.jsonl (one record per step, sorted by step)."""
    folder = run_folder(path)
    manifest = read_manifest(folder, "train")
    metrics_path = folder / "metrics.jsonl"
    metrics: dict[int, dict[str, Any]] = {}
    for number, record in read_jsonl(metrics_path):
        _check_field(metrics_path, number, record, "step", (int,), nullable=False)
        metrics[record["step"]] = record  # a resumed run re-logging a step: the last record wins
    return TrainRun(folder, manifest, [metrics[step] for step in sorted(metrics)])


def manifest_kind(path: str | Path, allowed: tuple[str, ...] = ("eval", "train")) -> str:
    """The manifest ``kind`` of a run folder, refusing kinds outside ``allowed``."""
    return read_manifest(run_folder(path), *allowed).get("kind")


def parse_run_spec(spec: str) -> tuple[str, str | None]:
    """``RUN`` or ``RUN:MODE`` -> (path, mode or None); a path that exists as given wins."""
    if Path(spec).expanduser().exists() or ":" not in spec:
        return spec, None
    path, mode = spec.rsplit(":", 1)
    if not mode:
        raise UserError(f"'{spec}': no mode after ':' (RUN alone gives every mode of the run, RUN:MODE one)")
    return path, mode


def selections_from_specs(specs: list[str], labels: list[str] | None = None) -> list[Selection]:
    """Table rows from ``RUN[:MODE]`` specs: a spec without a mode gives one row per mode of the run.

    Labels default to the run folder name, with ``+mode`` for non-normal modes.
    """
    runs: dict[str, EvalRun] = {}
    selections = []
    for spec in specs:
        path, mode = parse_run_spec(spec)
        key = str(run_folder(path).resolve())
        if key not in runs:
            runs[key] = load_eval_run(path)
        run = runs[key]
        for row_mode in [mode] if mode else run.modes:
            label = run.label if row_mode == "normal" else f"{run.label} +{row_mode}"
            selections.append(Selection(run, row_mode, label, run.select(row_mode)))
    if labels:
        if len(labels) != len(selections):
            raise UserError(f"--label given {len(labels)} times for {len(selections)} rows")
        for selection, label in zip(selections, labels, strict=True):
            selection.label = label
    return selections


def reference_index(selections: list[Selection], spec: str) -> int:
    """The row a ``--reference RUN[:MODE]`` names (a RUN alone means its normal mode, else its first)."""
    path, mode = parse_run_spec(spec)
    folder = run_folder(path).resolve()
    rows = [i for i, s in enumerate(selections) if s.run.path.resolve() == folder]
    if not rows:
        raise UserError(f"--reference {spec} is not one of the compared runs")
    if mode is None:
        return next((i for i in rows if selections[i].mode == "normal"), rows[0])
    for i in rows:
        if selections[i].mode == mode:
            return i
    raise UserError(f"--reference {spec}: mode '{mode}' is not among the compared rows of that run")


def problem_sets(records: list[dict[str, Any]]) -> dict[str, set[str]]:
    """benchmark -> the problem ids present in the records."""
    sets: dict[str, set[str]] = defaultdict(set)
    for record in records:
        sets[record["benchmark"]].add(record["problem_id"])
    return dict(sets)


def shared_problems(selections: list[Selection], *, allow_partial: bool) -> tuple[dict[str, set[str]], list[str]]:
    """benchmark -> problem ids every selection answered, and notes saying what was dropped (and
    when the rows have different numbers of samples per problem).

    Without ``allow_partial`` any difference is a UserError; with it the comparison is
    restricted to the intersection and the notes say so. No shared problem is always an error.
    """
    per_selection = [problem_sets(selection.records) for selection in selections]
    benchmarks = list(dict.fromkeys(b for sets in per_selection for b in sets))
    shared, notes = {}, []
    for benchmark in benchmarks:
        missing = [s.label for s, sets in zip(selections, per_selection, strict=True) if benchmark not in sets]
        if missing:
            if not allow_partial:
                raise UserError(
                    f"runs do not share benchmark '{benchmark}': missing from {', '.join(missing)} "
                    "(use --allow-partial to compare on what they share)"
                )
            notes.append(f"benchmark {benchmark} dropped: missing from {', '.join(missing)}")
            continue
        sets = [sets[benchmark] for sets in per_selection]
        common = set.intersection(*sets)
        if not common:
            raise UserError(f"runs share no problems of benchmark '{benchmark}'")
        if any(len(s) != len(common) for s in sets):
            sizes = ", ".join(f"{sel.label}: {len(s)}" for sel, s in zip(selections, sets, strict=True))
            if not allow_partial:
                raise UserError(
                    f"runs do not share problems of '{benchmark}' ({sizes}; {len(common)} shared): "
                    "use --allow-partial to compare on the shared ones"
                )
            notes.append(f"{benchmark}: restricted to the {len(common)} problems all rows share ({sizes})")
        shared[benchmark] = common
    if not shared:
        raise UserError("runs share no benchmark")
    counts = [samples_per_problem(restrict(s.records, shared)) for s in selections]
    if len(set().union(*counts)) > 1:
        sizes = ", ".join(f"{s.label}: {min(c)}" + (f"-{max(c)}" if len(c) > 1 else "")
                          for s, c in zip(selections, counts, strict=True))
        notes.append(f"samples per problem differ ({sizes}): each row's accuracy averages its own samples")
    return shared, notes


def samples_per_problem(records: list[dict[str, Any]]) -> set[int]:
    """The distinct numbers of samples the problems have (one number when every problem has n)."""
    return set(Counter((r["benchmark"], r["problem_id"]) for r in records).values())


def restrict(records: list[dict[str, Any]], shared: dict[str, set[str]]) -> list[dict[str, Any]]:
    """The records whose (benchmark, problem) is in ``shared``."""
    return [r for r in records if r["problem_id"] in shared.get(r["benchmark"], ())]
