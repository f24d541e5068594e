"""The judge client through the real openai SDK against a scripted loopback server."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from judge_server import GARBAGE_REPLY, RESPONSE_MODEL

from polsplit_cli.judge.client import CallSettings, JudgeAbort, JudgeCaller, judge_all, retry_delay
from polsplit_cli.judge.presets import Judge
from polsplit_cli.judge.rubric import REASK_TEXT, RUBRIC_NAMES

KEY = "sk-polsplit-client-test-7f3a9c"
EXPECTED = dict(zip(RUBRIC_NAMES, (7.0, 6.0, 8.0, 5.0, 9.0), strict=True))
FAST = CallSettings(concurrency=4, timeout=1.0, max_retries=3, max_reparse=2, backoff_base=0.02)


def judge_one(server, script: str, settings: CallSettings = FAST):
    judge = Judge("loopback", "judge-test", server.url, None, {"temperature": 0.0})

    async def run():
        caller = JudgeCaller(judge, KEY, settings)
        try:
            return await caller.judge_story("Write a story.", f"Once upon a time. [[script:{script}]]")
        finally:
            await caller.aclose()

    return asyncio.run(run())


@pytest.mark.parametrize("script", ["valid", "prose"])
def test_judge_client_parses_scores_and_records_metadata(judge_server, script):
    verdict = judge_one(judge_server, script)
    assert verdict.scores == EXPECTED
    assert (verdict.attempts, verdict.retries, verdict.asks, verdict.error) == (1, 0, 1, None)
    assert verdict.response_model == RESPONSE_MODEL
    assert verdict.request_id == "req-1"
    assert verdict.usage == {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    sent = judge_server.requests[0]
    assert sent["auth"] == f"Bearer {KEY}"
    assert sent["body"]["model"] == "judge-test" and sent["body"]["temperature"] == 0.0


def test_judge_client_reasks_after_garbage(judge_server):
    verdict = judge_one(judge_server, "garbage-then-valid")
    assert verdict.scores == EXPECTED
    assert (verdict.attempts, verdict.asks, verdict.retries) == (2, 2, 0)
    assert verdict.usage["total_tokens"] == 240  # both replies counted
    reask = judge_server.requests[1]["body"]["messages"]
    assert [m["role"] for m in reask] == ["user", "assistant", "user"]
    assert reask[1]["content"] == GARBAGE_REPLY and reask[2]["content"] == REASK_TEXT


def test_judge_client_reports_unparseable_as_failure_not_zero(judge_server):
    verdict = judge_one(judge_server, "garbage")
    assert verdict.scores is None  # no 0 anywhere
    assert verdict.asks == verdict.attempts == FAST.max_reparse + 1
    assert "without all five scores" in verdict.error
    assert verdict.raw == GARBAGE_REPLY


def test_judge_client_honours_retry_after(judge_server):
    start = time.perf_counter()
    verdict = judge_one(judge_server, "rate-limit")  # 429 with retry-after: 0.3, then OK
    assert time.perf_counter() - start >= 0.3
    assert verdict.scores == EXPECTED
    assert (verdict.attempts, verdict.retries) == (2, 1)


@pytest.mark.parametrize("script", ["server-error", "stall", "drop", "not-json"])
def test_judge_client_retries_transient_failures(judge_server, script):
    verdict = judge_one(judge_server, script)  # 500 / no answer in 1 s / socket closed / HTML body, then OK
    assert verdict.scores == EXPECTED
    assert (verdict.attempts, verdict.retries, verdict.error) == (2, 1, None)
    assert len(judge_server.requests) == 2


def test_judge_client_gives_up_after_max_retries(judge_server):
    verdict = judge_one(judge_server, "always-500")
    assert verdict.scores is None
    assert verdict.attempts == FAST.max_retries + 1 and verdict.retries == FAST.max_retries
    assert "HTTP 500" in verdict.error and "gave up after 4 attempts" in verdict.error


def test_judge_client_auth_failure_aborts_without_leaking_key(judge_server):
    with pytest.raises(JudgeAbort) as caught:
        judge_one(judge_server, "unauthorized")  # the server echoes the Authorization header back
    assert "HTTP 401" in str(caught.value)
    assert KEY not in str(caught.value)


def test_judge_client_respects_concurrency_per_judge(judge_server):
    judge_server.latency = 0.1
    judges = [Judge(name, "judge-test", judge_server.url, None, {}) for name in ("a", "b")]
    jobs = {f"{j.name}-{i}": (j, "Write a story.", f"story {j.name} {i}") for j in judges for i in range(12)}
    done = {}
    settings = CallSettings(concurrency=3, timeout=5.0)
    asyncio.run(judge_all(jobs, {"a": KEY, "b": KEY}, settings, lambda key, verdict: done.update({key: verdict})))
    assert set(done) == set(jobs)
    assert all(v.scores == EXPECTED for v in done.values())
    assert judge_server.max_in_flight <= 2 * 3  # 3 per judge
    assert judge_server.max_in_flight >= 4  # and both judges really ran at once


def test_judge_retry_delay_honours_server_headers_and_backs_off():
    settings = CallSettings(backoff_base=0.5, backoff_max=4.0)
    assert retry_delay(1, {"retry-after-ms": "250"}, settings) == pytest.approx(0.25)
    assert retry_delay(1, {"retry-after": "2"}, settings) == pytest.approx(2.0)
    assert retry_delay(1, {"retry-after": "100000"}, settings) == pytest.approx(120.0)  # capped
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= retry_delay(1, {"retry-after": date}, settings) <= 31
    rng = random.Random(0)
    # no header: base * 2**(attempt-1), capped at backoff_max, minus up to 25% jitter
    for attempt, full in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)):
        delay = retry_delay(attempt, None, settings, rng)
        assert 0.75 * full <= delay <= full
