"""The runtime ``models`` package sits below the commands: nothing in it imports eval/ or train/ (the offline
builder of the tiny checkpoint, which needs the grader and the trainer, lives in polsplit_cli/tools/)."""

import ast
from pathlib import Path

import polsplit_cli.models

UPPER = ("polsplit_cli.eval", "polsplit_cli.train", "polsplit_cli.analyze", "polsplit_cli.judge", "polsplit_cli.tools")


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_models_imports_nothing_above_it():
    files = sorted(Path(polsplit_cli.models.__file__).parent.rglob("*.py"))
    assert files  # the package's own sources are what is read
    upward = {f"{path.name}: {name}" for path in files for name in _imported(path)
              if any(name == upper or name.startswith(upper + ".") for upper in UPPER)}
    assert not upward
