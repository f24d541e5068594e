"""The creative-writing judge rubric (paper Appendix C.3) and the parser for the judge's reply.

The reply is untrusted text: it is read with bounded regular expressions only (no eval, no
nested quantifiers), and a reply that does not hold all five scores parses to None, never 0.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache

from polsplit_cli.prompts import judge_rubric

RUBRIC_NAMES = ("Creativity", "Originality", "Narrative Flow", "Emotional Impact", "Imagery")

# Sent after an unreadable reply (with that reply as the assistant turn) before giving up on a story.
REASK_TEXT = (
    "Your reply could not be read. Reply with exactly these five lines and nothing else, "
    "each score a number from 0 to 10:\n"
    + "\n".join(f"* **{name}:** [Score]" for name in RUBRIC_NAMES)
)

# Replies longer than this are cut (head and tail kept) before parsing, so parsing time stays bounded.
MAX_PARSE_CHARS = 50_000

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_NUMBER = r"(?P<value>[+-]?\d{1,6}(?:\.\d{1,6})?)(?:\s{0,3}(?:/|out\s+of)\s{0,3}(?P<scale>\d{1,6}(?:\.\d{1,6})?))?"
# Between the name and its number: markdown (** _ #), an optional "(...)" gloss, ":" or "=",
# quotes (JSON keys), and an optional "Score:" / "[" — all bounded.
_SEP = r"(?:[\s*_#:=\"'–—]|-(?=\s))"  # a hyphen only as a separator ("- 8"), never the sign of "-1"
_GAP = rf"{_SEP}{{0,12}}(?:\([^()\n]{{0,120}}\))?{_SEP}{{0,12}}(?:score\s{{0,3}}[:=]?\s{{0,3}})?[\[(]?\s{{0,3}}"


def _name_pattern(name: str) -> re.Pattern[str]:
    words = r"[\s_*-]{1,4}".join(re.escape(word) for word in name.split())
    return re.compile(rf"(?<![A-Za-z]){words}(?![A-Za-z]){_GAP}{_NUMBER}", re.IGNORECASE)


_PATTERNS = {name: _name_pattern(name) for name in RUBRIC_NAMES}


@cache
def rubric_template() -> str:
    """The Appendix C.3 template, with ``{prompt}`` and ``{story}`` placeholders."""
    return judge_rubric()


@cache
def rubric_version() -> str:
    """sha256[:16] of the template and the re-ask text: changes whenever what the judge is asked changes."""
    return hashlib.sha256((rubric_template() + "\x00" + REASK_TEXT).encode("utf-8")).hexdigest()[:16]


def render_rubric(prompt: str, story: str) -> str:
    """The user turn for one story (str.replace, so braces in stories are safe; story last so a
    story that happens to contain ``{prompt}`` is not rewritten)."""
    return rubric_template().replace("{prompt}", prompt).replace("{story}", story)


def parse_scores(text: str) -> dict[str, float] | None:
    """The five rubric scores (0-10) in a judge reply, or None unless all five are there and in range.

    Accepts markdown bold and bullets, ``8/10`` (other denominators are rescaled to 10), ``Score: 8``,
    decimals, JSON-style keys and prose around the scores; ``<think>`` blocks are ignored. When a name
    occurs with a score more than once, the last one counts (the verdict after any discussion).
    """
    if not isinstance(text, str):
        return None
    if len(text) > MAX_PARSE_CHARS:
        half = MAX_PARSE_CHARS // 2
        text = text[:half] + "\n" + text[-half:]
    text = _THINK_BLOCK.sub(" ", text)
    scores: dict[str, float] = {}
    for name, pattern in _PATTERNS.items():
        matches = list(pattern.finditer(text))
        if not matches:
            return None
        value = float(matches[-1]["value"])
        if matches[-1]["scale"] is not None:
            scale = float(matches[-1]["scale"])
            if scale <= 0:
                return None
            value = value * 10.0 / scale
        if not 0.0 <= value <= 10.0:
            return None
        scores[name] = value
    return scores
