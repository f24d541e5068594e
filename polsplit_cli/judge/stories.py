"""Read the stories to judge: any ``{"prompt", "story"}`` JSONL, or the evaluator's samples.jsonl.

Every bad line is a UserError naming the file, the line and the field. A story that is empty,
still inside its ``<think>`` block, or looks like an API/error string is *flagged* — kept out
of judging and diversity and listed in the summary — rather than scored as if it were a story.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from polsplit_cli.errors import UserError
from polsplit_cli.prompts import story_prompts
from polsplit_cli.runfiles import load_manifest, read_jsonl

UNSET = "-"

# Starts of texts that are error messages or HTTP bodies, not stories (compared lowercased).
_ERROR_STARTS = (
    "error code:",
    "error:",
    "traceback (most recent call last)",
    '{"error"',
    "<!doctype html",
    "<html",
    "openai.",
    "apierror",
    "apiconnectionerror",
    "apitimeouterror",
    "ratelimiterror",
    "internal server error",
    "service unavailable",
    "bad gateway",
    "gateway timeout",
    "request timed out",
    "connection error",
    "rate limit exceeded",
)
_THINK_END = re.compile(r"</think>", re.IGNORECASE)


@dataclass(frozen=True)
class Story:
    """One story with its identity; ``flag`` says why it is not judged (None when it is)."""

    prompt: str
    story: str
    model: str
    mode: str
    prompt_id: str
    sample: int
    line: int
    flag: str | None = None

    def identity(self) -> dict:
        return {"model": self.model, "mode": self.mode, "prompt_id": self.prompt_id, "sample": self.sample}


def story_flag(text: str) -> str | None:
    """Why a text should not be judged as a story, or None."""
    stripped = text.strip()
    if not stripped:
        return "empty story"
    head = stripped[:80].lower()
    for start in _ERROR_STARTS:
        if head.startswith(start):
            return f"looks like an error message ({stripped[:60]!r})"
    return None


def strip_thinking(text: str) -> tuple[str, str | None]:
    """The answer after a reasoning model's ``</think>``; a flag when the thinking never ended."""
    ends = list(_THINK_END.finditer(text))
    if ends:
        return text[ends[-1].end() :].strip(), None
    if "<think>" in text.lower():
        return "", "no story: the response ended inside <think>"
    return text.strip(), None


def _field(record: dict, name: str, kind: type | tuple[type, ...], where: str, *, required: bool = True):
    if name not in record or record[name] is None:
        if required:
            raise UserError(f"{where}: missing field '{name}'")
        return None
    value = record[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        wanted = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise UserError(f"{where}: field '{name}' must be {wanted}, got {type(value).__name__}")
    return value


def resolve_input(path: Path) -> Path:
    """A JSONL file, or an eval run folder (its samples.jsonl; a folder of another kind is refused)."""
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    if path.is_dir():
        manifest = load_manifest(path)
        if manifest is not None:
            kind = manifest.get("kind")
            if kind != "eval":
                raise UserError(f"{path}: a '{kind}' run folder; polsplit judge reads an eval run or a JSONL file")
        samples = path / "samples.jsonl"
        if not samples.is_file():
            raise UserError(f"{path}: folder has no samples.jsonl")
        return samples
    return path


def load_stories(path: Path) -> list[Story]:
    """All stories in ``path`` (file or eval run folder), in file order; sample numbers fill in per group."""
    return read_stories(resolve_input(Path(path)))


def read_stories(source: Path) -> list[Story]:
    """All stories in the JSONL file ``source`` (as ``resolve_input`` returns it), in file order."""
    creative = _creative_benchmarks(source)
    stories: list[Story] = []
    next_sample: dict[tuple[str, str, str], int] = {}
    seen: dict[tuple, int] = {}
    for number, record in read_jsonl(source):
        story = _read_record(record, source, number, next_sample, creative)
        if story is None:
            continue
        key = (story.model, story.mode, story.prompt_id, story.sample)
        if key in seen:
            raise UserError(
                f"{source}:{number}: duplicate story (model={story.model}, mode={story.mode}, "
                f"prompt_id={story.prompt_id}, sample={story.sample}) first seen on line {seen[key]}"
            )
        seen[key] = number
        stories.append(story)
    if not stories:
        raise UserError(f"{source}: no stories (expected {{'prompt', 'story'}} records or creative eval samples)")
    return stories


def _creative_benchmarks(samples: Path) -> set[str]:
    """"creative" plus any custom benchmark the eval manifest beside samples.jsonl marks as creative."""
    names = {"creative"}
    try:
        manifest = load_manifest(samples.parent) or {}
        names |= {name for name, info in manifest.get("benchmarks", {}).items() if info.get("kind") == "creative"}
    except (UserError, OSError, AttributeError):
        pass  # no (readable) eval manifest: only the built-in benchmark
    return names


def _read_record(record: dict, source: Path, number: int, next_sample: dict, creative: set[str]) -> Story | None:
    """The story in one record (line ``number`` of ``source``); None for a non-creative eval sample."""
    where = f"{source}:{number}"
    if "benchmark" in record:  # the evaluator's samples.jsonl
        if _field(record, "benchmark", str, where) not in creative:
            return None
        prompt = _field(record, "question", str, where)
        text = _field(record, "response", str, where)
        model = _field(record, "model", str, where)
        mode = _field(record, "mode", str, where)
        sample = _field(record, "sample", int, where)
        prompt_id = str(_field(record, "problem_id", (str, int), where))
    else:
        prompt = _field(record, "prompt", str, where)
        text = _field(record, "story", str, where)
        model = _field(record, "model", str, where, required=False) or UNSET
        mode = _field(record, "mode", str, where, required=False) or UNSET
        sample = _field(record, "sample", int, where, required=False)
        prompt_id = _field(record, "prompt_id", (str, int), where, required=False)
        prompt_id = str(prompt_id) if prompt_id is not None else _default_prompt_id(prompt)
    if not prompt.strip():
        raise UserError(f"{where}: field '{'question' if 'benchmark' in record else 'prompt'}' is empty")
    group = (model, mode, prompt_id)
    if sample is None:
        sample = next_sample.get(group, 0)
    next_sample[group] = max(next_sample.get(group, 0), sample + 1)
    text, flag = strip_thinking(text)
    flag = flag or story_flag(text)
    return Story(prompt, text, model, mode, prompt_id, sample, number, flag)


@cache
def _shipped_prompt_ids() -> dict[str, str]:
    return {text: story_id for story_id, text in story_prompts()}


def _default_prompt_id(prompt: str) -> str:
    """The shipped story id when the prompt is one of the paper's 13, else a short hash of the text."""
    shipped = _shipped_prompt_ids().get(prompt.strip())
    return shipped or "p-" + hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:10]
