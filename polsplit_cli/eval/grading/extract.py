"""Where the answer is: the answer region of a response, then its final ``\\boxed{...}``.

Everything here is linear-time string scanning, safe to run in-process on untrusted text
of any length.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_REGIONS = ("after-think", "whole", "auto")
DEFAULT_ANSWER_REGION = "after-think"  # the RL rewards' rule: a thought that never closed earns nothing
MAX_ANSWER_CHARS = 1000  # longer boxed contents are refused ("too-long"), never parsed
MAX_CONNECTOR_CHARS = 40  # "\quad \text{and} \quad" between two boxes of one answer

_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_BRACE = re.compile(r"\\[{}]|[{}]")  # escaped braces are skipped, bare ones counted
_BARE_TOKEN = re.compile(r" +([^\s$]+)")  # "\boxed 5"
# what may stand between the boxes of one answer: "\boxed{1}, \boxed{2}", "$\boxed{3}$ and $\boxed{4}$"
_CONNECTOR = re.compile(r"(?:\s|\$|,|;|\\quad|\\qquad|\\[,;: ]|\band\b|\bor\b|"
                        r"\\(?:text|mbox|textrm)\s*\{\s*(?:and|or|,)?\s*\})*")
_TEXT_WRAPPER = re.compile(r"\\(?:text|textbf|textrm|textit|textnormal|mathrm|mathbf|mbox)\s*\{([^{}]*)\}")
_ANSWER_PHRASE = re.compile(r"(?:the\s+)?(?:(?:final|correct|best)\s+)*(?:answer|option|choice)s?(?:\s+is)?\s*:?\s*",
                            re.I)
_CHOICE = re.compile(r"\(?([A-Za-z])\)?(?:[.,:;)]\s*.*|\s+.*)?", re.S)
_QUOTES = "\"'`*“”‘’ "


def region_text(response: str, region: str = DEFAULT_ANSWER_REGION) -> str | None:
    """The part of a response that holds its answer; None for a truncated thought.

    "after-think": after the last ``</think>``; none there means the thought never ended.
    "whole": the whole response (a model that does not think).
    "auto": after the last ``</think>`` if there is one; the whole response if there is no
    ``<think>`` tag at all; None if a ``<think>`` opened and never closed.
    """
    if region not in ANSWER_REGIONS:
        raise ValueError(f"answer_region must be one of {ANSWER_REGIONS}, got {region!r}")
    if region == "whole":
        return response
    cut = response.rfind(THINK_CLOSE)
    if cut >= 0:
        return response[cut + len(THINK_CLOSE) :]
    return response if region == "auto" and THINK_OPEN not in response else None


def _boxes(text: str) -> Iterator[tuple[int, int, str | None]]:
    """Top-level ``\\boxed{}``/``\\fbox{}``/``\\boxed X`` left to right as (start, end, content);
    content None for a box whose braces never close (it runs to the end of the text)."""
    position = 0
    while (found := _BOX.search(text, position)) is not None:
        after = found.end()
        if text.startswith("{", after):
            depth = 0
            for brace in _BRACE.finditer(text, after):
                depth += 1 if brace.group() == "{" else -1 if brace.group() == "}" else 0
                if depth == 0:
                    yield found.start(), brace.end(), text[after + 1 : brace.start()].strip()
                    position = brace.end()
                    break
            else:
                yield found.start(), len(text), None
                return
        elif (bare := _BARE_TOKEN.match(text, after)) is not None:
            yield found.start(), bare.end(), bare.group(1)
            position = bare.end()
        else:
            position = after


def _unbox(content: str) -> str:
    """``\\boxed{-2} \\text{ and } \\boxed{1}`` inside a box -> ``-2 \\text{ and } 1``."""
    parts, position = [], 0
    for start, end, inner in _boxes(content):
        if inner is not None:
            parts += [content[position:start], inner]
            position = end
    return "".join(parts) + content[position:]


def last_boxed(text: str) -> tuple[str | None, str]:
    """The final answer of ``text`` and a reason: the content of its last top-level box, together
    with the boxes just before it when only connectors (``,``, ``and``, ``\\quad``, ``$``) stand
    between them, joined by ", " (``\\boxed{2} and \\boxed{3}`` -> ``2, 3``).

    Only the last box decides: if its braces never close (a truncated answer) there is no
    answer ("unbalanced"), rather than falling back to an earlier, abandoned box.
    """
    boxes = list(_boxes(text))
    if not boxes:
        return None, "no-boxed"
    start, _, content = boxes[-1]
    if content is None:
        return None, "unbalanced"
    parts = [content]
    for earlier_start, earlier_end, earlier in reversed(boxes[:-1]):
        between = text[earlier_end:start]
        if len(between) > MAX_CONNECTOR_CHARS or not _CONNECTOR.fullmatch(between):
            break
        parts.insert(0, earlier)
        start = earlier_start
    return _unbox(", ".join(parts)), "ok"


def extract_answer(response: str, *, answer_region: str = DEFAULT_ANSWER_REGION,
                   require_think_close: bool | None = None) -> tuple[str | None, str]:
    """The boxed final answer of a response, or None with the reason ("no-think-close",
    "no-boxed", "unbalanced", "too-long"); the reason is "ok" when an answer was found.

    ``require_think_close`` is the older spelling: True is "after-think", False is "whole".
    """
    text = region_text(response, resolve_region(answer_region, require_think_close))
    if text is None:
        return None, "no-think-close"
    answer, reason = last_boxed(text)
    if answer is not None and len(answer) > MAX_ANSWER_CHARS:
        return None, "too-long"
    return answer, reason


def resolve_region(answer_region: str, require_think_close: bool | None) -> str:
    """The region named by either keyword; both given and different is an error."""
    if require_think_close is None:
        return answer_region
    legacy = "after-think" if require_think_close else "whole"
    if answer_region not in ("after-think", legacy):
        raise ValueError(f"require_think_close={require_think_close} contradicts answer_region={answer_region!r}")
    return legacy


def choice_letter(answer: str) -> str | None:
    """The option letter in a boxed answer: ``B``, ``(B)``, ``\\text{(B) } 4``, ``"C"``, ``B, which is
    cold.``, ``The answer is (B)`` -> ``"B"``; None when there is no single leading letter."""
    text = answer
    while (unwrapped := _TEXT_WRAPPER.sub(r"\1", text)) != text:
        text = unwrapped
    text = text.replace("$", "").strip(_QUOTES)
    if (phrase := _ANSWER_PHRASE.match(text)) is not None:
        text = text[phrase.end() :].strip(_QUOTES)
    match = _CHOICE.fullmatch(text)
    return match.group(1).upper() if match else None
