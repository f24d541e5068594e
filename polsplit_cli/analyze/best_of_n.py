"""Table 6: per mode, average accuracy and best-of-k (k = 1..n, unbiased estimator), and the
unique correct rollouts: problems one mode solves that the other never does."""

from __future__ import annotations

from typing import Any

from polsplit_cli.analyze.io import EvalRun
from polsplit_cli.analyze.report import Analysis, ResultTable, fmt
from polsplit_cli.analyze.stats import mode_problem_tables
from polsplit_cli.errors import UserError
from polsplit_cli.metrics import ProblemStats, accuracy, averaged_columns, columns_for, mean, mean_pass_at_k

AVERAGE = "average"


def mode_summary(problems: list[ProblemStats], n: int) -> dict[str, Any]:
    """Average accuracy and best-of-k for k = 1..n over problems (percent), each problem by its own n."""
    return {
        "accuracy_pct": 100.0 * accuracy(problems),
        "best_of_k_pct": {k: 100.0 * mean_pass_at_k(problems, k) for k in range(1, n + 1)},
    }


def unique_solves(
    mine: dict[tuple[str, str], ProblemStats], theirs: dict[tuple[str, str], ProblemStats]
) -> dict[str, Any]:
    """Problems with a correct sample in ``mine`` and none in ``theirs``, and my correct rollouts on them."""
    problems = sorted(k for k, p in mine.items() if p.correct > 0 and theirs[k].correct == 0)
    return {
        "problems": len(problems),
        "correct_rollouts": sum(mine[k].correct for k in problems),
        "problem_ids": [f"{benchmark}/{problem}" for benchmark, problem in problems],
    }


def best_of_n(runs: list[EvalRun], modes: tuple[str, str] = ("normal", "high-entropy"), *, allow_partial: bool = False) -> Analysis:
    """Rows per run x Table 1 column x mode, plus an 'average' row per mode over the columns Table 1
    averages (accuracies averaged, unique counts summed) when there are several."""
    results, notes = [], []
    for run in runs:
        tables, run_notes = mode_problem_tables(run, list(modes), allow_partial=allow_partial)
        notes += [f"{run.label}: {note}" for note in run_notes]
        n = min(p.n for table in tables.values() for p in table.values())
        columns = columns_for(dict.fromkeys(b for b, _ in tables[modes[0]]))
        rows: dict[str, list[dict[str, Any]]] = {}
        for column, benchmarks in list(columns.items()):
            subset = {mode: {k: p for k, p in table.items() if k[0] in benchmarks} for mode, table in tables.items()}
            if not all(p.graded for table in subset.values() for p in table.values()):
                notes.append(f"{run.label}: {column} skipped (ungraded samples, 'correct: null')")
                del columns[column]
                continue
            rows[column] = [
                {"run": run.label, "benchmark": column, "mode": mode, "n": n, "problems": len(subset[mode]),
                 **mode_summary(list(subset[mode].values()), n), "unique": unique_solves(subset[mode], subset[other])}
                for mode, other in (modes, modes[::-1])
            ]
            results += rows[column]
        if not columns:
            raise UserError(f"{run.path}: no graded samples to compute best-of-n on")
        averaged = averaged_columns(columns)
        if len(averaged) > 1:
            results += [_average_row([rows[c][index] for c in averaged]) for index in range(2)]
    notes.append(
        "Best@k: unbiased estimator 1 - C(n-c,k)/C(n,k) (Chen et al. 2021) per problem, averaged; "
        "Unique: problems this mode solves (any sample correct) that the other mode never does, "
        "and this mode's correct rollouts on them"
    )
    if any(r["benchmark"] == AVERAGE for r in results):
        notes.append("'average' rows: accuracies averaged over the columns Table 1 averages, counts summed over them")
    return Analysis("best-of-n", _tables(results, notes), {"modes": list(modes), "rows": results, "notes": notes},
                    [str(run.path) for run in runs])


def _average_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One mode's rows over several columns folded into an 'average' row."""
    n = rows[0]["n"]
    unique = [r["unique"] for r in rows]
    return {
        "run": rows[0]["run"],
        "benchmark": AVERAGE,
        "mode": rows[0]["mode"],
        "n": n,
        "problems": sum(r["problems"] for r in rows),
        "accuracy_pct": mean(r["accuracy_pct"] for r in rows),
        "best_of_k_pct": {k: mean(r["best_of_k_pct"][k] for r in rows) for k in range(1, n + 1)},
        "unique": {
            "problems": sum(u["problems"] for u in unique),
            "correct_rollouts": sum(u["correct_rollouts"] for u in unique),
            "problem_ids": [i for u in unique for i in u["problem_ids"]],
        },
    }


def _tables(results: list[dict[str, Any]], notes: list[str]) -> list[ResultTable]:
    main = ResultTable("Average and best-of-n accuracy per mode, unique correct rollouts (Table 6)",
                       ["run", "benchmark", "mode", "Avg", "Best@n", "unique problems", "unique correct rollouts"], notes=notes)
    curve = ResultTable("Best-of-k accuracy (%) for k = 1..n", ["run", "benchmark", "mode"], key="best_of_k")
    n_max = max(r["n"] for r in results)
    curve.columns += [f"k={k}" for k in range(1, n_max + 1)]
    for r in results:
        best = r["best_of_k_pct"][r["n"]]
        main.rows.append([r["run"], r["benchmark"], r["mode"], fmt(r["accuracy_pct"]), fmt(best),
                          fmt(r["unique"]["problems"]), fmt(r["unique"]["correct_rollouts"])])
        curve.rows.append([r["run"], r["benchmark"], r["mode"]]
                          + [fmt(r["best_of_k_pct"].get(k)) for k in range(1, n_max + 1)])
    return [main, curve]
