"""Results-folder I/O shared by every command: atomic JSON files and append-only JSONL logs.

A JSONL log is appended and flushed one record at a time, so a killed run loses at most the
record being written; reopening it drops that cut-off last line and reads everything before it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Any

from polsplit_cli.errors import UserError


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a kill never leaves half a manifest or summary)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def load_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest.json; None when it has none, a UserError when it is not a JSON object."""
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{manifest_path}: not valid JSON ({error})") from error
    if not isinstance(manifest, dict):
        raise UserError(f"{manifest_path}: expected a JSON object")
    return manifest


def read_manifest(folder: Path, *kinds: str) -> dict[str, Any]:
    """The folder's manifest.json, which must exist; with ``kinds``, refusing a folder of any other kind."""
    manifest = load_manifest(folder)
    if manifest is None:
        raise UserError(f"{folder}: no manifest.json (not a polsplit results folder)")
    if kinds and manifest.get("kind") not in kinds:
        expected = " or ".join(map(repr, kinds))
        raise UserError(f"{folder} is a '{manifest.get('kind')}' run (manifest kind), expected kind {expected}")
    return manifest


def package_version(name: str) -> str | None:
    """The installed version of a distribution, or None when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for every non-blank line, streamed; a bad line is a UserError naming
    file and line.

    A last line without its newline that does not parse was cut by a killed writer: it is skipped
    with a warning (as ``runfiles.JsonlLog`` does on resume), never repaired here (readers only read).
    """
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    count = 0
    with path.open(encoding="utf-8") as handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    if not line.endswith("\n"):  # only the last line can lack it: an interrupted write
                        print(f"warning: {path}:{number}: skipping an incomplete last line", file=sys.stderr)
                        continue
                    raise UserError(f"{path}:{number}: malformed JSON ({error.msg})") from error
                if not isinstance(record, dict):
                    raise UserError(f"{path}:{number}: expected a JSON object")
                count += 1
                yield number, record
        except UnicodeDecodeError as error:
            raise UserError(f"{path}: not UTF-8 text") from error
    if not count:
        raise UserError(f"{path}: no records")


def _repaired_text(path: Path) -> str:
    """The file's text, after cutting off a last line left incomplete by an interrupted write."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        print(f"warning: {path}: dropping an incomplete last line (interrupted write)", file=sys.stderr)
        with path.open("r+b") as handle:
            handle.truncate(keep)
        data = data[:keep]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text") from None


class JsonlLog:
    """An append-only JSONL results file, indexed by ``key(record)``; the last record of a key wins."""

    def __init__(self, path: Path, *, key: Callable[[dict[str, Any]], Hashable], what: str):
        self.path = path
        self._key = key
        self.records: dict[Hashable, dict[str, Any]] = {}
        if path.exists():
            for number, line in enumerate(_repaired_text(path).splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    self.records[key(record)] = record
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise UserError(f"{path}:{number}: not a {what} record") from None
        self._handle = path.open("a", encoding="utf-8")

    def append(self, record: dict[str, Any]) -> None:
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()
        self.records[self._key(record)] = record

    def close(self) -> None:
        self._handle.close()
