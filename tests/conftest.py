"""Suite-wide setup: the tests start torch in-process, so they take the CLI's passive OpenMP waiting too."""

from polsplit_cli.cli import prefer_passive_waiting

prefer_passive_waiting()
