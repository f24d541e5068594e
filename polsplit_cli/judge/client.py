"""Ask a judge to score stories: openai's AsyncOpenAI with our own retry loop.

The SDK's retries are off (``max_retries=0``) so every HTTP attempt is counted here. Transient
errors (connection drops, timeouts, 408/409/429/5xx) are retried with exponential backoff and
jitter, honouring ``retry-after-ms`` / ``retry-after``. A reply without all five scores is
re-asked (the bad reply goes back as the assistant turn, followed by ``REASK_TEXT``) up to
``max_reparse`` times, then reported as a failure — never scored 0. 401/403/404 stop the run:
every later request would fail the same way. The API key is scrubbed from every error text.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from polsplit_cli.judge.presets import Judge
from polsplit_cli.judge.rubric import REASK_TEXT, parse_scores, render_rubric

RETRY_STATUSES = frozenset({408, 409, 429})
FATAL_STATUSES = frozenset({401, 403, 404})
MAX_RETRY_AFTER_S = 120.0
ERROR_CHARS = 300


@dataclass(frozen=True)
class CallSettings:
    """How hard to try: ``concurrency`` is the most requests in flight per judge."""

    concurrency: int = 8
    timeout: float = 120.0
    max_retries: int = 6
    max_reparse: int = 2
    backoff_base: float = 0.5
    backoff_max: float = 30.0

    def describe(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Verdict:
    """The outcome of judging one story with one judge (``scores`` None means failure, see ``error``)."""

    scores: dict[str, float] | None = None
    raw: str | None = None
    attempts: int = 0  # HTTP requests sent
    retries: int = 0  # requests sent again after a transient error
    asks: int = 0  # replies received (1 + re-asks)
    response_model: str | None = None
    request_id: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    error: str | None = None


class JudgeAbort(Exception):
    """An error that every request to this judge would hit (bad key, no such model or endpoint)."""


class _GaveUp(Exception):
    """The retries for one request are spent."""


def retry_delay(attempt: int, headers: Any, settings: CallSettings, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): the server's retry-after when it
    gives one (capped at 120 s), else base * 2**(attempt-1) capped at backoff_max, minus up to 25% jitter."""
    server = _retry_after(headers)
    if server is not None:
        return min(server, MAX_RETRY_AFTER_S)
    delay = min(settings.backoff_base * 2 ** (attempt - 1), settings.backoff_max)
    return delay * (1.0 - 0.25 * (rng or random).random())


def _retry_after(headers: Any) -> float | None:
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            parsed = email.utils.parsedate_tz(value) if divisor == 1.0 else None
            if parsed is None:
                continue
            seconds = email.utils.mktime_tz(parsed) - time.time()
        if seconds >= 0 and seconds == seconds:  # not NaN
            return seconds
    return None


def _add_usage(total: dict[str, int], usage: Any) -> None:
    if usage is None:
        return
    for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
        total[name] = total.get(name, 0) + int(getattr(usage, name, 0) or 0)
    details = getattr(usage, "completion_tokens_details", None)
    reasoning = getattr(details, "reasoning_tokens", None) if details is not None else None
    if reasoning:
        total["reasoning_tokens"] = total.get("reasoning_tokens", 0) + int(reasoning)


