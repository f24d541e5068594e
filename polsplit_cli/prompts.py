"""The paper's prompt texts (Appendix C), read from ``prompts/``.

Placeholders are filled with ``str.replace``, never ``str.format``: the task prompts
contain ``\\boxed{}``, whose braces ``format`` would misread.
"""

from __future__ import annotations

from polsplit_cli.resources import data_dir, prompt_text

CHOICE_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def math_task(query: str) -> str:
    """User turn for a math problem (MATH-500, AIME, DeepMath, the arithmetic task)."""
    return prompt_text("tasks/math.txt").replace("{query}", query)


def choice_task(question: str, options: list[str]) -> str:
    """User turn for a multiple-choice problem; options are lettered A, B, C, ..."""
    if not 2 <= len(options) <= len(CHOICE_LETTERS):
        raise ValueError(f"a multiple-choice question needs 2-{len(CHOICE_LETTERS)} options, got {len(options)}")
    choices = "\n".join(f"{CHOICE_LETTERS[i]}. {text}" for i, text in enumerate(options))
    return prompt_text("tasks/multiple_choice.txt").replace("{question}", question).replace("{choices}", choices)


def story_prompts() -> list[tuple[str, str]]:
    """The 13 creative-writing prompts as (id, text), in the paper's order."""
    folder = data_dir("prompts") / "creative" / "stories"
    return [(p.stem, p.read_text(encoding="utf-8").strip()) for p in sorted(folder.glob("*.txt"))]


def judge_rubric() -> str:
    """The creative-writing judge template with ``{prompt}`` and ``{story}`` placeholders."""
    return prompt_text("creative/judge_rubric.txt")
