"""Where the answer is: the text after the last ``</think>``, then its last ``\\boxed{...}``.

Everything here is linear-time string scanning, safe to run in-process on untrusted text
of any length.
"""

from __future__ import annotations

import re

THINK_CLOSE = "</think>"
MAX_ANSWER_CHARS = 1000  # longer boxed contents are refused ("too-long"), never parsed

_BOX_COMMANDS = ("\\boxed", "\\fbox")
_BRACE = re.compile(r"\\[{}]|[{}]")  # escaped braces are skipped, bare ones counted
_BARE_TOKEN = re.compile(r" +([^\s$]+)")  # "\boxed 5"
_TEXT_WRAPPER = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox)\s*\{([^{}]*)\}")
_CHOICE = re.compile(r"\(?([A-Za-z])\)?(?:[.:)]\s*.*|\s+.*)?", re.S)


def answer_region(response: str, *, require_think_close: bool = True) -> str | None:
    """The text after the last ``</think>``; None when it is missing and required (truncated output)."""
    cut = response.rfind(THINK_CLOSE)
    if cut < 0:
        return None if require_think_close else response
    return response[cut + len(THINK_CLOSE) :]


def last_boxed(text: str) -> tuple[str | None, str]:
    """Content of the last ``\\boxed{}``/``\\fbox{}``/``\\boxed X`` and a reason.

    Only the last box counts: if its braces never close (a truncated answer) there is no
    answer ("unbalanced"), rather than falling back to an earlier, abandoned box.
    """
    start = max(text.rfind(command) for command in _BOX_COMMANDS)
    if start < 0:
        return None, "no-boxed"
    after = start + len(_BOX_COMMANDS[0] if text.startswith(_BOX_COMMANDS[0], start) else _BOX_COMMANDS[1])
    if text.startswith("{", after):
        depth = 0
        for brace in _BRACE.finditer(text, after):
            token = brace.group()
            if token == "{":
                depth += 1
            elif token == "}":
                depth -= 1
                if depth == 0:
                    return text[after + 1 : brace.start()].strip(), "ok"
        return None, "unbalanced"
    bare = _BARE_TOKEN.match(text, after)
    if bare:
        return bare.group(1), "ok"
    return None, "no-boxed"


def extract_answer(response: str, *, require_think_close: bool = True) -> tuple[str | None, str]:
    """The boxed final answer of a response, or None with the reason ("no-think-close",
    "no-boxed", "unbalanced", "too-long"); the reason is "ok" when an answer was found."""
    region = answer_region(response, require_think_close=require_think_close)
    if region is None:
        return None, "no-think-close"
    answer, reason = last_boxed(region)
    if answer is not None and len(answer) > MAX_ANSWER_CHARS:
        return None, "too-long"
    return answer, reason


def choice_letter(answer: str) -> str | None:
    """The option letter in a boxed answer: ``B``, ``(B)``, ``\\text{B}``, ``B. text`` -> ``"B"``."""
    text = answer.strip().strip("$").strip()
    while (unwrapped := _TEXT_WRAPPER.fullmatch(text)) is not None:
        text = unwrapped.group(1).strip()
    match = _CHOICE.fullmatch(text)
    return match.group(1).upper() if match else None
