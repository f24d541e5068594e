"""Prompts, modes and the `polsplit modes` command."""

import subprocess
import sys

import pytest

from polsplit_cli import prompts
from polsplit_cli.modes import Mode, ModeError, builtin_modes, get_mode


def chat_messages(name: str, user_text: str) -> list[dict[str, str]]:
    """The messages of a mode looked up by name (modes.chat_messages was this one line)."""
    return get_mode(name).messages(user_text)


HE_START = 'You are now in the "High Entropy" mode. Your primary directive is to explore a unique thought process'


def test_builtin_modes_and_texts():
    modes = builtin_modes()
    assert list(modes) == ["normal", "high-entropy", "rewritten-high-entropy", "low-entropy"]
    assert modes["normal"].system is None
    assert modes["high-entropy"].system.startswith(HE_START)
    assert modes["high-entropy"].system.endswith("ensuring the final output is still precise and factually sound.")
    assert modes["rewritten-high-entropy"].system.startswith('Activate the "Maximum Variance" framework.')
    assert modes["low-entropy"].system.startswith('You are now in "Low Entropy" mode.')
    assert all("\n" not in m.system for m in modes.values() if m.system)


def test_messages_normal_has_no_system_turn():
    assert chat_messages("normal", "Q?") == [{"role": "user", "content": "Q?"}]
    he = chat_messages("high-entropy", "Q?")
    assert [m["role"] for m in he] == ["system", "user"]
    assert he[1] == {"role": "user", "content": "Q?"}


def test_user_mode_from_file(tmp_path):
    path = tmp_path / "pirate.txt"
    path.write_text("Answer like a pirate.\n")
    mode = get_mode(str(path))
    assert mode == Mode("pirate", "Answer like a pirate.")
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(ModeError, match="empty"):
        get_mode(str(tmp_path / "empty.txt"))
    with pytest.raises(ModeError, match="unknown mode 'nope'"):
        get_mode("nope")


def test_digest_distinguishes_texts():
    assert Mode("a", "x").digest == Mode("b", "x").digest
    assert Mode("a", "x").digest != Mode("a", "y").digest


def test_task_prompts_fill_placeholders_and_keep_boxed_braces():
    math = prompts.math_task("What is 2+3?")
    assert math == "Solve the following math problem. Put your final answer within \\boxed{}.\n\nWhat is 2+3?"
    choice = prompts.choice_task("Which?", ["red", "blue", "green"])
    assert choice.endswith("### Question\nWhich?\n\n### Choices\nA. red\nB. blue\nC. green")
    assert "within \\boxed{}." in choice
    with pytest.raises(ValueError):
        prompts.choice_task("Which?", ["only one"])


def test_story_prompts_and_rubric():
    stories = prompts.story_prompts()
    assert len(stories) == 13
    assert stories[0][1] == "Write a story about a mysterious door that appears in an unexpected place."
    assert stories[-1][0] == "13-lone-astronaut"
    rubric = prompts.judge_rubric()
    for name in ("Creativity", "Originality", "Narrative Flow", "Emotional Impact", "Imagery"):
        assert f"**{name}:** [Score]" in rubric
    assert rubric.count("{prompt}") == 1 and rubric.count("{story}") == 1


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "polsplit_cli.cli", *args], capture_output=True, text=True, timeout=60)


def test_cli_modes_show_and_error():
    shown = run_cli("modes", "show", "high-entropy")
    assert shown.returncode == 0
    assert shown.stdout.startswith(HE_START)
    listed = run_cli("modes")
    assert listed.returncode == 0 and "rewritten-high-entropy" in listed.stdout
    bad = run_cli("modes", "show", "nope")
    assert bad.returncode == 2
    assert "unknown mode 'nope'" in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
