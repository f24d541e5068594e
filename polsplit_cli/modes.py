"""Modes: one model, several policies selected by the prompt (SPEC §1).

A mode is data — a name and an optional system text. ``normal`` has no system turn;
the others put their text in a ``system`` message before the same user turn.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from polsplit_cli.errors import UserError
from polsplit_cli.resources import prompt_text

NORMAL = "normal"
HIGH_ENTROPY = "high-entropy"
BUILTIN_SYSTEM_PROMPTS = {
    HIGH_ENTROPY: "modes/high-entropy.txt",
    "rewritten-high-entropy": "modes/rewritten-high-entropy.txt",
    "low-entropy": "modes/low-entropy.txt",
}
BUILTIN_NAMES = (NORMAL, *BUILTIN_SYSTEM_PROMPTS)


class ModeError(UserError, ValueError):
    """An unknown mode name or an unreadable mode file."""


def text_digest(text: str | None) -> str:
    """Short hash (sha256[:12]) of a prompt text, recorded in manifests; None hashes as ""."""
    return hashlib.sha256((text or "").encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Mode:
    name: str
    system: str | None = None

    def messages(self, user_text: str) -> list[dict[str, str]]:
        """Chat messages for this mode: an optional system turn, then the user turn."""
        head = [{"role": "system", "content": self.system}] if self.system is not None else []
        return [*head, {"role": "user", "content": user_text}]

    @property
    def digest(self) -> str:
        """Short hash of the system text, recorded in manifests so results name the exact prompt."""
        return text_digest(self.system)


def builtin_modes() -> dict[str, Mode]:
    """The four built-in modes, by name."""
    modes = {NORMAL: Mode(NORMAL)}
    for name, path in BUILTIN_SYSTEM_PROMPTS.items():
        modes[name] = Mode(name, prompt_text(path))
    return modes


def get_mode(spec: str) -> Mode:
    """A built-in mode by name, or a user mode from a text file (its name is the file stem)."""
    modes = builtin_modes()
    if spec in modes:
        return modes[spec]
    path = Path(spec)
    if path.is_file():
        text = path.read_text(encoding="utf-8").strip()
        if not text:
            raise ModeError(f"mode file {path} is empty")
        return Mode(path.stem, text)
    raise ModeError(f"unknown mode '{spec}': use one of {', '.join(BUILTIN_NAMES)} or a path to a text file")


_PROBE_SYSTEM, _PROBE_USER = "polsplit-probe-system-3f9a", "polsplit-probe-user-3f9a"  # texts no template holds


def template_system_text(tokenizer) -> str | None:
    """The system text a chat template adds by itself to a chat without a system turn, or None.

    Some templates (SmolLM2: "You are a helpful AI assistant named SmolLM, trained by Hugging
    Face"; Qwen2.5) do, so their normal mode is not "no system turn". Found by rendering the same
    user turn with and without a probe system turn: the template's own text is what stands where
    the probe stood. None also for a template that cannot render a system turn.
    """
    user = {"role": "user", "content": _PROBE_USER}
    try:
        bare, probed = (tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
                        for messages in ([user], [{"role": "system", "content": _PROBE_SYSTEM}, user]))
    except Exception:  # noqa: BLE001 - a template may refuse a system turn (raise_exception in Jinja)
        return None
    before, found, after = probed.partition(_PROBE_SYSTEM)
    if not found or not bare.startswith(before) or not bare.endswith(after) or len(bare) < len(before) + len(after):
        return None
    return bare[len(before) : len(bare) - len(after)].strip() or None
