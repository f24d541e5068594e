"""Results-folder I/O shared by every command: the run-folder convention, manifests, atomic JSON
files and append-only JSONL logs.

Every command writes into ``--out`` (default ``new_run_dir``: ``runs/<command>-<local time>``) a
``manifest.json`` that starts with ``manifest_header`` (docs/formats.md: ``schema``, ``kind``,
``command``, ``commands``, ``created``, ``versions``), and refuses with ``check_out_dir`` a folder
holding another kind of results, so no command clobbers another's.

A JSONL log is appended and flushed one record at a time, so a killed run loses at most the
record being written; reopening it drops that cut-off last line and reads everything before it.
"""

from __future__ import annotations

import json
import platform
import shlex
import sys
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from pathlib import Path
from typing import Any

from polsplit_cli import __version__
from polsplit_cli.errors import UserError

RUNS_DIR = Path("runs")
MANIFEST_FILE = "manifest.json"
# 1: the common header (schema, kind, command as argv, commands, created, versions). Manifests
# without ``schema`` (0) are read as 1: see ``_upgrade``.
MANIFEST_SCHEMA = 1


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a kill never leaves half a manifest or summary)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def new_run_dir(prefix: str) -> Path:
    """``runs/<prefix>-<YYYYmmdd-HHMMSS>``, the default ``--out`` of every command (not created);
    ``-2``, ``-3``, ... appended when a run of the same second already took the name."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder, suffix = RUNS_DIR / f"{prefix}-{stamp}", 1
    while folder.exists():
        suffix += 1
        folder = RUNS_DIR / f"{prefix}-{stamp}-{suffix}"
    return folder


def chosen_run_dir(out: Path | None, resume: Path | None) -> Path | None:
    """The folder of ``--resume RUN_DIR`` (an ``--out`` naming the same folder is allowed), else ``--out``."""
    if resume is None:
        return out
    if str(resume).startswith("-"):
        raise UserError(f"--resume takes the run folder to continue (--resume RUN_DIR), got '{resume}'")
    if out is not None and out.resolve() != resume.resolve():
        raise UserError("--out and --resume name the run folder twice: give one (--resume RUN_DIR)")
    if not resume.is_dir():
        raise UserError(f"--resume {resume}: no such run folder")
    return resume


def command_line() -> list[str]:
    """This invocation as argv, named as a user types it (``polsplit ...``, whatever the entry path)."""
    return ["polsplit", *sys.argv[1:]]


def utc_now() -> str:
    """The one timestamp format of manifests and records: UTC, seconds, ``Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def package_versions(packages: Iterable[str] = ()) -> dict[str, str | None]:
    """Python, polsplit and each of ``packages`` (None when not installed), for a manifest."""
    return {"python": platform.python_version(), "polsplit": __version__,
            **{name: package_version(name) for name in packages}}


def manifest_header(kind: str, packages: Iterable[str] = (), previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The fields every manifest starts with (docs/formats.md), for this invocation.

    ``previous`` is the manifest of the run this invocation continues (``--resume``): ``command`` and
    ``created`` stay those of the invocation that made the folder, ``commands`` gains this one.
    """
    previous = previous or {}
    now = command_line()
    return {
        "schema": MANIFEST_SCHEMA,
        "kind": kind,
        "command": previous.get("command", now),
        "commands": [*previous.get("commands", []), now],
        # None: a run made before manifests recorded the time (continuing it does not make it new)
        "created": previous.get("created") if previous else utc_now(),
        "versions": package_versions(packages),
    }


def _argv(command: Any) -> Any:
    """An old manifest's command line, a joined string in eval and prepare manifests, as argv."""
    if not isinstance(command, str):
        return command
    try:
        return shlex.split(command)
    except ValueError:  # joined without quoting: an unbalanced quote in an argument
        return command.split()


def _upgrade(manifest: dict[str, Any]) -> dict[str, Any]:
    """A manifest in today's schema: older ones (no ``schema``) get the header's key names and forms."""
    if "schema" in manifest:
        return manifest
    upgraded = dict(manifest)
    launches = upgraded.get("launches")
    if "command" not in upgraded and isinstance(launches, list) and launches:  # verl runs: one per launch
        upgraded["commands"] = [launch.get("command") for launch in launches]
        upgraded["command"] = upgraded["commands"][0]
    if "command" in upgraded:
        upgraded["command"] = _argv(upgraded["command"])
        upgraded.setdefault("commands", [upgraded["command"]])
    if "started_at" in upgraded:  # judge manifests named their creation time so
        upgraded.setdefault("created", upgraded.pop("started_at"))
    return upgraded


def load_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest.json in today's schema (older ones upgraded on reading); None when it
    has none, a UserError when it is not a JSON object or comes from a newer polsplit."""
    manifest_path = folder / MANIFEST_FILE
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{manifest_path}: not valid JSON ({error})") from error
    if not isinstance(manifest, dict):
        raise UserError(f"{manifest_path}: expected a JSON object")
    schema = manifest.get("schema", 0)
    if not isinstance(schema, int) or schema > MANIFEST_SCHEMA:
        raise UserError(f"{manifest_path}: manifest schema {schema!r} is newer than this polsplit reads "
                        f"({MANIFEST_SCHEMA}): upgrade polsplit")
    return _upgrade(manifest)


def read_manifest(folder: Path, *kinds: str) -> dict[str, Any]:
    """The folder's manifest.json, which must exist; with ``kinds``, refusing a folder of any other kind."""
    manifest = load_manifest(folder)
    if manifest is None:
        raise UserError(f"{folder}: no manifest.json (not a polsplit results folder)")
    if kinds and manifest.get("kind") not in kinds:
        expected = " or ".join(map(repr, kinds))
        raise UserError(f"{folder} is a '{manifest.get('kind')}' run (manifest kind), expected kind {expected}")
    return manifest


def check_out_dir(out: Path, kind: str, analysis: str | None = None) -> dict[str, Any] | None:
    """Refuse, before any work, an ``out`` folder holding another kind of results (or, for ``analyze``,
    another analysis): outputs never clobber another command's. Returns its manifest, None without one."""
    try:
        manifest = load_manifest(out)
    except UserError as error:
        raise UserError(f"{error}: not overwriting it; choose another --out") from None
    if manifest is None:
        return None
    found = f"kind '{manifest.get('kind')}'"
    if manifest.get("kind") == kind == "analyze":
        found += f" (analysis '{manifest.get('analysis')}')"
    if manifest.get("kind") != kind or (analysis is not None and manifest.get("analysis") != analysis):
        task = kind if analysis is None else f"{kind} {analysis}"
        raise UserError(f"{out} already holds results of {found}: choose another --out for {task} output")
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
    if path.is_dir():
        raise UserError(f"{path}: is a folder, not a JSONL file")
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
