"""Suite-wide setup: the tests start torch in-process, so they choose OpenMP waiting as the CLI does."""

from polsplit_cli.openmp import choose_openmp_waiting

choose_openmp_waiting()
