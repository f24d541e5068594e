"""Progress lines and table width off a terminal (polsplit_cli.terminal), on a real non-terminal console."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from polsplit_cli.terminal import ProgressReport, duration, table_console, track


class Clock:
    """Seconds set by the test, so rate and ETA have hand-computed values."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_are_throttled_and_carry_rate_and_eta():
    buffer, clock = io.StringIO(), Clock()
    console = Console(file=buffer, width=80)
    assert not console.is_terminal
    with ProgressReport("sampling", console, every_s=30, clock=clock) as report:
        report.update(0, 40)  # printed: the first update
        for done, at in ((4, 110), (8, 120), (10, 125)):  # within 30 s of the first line: silent
            clock.now = at
            report.update(done, 40)
        clock.now = 130
        report.update(12, 40, "1 failed")  # 30 s after the first line: 12 in 30 s = 0.4/s, 28 left = 70 s
        clock.now = 140
        report.update(16, 40)  # silent: 10 s after the last line; printed at the end instead
    assert buffer.getvalue().splitlines() == [
        "sampling: 0/40 (0%), elapsed 0s",
        "sampling: 12/40 (30%), 1 failed, 2.5 s each, ETA 1m10s, elapsed 30s",
        "sampling: 16/40 (40%), 2.5 s each, ETA 1m00s, elapsed 40s",
    ]


def test_every_update_prints_with_no_interval_and_fast_rates_read_per_second():
    buffer, clock = io.StringIO(), Clock()
    with ProgressReport("judging", Console(file=buffer), every_s=0, clock=clock) as report:
        report.update(0, 3)
        clock.now += 0.5
        report.update(3, 3)
    assert buffer.getvalue().splitlines() == ["judging: 0/3 (0%), elapsed 0s", "judging: 3/3 (100%), 6.0/s, elapsed 0s"]


def test_no_update_prints_nothing_and_durations():
    buffer = io.StringIO()
    with ProgressReport("sampling", Console(file=buffer)):
        pass
    assert buffer.getvalue() == ""
    assert [duration(s) for s in (0.4, 45, 245, 3725, 90000)] == ["0s", "45s", "4m05s", "1h02m", "25h00m"]


def test_track_yields_every_item_and_reports_start_and_end():
    buffer = io.StringIO()
    assert list(track("abc", "KL", Console(file=buffer))) == ["a", "b", "c"]
    first, last = buffer.getvalue().splitlines()
    assert first == "KL: 0/3 (0%), elapsed 0s" and last.startswith("KL: 3/3 (100%), ")


def test_tables_are_not_cut_off_a_terminal(capsys):
    table = Table(*(f"column number {i}" for i in range(8)))
    table.add_row(*(f"value {i}" for i in range(8)))
    table_console().print(table)  # stdout is captured: not a terminal
    lines = capsys.readouterr().out.splitlines()
    assert "column number 7" in lines[1] and len(lines[1]) > 80
    assert max(len(line) for line in lines) < 200  # its natural width, not padded out to the console width
