"""Progress, tables and --help that also work off a terminal (CI, nohup, a scheduler, a pipe).

Off a terminal a rich live bar shows nothing until it stops (a transient one nothing at all), so
a long eval or judge run looked dead for an hour. There, ``ProgressReport`` prints a plain line
instead: at the start, every ``PLAIN_EVERY_S`` seconds and at the end, with done/total, rate and
ETA. And rich cuts output to 80 columns when it cannot ask a terminal its width, so
``table_console`` prints tables at their natural width there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import TypeVar

from rich.console import Console
from typer.core import TyperCommand, TyperGroup

PLAIN_EVERY_S = 30.0
UNCUT_WIDTH = 10_000  # off a terminal: wide enough that no table or line is cut or wrapped
Item = TypeVar("Item")


def table_console(*, stderr: bool = False) -> Console:
    """A console for tables: the terminal's width on a terminal, no cut-off elsewhere."""
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=UNCUT_WIDTH)


def duration(seconds: float) -> str:
    """A short human duration: 45s, 4m05s, 1h02m."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class ProgressReport:
    """A rich bar on a terminal; elsewhere a plain line now and then. Use as a context manager and
    call ``update(done, total, status)``; ``status`` is a short extra such as "3 failed"."""

    def __init__(self, label: str, console: Console, *, every_s: float = PLAIN_EVERY_S,
                 clock: Callable[[], float] = time.monotonic):
        self.label = label
        self.console = console
        self.every_s = every_s
        self.clock = clock
        self._bar = None
        self._task = None
        self._started: float | None = None
        self._last_print: float | None = None
        self._printed: tuple | None = None
        self._state: tuple[int, int | None, str] = (0, None, "")

    def __enter__(self) -> ProgressReport:
        if self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(TextColumn(self.label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 TimeRemainingColumn(), TextColumn("{task.fields[status]}"),
                                 console=self.console, transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=None, status="")
        return self

    def update(self, done: int, total: int | None, status: str = "") -> None:
        self._state = (done, total, status)
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total, status=status)
            return
        now = self.clock()
        if self._started is None:
            self._started = now
        if self._last_print is None or now - self._last_print >= self.every_s:
            self._print(now)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self._started is not None and self._printed != self._state:
            self._print(self.clock())

    def line(self, now: float) -> str:
        """The plain progress line for the latest update, as of ``now``."""
        done, total, status = self._state
        parts = [f"{self.label}: {done}/{total if total is not None else '?'}"]
        if total:
            parts[0] += f" ({100 * done / total:.0f}%)"
        if status:
            parts.append(status)
        elapsed = now - self._started
        if done and elapsed > 0:
            rate = done / elapsed
            parts.append(f"{rate:.1f}/s" if rate >= 1 else f"{1 / rate:.1f} s each")
            if total is not None and done < total:
                parts.append(f"ETA {duration((total - done) / rate)}")
        parts.append(f"elapsed {duration(elapsed)}")
        return ", ".join(parts)

    def _print(self, now: float) -> None:
        self.console.print(self.line(now), highlight=False, markup=False, soft_wrap=True)
        self._last_print = now
        self._printed = self._state


def track(items: Sequence[Item], label: str, console: Console) -> Iterator[Item]:
    """Each item in turn, with progress reported as ``ProgressReport`` does."""
    with ProgressReport(label, console) as report:
        report.update(0, len(items))
        for done, item in enumerate(items, start=1):
            yield item
            report.update(done, len(items))


class _FlagsTakeNoValue:
    """typer 0.29's --help gives a flag a type column (``--quiet <bool>``), as if it took a value:
    here a flag shows none, like click's own help."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            if getattr(param, "is_flag", False):
                param.metavar = ""
        return params


class HelpCommand(_FlagsTakeNoValue, TyperCommand):
    """A command whose --help shows flags without a value type."""


class HelpGroup(_FlagsTakeNoValue, TyperGroup):
    """A command group whose --help shows flags without a value type."""
