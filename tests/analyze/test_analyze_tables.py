"""Tables 5, 6, 7 and 1 on synthetic eval runs whose expected values are worked out by hand below."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from analyze_fixtures import run_cli, sample, samples_from_counts, write_eval_run
from markdown_it import MarkdownIt
from scipy import stats

# --- Table 6 / Table 5 fixture: one benchmark, 4 problems, n = 4 samples per mode -------------
# correct samples per problem:      p0 p1 p2 p3
NORMAL_COUNTS = [1, 0, 4, 2]
HE_COUNTS = [2, 1, 3, 0]
# pass@k = 1 - C(n-c,k)/C(n,k) with n=4, by hand:
#   c=0: 0 0 0 0 | c=1: 1/4 1/2 3/4 1 | c=2: 1/2 5/6 1 1 | c=3: 3/4 1 1 1 | c=4: 1 1 1 1
NORMAL_BEST = [(0.25 + 0 + 1 + 0.5) / 4, (0.5 + 0 + 1 + 5 / 6) / 4, (0.75 + 0 + 1 + 1) / 4, (1 + 0 + 1 + 1) / 4]
HE_BEST = [(0.5 + 0.25 + 0.75 + 0) / 4, (5 / 6 + 0.5 + 1 + 0) / 4, (1 + 0.75 + 1 + 0) / 4, (1 + 1 + 1 + 0) / 4]


def _pair_run(tmp_path):
    """Normal samples: 10 tokens, 3 bits each (0.3 bits/token). HE: p0 samples 30 tokens / 18 bits,
    the rest 20 tokens / 10 bits -> token-weighted (4*18 + 12*10) / (4*30 + 12*20) = 192/360 bits/token."""
    records = samples_from_counts("arithmetic", "normal", NORMAL_COUNTS, 4, tokens=10, entropy=3.0)
    for i, c in enumerate(HE_COUNTS):
        tokens, entropy = (30, 18.0) if i == 0 else (20, 10.0)
        records += [sample("arithmetic", f"p{i}", "high-entropy", s, s < c, tokens=tokens, entropy=entropy) for s in range(4)]
    return write_eval_run(tmp_path / "pair", records)


def test_best_of_n_by_hand(tmp_path, capsys):
    run = _pair_run(tmp_path)
    code, out, _ = run_cli(["analyze", "best-of-n", str(run), "--json"], capsys)
    assert code == 0
    rows = {r["mode"]: r for r in json.loads(out)["rows"]}
    assert rows["normal"]["accuracy_pct"] == pytest.approx(100 * 1.75 / 4)
    assert rows["high-entropy"]["accuracy_pct"] == pytest.approx(100 * 1.5 / 4)
    for mode, expected in (("normal", NORMAL_BEST), ("high-entropy", HE_BEST)):
        got = [rows[mode]["best_of_k_pct"][str(k)] for k in range(1, 5)]
        assert got == pytest.approx([100 * e for e in expected])
    # p3 only normal solves (2 correct rollouts); p1 only HE solves (1 correct rollout).
    assert rows["normal"]["unique"] == {"problems": 1, "correct_rollouts": 2, "problem_ids": ["arithmetic/p3"]}
    assert rows["high-entropy"]["unique"] == {"problems": 1, "correct_rollouts": 1, "problem_ids": ["arithmetic/p1"]}


def test_mode_gap_by_hand_with_kl_file(tmp_path, capsys):
    run = _pair_run(tmp_path)
    kl_file = tmp_path / "kl.json"
    kl_file.write_text(json.dumps({"analysis": "kl", "run": str(run), "mode": "high-entropy", "reference": "normal",
                                   "benchmarks": {"arithmetic": {"tokens": 360, "forward_bits_per_token": 0.125}}}))
    code, out, _ = run_cli(["analyze", "modes", str(run), "--kl", str(kl_file), "--json"], capsys)
    assert code == 0
    (row,) = json.loads(out)["rows"]
    assert row["|dAcc|"] == pytest.approx(100 * (1.75 - 1.5) / 4)
    assert row["|dEnt|"] == pytest.approx(192 / 360 - 0.3)
    assert row["|dLen|"] == pytest.approx((4 * 30 + 12 * 20) / 16 - 10)
    assert row["dAcc"] == pytest.approx(-6.25)
    assert row["kl_forward_bits"] == 0.125
    code, out, _ = run_cli(["analyze", "modes", str(run), "--entropy", "tempered", "--json"], capsys)
    (row,) = json.loads(out)["rows"]
    assert row["|dEnt|"] == pytest.approx((192 / 360 - 0.3) / 2)
    assert row["kl_forward_bits"] is None


def _three_mode_run(tmp_path):
    """Two benchmarks, two problems each, n = 2, three modes (see test_generalization_by_hand)."""
    records = []
    layout = {  # mode: {benchmark: (correct per problem as lists, tokens, entropy bits per sample)}
        "normal": {"math-500": ([[1, 1], [1, 0]], 10, 2.0), "aime-24": ([[0, 0], [1, 0]], 10, 4.0)},
        "high-entropy": {"math-500": ([[1, 0], [0, 0]], 10, 5.0), "aime-24": ([[1, 1], [1, 1]], 20, 12.0)},
        "low-entropy": {"math-500": ([[0, 0], [0, 0]], 10, 1.0), "aime-24": ([[0, 0], [0, 0]], 10, 1.0)},
    }
    for mode, benchmarks in layout.items():
        for benchmark, (grid, tokens, entropy) in benchmarks.items():
            for p, correct in enumerate(grid):
                records += [sample(benchmark, f"q{p}", mode, s, bool(c), tokens=tokens, entropy=entropy)
                            for s, c in enumerate(correct)]
    return write_eval_run(tmp_path / "three", records)


def test_generalization_by_hand(tmp_path, capsys):
    run = _three_mode_run(tmp_path)
    code, out, _ = run_cli(["analyze", "generalization", str(run), "--json"], capsys)
    assert code == 0
    rows = {r["mode"]: r for r in json.loads(out)["rows"]}
    # normal: math 75%, aime 25% -> 50; entropy 0.2 and 0.4 -> 0.3
    assert rows["normal"]["accuracy_pct"] == pytest.approx(50.0)
    assert rows["normal"]["entropy_bits"] == pytest.approx(0.3)
    assert rows["normal"]["delta_entropy_bits"] is None
    # HE: math 25%, aime 100% -> 62.5; entropy 0.5 and 0.6 -> 0.55, change +0.25
    assert rows["high-entropy"]["accuracy_pct"] == pytest.approx(62.5)
    assert rows["high-entropy"]["delta_entropy_bits"] == pytest.approx(0.25)
    assert rows["high-entropy"]["delta_accuracy_pct"] == pytest.approx(12.5)
    # LE: 0%, 0.1 bits -> change -0.2
    assert rows["low-entropy"]["accuracy_pct"] == 0.0
    assert rows["low-entropy"]["delta_entropy_bits"] == pytest.approx(-0.2)
    files = [tmp_path / "t7.csv", tmp_path / "t7.tex", tmp_path / "t7.md"]
    code, _, _ = run_cli(["analyze", "generalization", str(run), "--mode", "high-entropy",
                          "--csv", str(files[0]), "--latex", str(files[1]), "--markdown", str(files[2])], capsys)
    assert code == 0
    assert list(csv.reader(files[0].open())) == [
        ["model", "Acc", "Ent", "dAcc", "dEnt"], ["three", "50.00", "0.30", "—", "—"],
        ["  + high-entropy prompt", "62.50", "0.55", "+12.50", "+0.25"]]
    assert r"  + high-entropy prompt & 62.50 & 0.55 & +12.50 & +0.25 \\" in files[1].read_text()
    assert "| three | 50.00 | 0.30 | — | — |" in files[2].read_text()


# --- Table 1 fixture: run A (normal) and run B (normal + HE) ----------------------------------
A_MATH = [4, 3, 2, 4, 1, 0, 2, 3, 4, 2, 1, 3]  # of n = 4
B_MATH = [4, 4, 3, 4, 2, 1, 3, 4, 4, 3, 2, 4]
HE_MATH = [2] * 12
A_AIME24, A_AIME25 = [1, 0], [4]
B_AIME24, B_AIME25 = [2, 1], [4]


def _compare_runs(tmp_path):
    def records(mode, math, aime24, aime25, entropy):
        return (samples_from_counts("math-500", mode, math, 4, entropy=entropy)
                + samples_from_counts("aime-24", mode, aime24, 4, entropy=entropy)
                + samples_from_counts("aime-25", mode, aime25, 4, entropy=entropy))

    a = write_eval_run(tmp_path / "A", records("normal", A_MATH, A_AIME24, A_AIME25, 2.0))
    b = write_eval_run(tmp_path / "B", records("normal", B_MATH, B_AIME24, B_AIME25, 3.0)
                       + records("high-entropy", HE_MATH, [0, 0], [0], 6.0))
    return a, b


@pytest.mark.parametrize("test", ["wilcoxon", "ttest", "permutation"])
def test_compare_by_hand_and_against_scipy(tmp_path, capsys, test):
    a, b = _compare_runs(tmp_path)
    code, out, _ = run_cli(["analyze", "compare", str(a), str(b), "--test", test, "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    rows = {r["label"]: r for r in data["rows"]}
    assert list(rows) == ["A", "B", "B +high-entropy"]
    assert data["columns"] == {"MATH-500": ["math-500"], "AIME-24/25": ["aime-24", "aime-25"]}
    assert data["missing_paper_columns"] == ["GPQA-Diamond", "MMLU-Pro"]
    # AIME-24/25 pools the 3 problems (not the mean of the two benchmarks): A (1/4 + 0 + 1)/3
    assert rows["A"]["columns"]["AIME-24/25"]["accuracy_pct"] == pytest.approx(100 * 1.25 / 3)
    assert rows["B"]["columns"]["AIME-24/25"]["accuracy_pct"] == pytest.approx(100 * 1.75 / 3)
    assert rows["A"]["columns"]["MATH-500"]["accuracy_pct"] == pytest.approx(100 * 29 / 48)
    assert rows["B"]["columns"]["MATH-500"]["accuracy_pct"] == pytest.approx(100 * 38 / 48)
    assert rows["B"]["average"]["accuracy_pct"] == pytest.approx((100 * 38 / 48 + 100 * 1.75 / 3) / 2)
    assert rows["B +high-entropy"]["average"]["entropy_bits"] == pytest.approx(0.6)
    # p-values: scipy called directly on the same per-problem accuracies.
    run_test = {"wilcoxon": lambda x, y: stats.wilcoxon(x, y).pvalue, "ttest": lambda x, y: stats.ttest_rel(x, y).pvalue,
                # sign flips leave zero differences alone; with them dropped these tests are exact
                "permutation": lambda x, y: stats.permutation_test(((x - y)[x != y],), np.mean, permutation_type="samples",
                                                                  n_resamples=np.inf).pvalue}[test]
    a_math, b_math, he_math = (np.array(c) / 4 for c in (A_MATH, B_MATH, HE_MATH))
    assert rows["B"]["columns"]["MATH-500"]["p_value"] == pytest.approx(run_test(b_math, a_math))
    assert rows["B +high-entropy"]["columns"]["MATH-500"]["p_value"] == pytest.approx(run_test(he_math, a_math))
    a_all = np.concatenate([a_math, np.array(A_AIME24 + A_AIME25) / 4])
    b_all = np.concatenate([b_math, np.array(B_AIME24 + B_AIME25) / 4])
    assert rows["B"]["average"]["p_value"] == pytest.approx(run_test(b_all, a_all))
    assert rows["B"]["columns"]["MATH-500"]["delta_pct"] == pytest.approx(100 * 9 / 48)
    assert rows["B"]["average"]["delta_pct"] == pytest.approx((100 * 9 / 48 + 100 * 0.5 / 3) / 2)
    assert "p_value" not in rows["A"]["columns"]["MATH-500"]


def test_compare_files_bold_and_marks(tmp_path, capsys):
    a, b = _compare_runs(tmp_path)
    out = tmp_path / "out"
    code, _, _ = run_cli(["analyze", "compare", str(a), f"{b}:normal", "--reference", str(a), "--out", str(out)], capsys)
    assert code == 0
    p_math = stats.wilcoxon(np.array(B_MATH) / 4, np.array(A_MATH) / 4).pvalue
    assert p_math < 0.01  # 9 positive differences, no negative one
    markdown = (out / "compare.md").read_text()
    # best per column in bold; a dagger (not "*", which runs into the bold) marks p < 0.01. B vs A:
    # MATH-500 9 of 12 problems better (p < 0.01), AIME-24/25 2 of 3 (p = 0.5), all 15 pooled 11 (p < 0.01).
    assert "| A | 60.42 | 0.20 | 41.67 | 0.20 | 51.04 | 0.20 |\n| B | **79.17†** | 0.30 | **58.33** | 0.30 | **68.75†** | 0.30 |\n" in markdown
    # the footnotes are paragraphs, not list items (a "- * p" line renders as a nested bullet)
    assert ("|\n\nAIME-24/25 pools the problems of aime-24, aime-25\n\n"
            "Average over MATH-500, AIME-24/25; missing paper columns: GPQA-Diamond, MMLU-Pro\n\n"
            "† p < 0.01 vs A: Wilcoxon signed-rank test") in markdown
    html = MarkdownIt("commonmark").enable("table").render(markdown)
    assert "<td><strong>79.17†</strong></td>" in html
    assert "<li>" not in html and "<p>† p &lt; 0.01 vs A: Wilcoxon" in html
    assert (out / "compare-pvalues.csv").read_text().startswith("model,MATH-500 dAcc,MATH-500 p,")
    with (out / "compare.csv").open() as handle:
        table = list(csv.reader(handle))
    assert table[0][:3] == ["model", "MATH-500 Acc", "MATH-500 Ent"]
    assert table[1][:3] == ["A", f"{100 * 29 / 48:.2f}", "0.20"]
    assert r"\textbf{79.17\textsuperscript{\dag}}" in (out / "compare.tex").read_text()
    assert json.loads((out / "manifest.json").read_text())["kind"] == "analyze"


def test_non_overlapping_runs_exit_2(tmp_path, capsys):
    a = write_eval_run(tmp_path / "A", samples_from_counts("arithmetic", "normal", [1, 2, 3], 4))
    b = write_eval_run(tmp_path / "B", samples_from_counts("arithmetic", "normal", [1, 2], 4))
    code, out, err = run_cli(["analyze", "compare", str(a), str(b)], capsys)
    assert code == 2 and out == ""
    assert "do not share problems of 'arithmetic'" in err and "--allow-partial" in err
    assert len(err.strip().splitlines()) == 1
    code, out, _ = run_cli(["analyze", "compare", str(a), str(b), "--allow-partial", "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert any("restricted to the 2 problems" in note for note in data["notes"])
    assert data["rows"][0]["columns"]["arithmetic"]["accuracy_pct"] == pytest.approx(100 * 3 / 8)


def test_ungraded_creative_samples(tmp_path, capsys):
    """Creative samples (correct: null) have entropy but no accuracy: '—' in compare, skipped by best-of-n."""
    records = []
    for mode in ("normal", "high-entropy"):
        records += samples_from_counts("arithmetic", mode, [1, 2], 2)
        records += [sample("creative", "s0", mode, i, None, tokens=10, entropy=9.0) for i in range(2)]
    run = write_eval_run(tmp_path / "run", records)
    code, out, _ = run_cli(["analyze", "compare", str(run), "--json"], capsys)
    assert code == 0
    row = json.loads(out)["rows"][1]
    assert row["columns"]["creative"]["accuracy_pct"] is None
    assert row["columns"]["creative"]["entropy_bits"] == pytest.approx(0.9)
    assert "p_value" not in row["columns"]["creative"]
    assert row["columns"]["arithmetic"]["accuracy_pct"] == pytest.approx(75.0)
    code, out, _ = run_cli(["analyze", "best-of-n", str(run), "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert [r["benchmark"] for r in data["rows"]] == ["arithmetic", "arithmetic"]
    assert any("creative skipped" in note for note in data["notes"])
