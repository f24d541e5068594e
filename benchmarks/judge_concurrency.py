"""Judge client throughput: 13 prompts x 8 stories x 3 judges against a loopback OpenAI-compatible
server that takes 200 ms per request, at --concurrency 1 and 16 (per judge). Prints wall times
and their ratio, measured in the same run.

    python benchmarks/judge_concurrency.py [--latency 0.2] [--stories 8] [--high 16]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "judge"))

from judge_server import JudgeServer  # noqa: E402

from polsplit_cli.judge.client import CallSettings, judge_all  # noqa: E402
from polsplit_cli.judge.presets import Judge  # noqa: E402
from polsplit_cli.prompts import story_prompts  # noqa: E402


def run(server: JudgeServer, judges: list[Judge], stories: list[tuple[str, str]], concurrency: int) -> tuple[float, int]:
    """Wall seconds to judge everything, and how many verdicts came back with scores."""
    jobs = {f"{judge.name}/{i}": (judge, prompt, story) for judge in judges for i, (prompt, story) in enumerate(stories)}
    scored = []
    settings = CallSettings(concurrency=concurrency, timeout=30.0)
    start = time.perf_counter()
    asyncio.run(judge_all(jobs, {j.name: "sk-bench" for j in judges}, settings,
                          lambda key, verdict: scored.append(verdict.scores is not None)))
    return time.perf_counter() - start, sum(scored)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--stories", type=int, default=8, help="stories per prompt")
    parser.add_argument("--high", type=int, default=16, help="the concurrency compared with 1")
    args = parser.parse_args()

    server = JudgeServer(latency=args.latency).start()
    try:
        judges = [Judge(name, "judge-test", server.url, None, {"temperature": 0.0})
                  for name in ("judge-a", "judge-b", "judge-c")]
        stories = [(text, f"Story {s} for {pid}.") for pid, text in story_prompts() for s in range(args.stories)]
        total = len(stories) * len(judges)
        run(server, judges[:1], stories[:4], 4)  # warm-up: the openai import and first connections stay out of the timings
        print(f"{len(stories)} stories x {len(judges)} judges = {total} requests, {args.latency * 1000:.0f} ms each")
        results = {}
        for concurrency in (1, args.high):
            server.max_in_flight = 0
            wall, ok = run(server, judges, stories, concurrency)
            results[concurrency] = wall
            print(f"concurrency {concurrency:>3} per judge: {wall:7.2f} s wall, {total / wall:6.1f} req/s, "
                  f"{ok}/{total} scored, max in flight at the server {server.max_in_flight}")
        print(f"speed-up concurrency {args.high} vs 1: {results[1] / results[args.high]:.1f}x "
              f"(ideal, latency alone: {len(stories) / math.ceil(len(stories) / args.high):.1f}x)")
        server.latency = 0.0
        floor, _ = run(server, judges, stories, args.high)
        print(f"CPU floor (same {total} requests, 0 ms latency, concurrency {args.high}): {floor:.2f} s "
              f"= {1000 * floor / total:.1f} ms per request for the SDK client and this in-process server")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
