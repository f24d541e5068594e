"""Grading throughput: the combined grader against the PRM800K-only path, on one RL reward batch.

4,096 answers (a training step's reward batch at 256 questions x 16 responses) in a mix that is
realistic for RL rewards on math: 70% decided by the PRM800K path's in-process string pass, 25%
needing sympy in a worker, 5% hostile; about 60% right. Every response carries a ~2 kB reasoning
trace before ``</think>``. Both graders run ``grade_many`` on the same answers, each run with
fresh workers started before the clock (start-up is reported apart); ``--one-at-a-time`` adds
``grade`` called per answer, as verl's reward function does.

    python benchmarks/grading.py [--n 4096] [--workers N] [--timeout 5] [--repeats 5] [--one-at-a-time]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter

from polsplit_cli.eval.grading import grade, grade_many
from polsplit_cli.eval.grading.normalize import hendrycks_normalize, normalize
from polsplit_cli.eval.grading.pool import default_workers, shared_pool

HOSTILE = [r"9^{9^{9^{9}}}", r"10**10**10", r"__import__('os').system('echo pwned')", "{" * 400 + "1" + "}" * 400,
           r"(10^{1000})^{1000}", "x" * 900, r"\frac" * 150 + "12", "(" * 5000 + ")" * 5000]


def _string_pair(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(1, 99), rng.randint(2, 99)
    right = rng.random() < 0.6
    shift = 0 if right else rng.randint(1, 5)
    return rng.choice([
        (str(a), f"{a + shift:03d}"),
        (rf"\frac{{{a}}}{{{b}}}", rf"\dfrac{{{a + shift}}}{{{b}}}"),
        (str(a), f"x = {a + shift}"),
        (f"({a},{b})", f"({a + shift}, {b})"),
        (str(a * 1000), f"{(a + shift) * 1000:,}"),
        (rf"{a}^\circ", str(a + shift)),
    ])


def _sympy_pair(rng: random.Random) -> tuple[str, str]:
    k, a = rng.choice([2, 3, 5, 6, 7]), rng.randint(2, 9)
    right = rng.random() < 0.6
    shift = 0 if right else 1
    return rng.choice([
        (rf"{a}\sqrt{{{k}}}", rf"\sqrt{{{a * a * k + shift}}}"),
        (rf"\frac{{{a}}}{{8}}", str(a / 8 + shift)),
        (rf"x^2+{2 * a}x+{a * a + shift}", rf"(x+{a})^2"),
        (rf"\frac{{\pi}}{{{a}}}", rf"\frac{{{1 + shift}}}{{{a}}}\pi"),
    ])


def make_items(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    trace = "<think>" + "Let me reason about this step by step. " * 50 + "</think>"
    items = []
    for index in range(n):
        roll = rng.random()
        if roll < 0.70:
            gold, pred = _string_pair(rng)
        elif roll < 0.95:
            gold, pred = _sympy_pair(rng)
        else:
            gold, pred = r"\sqrt{2}", HOSTILE[index % len(HOSTILE)]
        items.append((f"{trace}The answer is $\\boxed{{{pred}}}$.", gold))
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--one-at-a-time", action="store_true", help="also time grade() per answer (slow)")
    args = parser.parse_args()
    items = make_items(args.n)

    start = time.perf_counter()
    grade_many(items[: 2 * args.workers], workers=args.workers, timeout=args.timeout)  # start the pool's workers
    grade(*items[0], timeout=args.timeout)  # and grade()'s single worker
    print(f"worker start-up (both pools): {time.perf_counter() - start:.2f} s")

    graders = ("prm800k", "combined")
    times: dict[str, list[float]] = {grader: [] for grader in graders}
    grades: dict[str, list] = {}
    for repeat in range(args.repeats):
        # fresh answers each repeat, fresh workers and empty in-process caches for each run, the graders
        # in alternating order: neither grader runs on what the other has cached (sympy caches inside the
        # workers too), and a busy spell on a shared machine hits both
        batch = items if repeat == 0 else make_items(args.n, seed=repeat)
        for grader in graders if repeat % 2 == 0 else graders[::-1]:
            shared_pool(args.workers).close()
            grade_many(make_items(2 * args.workers, seed=-1 - repeat), workers=args.workers)  # start them
            normalize.cache_clear()
            hendrycks_normalize.cache_clear()
            start = time.perf_counter()
            result = grade_many(batch, workers=args.workers, timeout=args.timeout, grader=grader)
            times[grader].append(time.perf_counter() - start)
            if repeat == 0:
                grades[grader] = result
    seconds = {grader: statistics.median(times[grader]) for grader in graders}
    for grader in graders:
        reasons = Counter(g.reason for g in grades[grader])
        correct = sum(g.correct for g in grades[grader])
        print(f"{grader:9} grade_many ({args.workers} workers): median {seconds[grader]:6.2f} s of {args.repeats} "
              f"{len(items) / seconds[grader]:8.1f} answers/s  first batch: correct {correct}/{len(items)}  "
              f"reasons {dict(sorted(reasons.items()))}")
    ratios = [c / p for p, c in zip(times["prm800k"], times["combined"], strict=True)]
    print(f"ratio at {len(items)} answers (combined time / prm800k time): {seconds['combined'] / seconds['prm800k']:.2f}x "
          f"(per repeat: {', '.join(f'{r:.2f}' for r in ratios)})")
    gained = sum(c.correct and not p.correct for p, c in zip(grades["prm800k"], grades["combined"], strict=True))
    lost = sum(p.correct and not c.correct for p, c in zip(grades["prm800k"], grades["combined"], strict=True))
    print(f"combined vs prm800k verdicts: {gained} more correct, {lost} fewer")
    if args.one_at_a_time:
        start = time.perf_counter()
        for response, gold in items:
            grade(response, gold, timeout=args.timeout)
        single_s = time.perf_counter() - start
        print(f"combined grade one at a time: {single_s:6.2f} s {len(items) / single_s:8.1f} answers/s")


if __name__ == "__main__":
    main()
