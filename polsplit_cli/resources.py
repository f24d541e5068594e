"""Locate the shipped data folders (prompts/, configs/) from a checkout or an installed wheel.

In a checkout (and an editable install) they sit at the repository root, beside the
package; a built wheel carries them inside the package as ``polsplit_cli/_data/``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the folder ``name`` ("prompts" or "configs") wherever this install keeps it."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"polsplit data folder '{name}' not found (broken install?)")


def prompt_text(relative: str) -> str:
    """Text of ``prompts/<relative>``, without the trailing newline the files end with."""
    return (data_dir("prompts") / relative).read_text(encoding="utf-8").rstrip("\n")


def config_path(relative: str) -> Path:
    """Path of ``configs/<relative>``."""
    return data_dir("configs") / relative