class JudgeCaller:
    """One judge's client, concurrency limit and retry policy."""

    def __init__(self, judge: Judge, api_key: str, settings: CallSettings):
        from openai import AsyncOpenAI

        self.judge = judge
        self.settings = settings
        self._secret = api_key
        self._client = AsyncOpenAI(
            api_key=api_key, base_url=judge.base_url, max_retries=0, timeout=settings.timeout
        )
        self._semaphore = asyncio.Semaphore(settings.concurrency)

    async def aclose(self) -> None:
        await self._client.close()

    def redact(self, text: str) -> str:
        """``text`` without the API key, cut to ERROR_CHARS (for error messages that get recorded)."""
        text = text.replace(self._secret, "[redacted]") if self._secret else text
        return text if len(text) <= ERROR_CHARS else text[:ERROR_CHARS] + "..."

    async def judge_story(self, prompt: str, story: str) -> Verdict:
        """Score one story; failures come back in ``Verdict.error`` (only JudgeAbort is raised)."""
        verdict = Verdict()
        messages = [{"role": "user", "content": render_rubric(prompt, story)}]
        for ask in range(self.settings.max_reparse + 1):
            try:
                completion, headers = await self._request(messages, verdict)
            except _GaveUp as exc:
                verdict.error = str(exc)
                return verdict
            verdict.asks += 1
            choice = completion.choices[0] if completion.choices else None
            verdict.raw = (choice.message.content if choice is not None else None) or ""
            verdict.response_model = completion.model
            verdict.request_id = getattr(completion, "_request_id", None) or headers.get("x-request-id")
            _add_usage(verdict.usage, completion.usage)
            verdict.scores = parse_scores(verdict.raw)
            if verdict.scores is not None:
                verdict.error = None
                return verdict
            finish = getattr(choice, "finish_reason", None)
            verdict.error = f"reply without all five scores after {ask + 1} ask(s) (finish_reason={finish})"
            if verdict.raw.strip():
                messages = [
                    messages[0],
                    {"role": "assistant", "content": verdict.raw},
                    {"role": "user", "content": REASK_TEXT},
                ]
        return verdict

    async def _request(self, messages: list[dict], verdict: Verdict) -> tuple[Any, Any]:
        """One chat completion, retried on transient errors; returns (completion, response headers)."""
        import openai

        attempt = 0
        while True:
            attempt += 1
            headers = None
            verdict.attempts += 1
            try:
                async with self._semaphore:
                    raw = await self._client.chat.completions.with_raw_response.create(
                        model=self.judge.model, messages=messages, **self.judge.params
                    )
                completion = raw.parse()
                if hasattr(completion, "choices"):
                    return completion, raw.headers
                error = f"malformed response: not a chat completion ({self.redact(str(completion))})"
            except openai.APIStatusError as exc:
                status = exc.status_code
                if status in FATAL_STATUSES:
                    body = "" if status == 401 else f": {self.redact(str(exc.message))}"
                    raise JudgeAbort(
                        f"judge '{self.judge.name}' at {self.judge.base_url}: HTTP {status}{body}"
                    ) from None
                error = f"HTTP {status}: {self.redact(str(exc.message))}"
                if status not in RETRY_STATUSES and status < 500:
                    raise _GaveUp(error) from None
                headers = exc.response.headers
            except openai.APITimeoutError:
                error = f"timed out after {self.settings.timeout:g} s"
            except openai.APIConnectionError as exc:
                error = f"connection error: {self.redact(str(exc.__cause__ or exc))}"
            except openai.APIResponseValidationError as exc:
                error = f"malformed response: {self.redact(str(exc))}"
            if attempt > self.settings.max_retries:
                raise _GaveUp(f"{error} (gave up after {attempt} attempts)")
            verdict.retries += 1
            await asyncio.sleep(retry_delay(attempt, headers, self.settings))


async def judge_all(
    jobs: Mapping[str, tuple[Judge, str, str]],
    api_keys: Mapping[str, str],
    settings: CallSettings,
    finished: Callable[[str, Verdict], None],
) -> None:
    """Judge every job (key -> (judge, prompt, story)) concurrently, calling ``finished(key, verdict)``
    as each completes; a JudgeAbort from any judge cancels the rest and is raised."""
    judges = {judge.name: judge for judge, _, _ in jobs.values()}
    callers = {name: JudgeCaller(judge, api_keys[name], settings) for name, judge in judges.items()}

    async def one(key: str, judge: Judge, prompt: str, story: str) -> None:
        caller = callers[judge.name]
        try:
            verdict = await caller.judge_story(prompt, story)
        except JudgeAbort:
            raise
        except Exception as exc:  # one odd reply must not sink the batch: record it as a failure
            verdict = Verdict(error=caller.redact(f"unexpected {type(exc).__name__}: {exc}"))
        finished(key, verdict)

    try:
        async with asyncio.TaskGroup() as group:
            for key, (judge, prompt, story) in jobs.items():
                group.create_task(one(key, judge, prompt, story))
    except* JudgeAbort as aborted:
        raise aborted.exceptions[0] from None
    finally:
        for caller in callers.values():
            await caller.aclose()
