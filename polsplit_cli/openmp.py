"""How torch's OpenMP threads wait, chosen from how busy the machine is, before torch loads.

libgomp's threads spin for ~3 ms between parallel regions before they sleep. On idle cores that
is the fastest choice; when other processes want the cores, the spinning threads fight them and
a step of the demo gets 3-4x slower (``benchmarks/busy_machine.py`` measures both). Passive
waiting (no spin) wins on a busy machine and costs ~1.4x on an idle one, so ``polsplit`` measures
the other processes' CPU use for a tenth of a second at start and waits passively only when they
use at least half a core. The OpenMP runtime reads the variable once, when torch loads it; a
policy the user set (``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``) is never touched.
"""

from __future__ import annotations

import os
import time
from collections.abc import MutableMapping

BUSY_CORES = 0.5  # other processes' CPU use (in cores) from which threads wait passively
PROBE_S = 0.1
USER_KNOBS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def _cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) clock ticks of all cores since boot, from Linux's /proc/stat; None elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_cores(window_s: float = PROBE_S) -> float | None:
    """Cores kept busy by other processes over the next ``window_s`` (we sleep meanwhile).

    Falls back to the 1-minute load average where /proc/stat is missing; None if neither exists.
    """
    before = _cpu_ticks()
    if before is None:
        try:
            return os.getloadavg()[0]
        except OSError:
            return None
    time.sleep(window_s)
    after = _cpu_ticks()
    if after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1]) * (os.cpu_count() or 1)


def wait_policy(busy: float | None) -> str | None:
    """The OMP_WAIT_POLICY for a machine whose other processes use ``busy`` cores (None: libgomp's default)."""
    return "PASSIVE" if busy is not None and busy >= BUSY_CORES else None


def choose_openmp_waiting(environ: MutableMapping[str, str] = os.environ) -> str | None:
    """Set OMP_WAIT_POLICY=PASSIVE in ``environ`` when the machine is busy, unless the user chose; returns the policy."""
    if any(knob in environ for knob in USER_KNOBS):
        return environ.get("OMP_WAIT_POLICY")
    policy = wait_policy(busy_cores())
    if policy is not None:
        environ["OMP_WAIT_POLICY"] = policy
    return policy
