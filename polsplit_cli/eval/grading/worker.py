"""A grading worker process: ``python -m polsplit_cli.eval.grading.worker PARENT_PID``.

Started by ``pool.py``. It reads ``[job, timeout]`` messages on stdin, runs each step of a job
(``symbolic.py``: the PRM800K path's sympy check, then math-verify unless sympy already settled
it, see ``settled``) under a SIGALRM at ``timeout`` and answers
``{"sympy": verdict, "verify": verdict}`` on stdout. A verdict is "equal", "unequal",
"different", "unparseable", "timeout" or "error" (an exception on odd input), or None for a
step the job did not ask for or did not need.

It ignores SIGINT (Ctrl-C is the parent's to handle), exits at the end of stdin, and exits
within ``PARENT_POLL_S`` once its parent is gone even while busy.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from polsplit_cli.eval.grading import symbolic
from polsplit_cli.eval.grading.pool import encode, read_message

PARENT_POLL_S = 0.5


class _Alarm(BaseException):
    """Raised by SIGALRM; a BaseException so library ``except Exception`` clauses can't swallow it."""


def _on_alarm(signum, frame):
    raise _Alarm


def _step(check: Callable[..., str], *args: Any, timeout: float) -> str:
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        try:
            return check(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Alarm:
        return "timeout"
    except Exception:  # a library error on odd input: no verdict, never a crash
        return "error"


def settled(sympy_verdict: str | None, answers: list[str]) -> bool:
    """Whether math-verify could still change the verdict: not after sympy proved equality, nor after it
    proved the answers "different" -- unless one is written with a decimal point (math-verify forgives
    rounding in the 7th place) or an inline ``/`` (``x/2y``, which the two parsers may read apart)."""
    if sympy_verdict == "equal":
        return True
    return sympy_verdict == "different" and not any("." in answer or "/" in answer for answer in answers)


def run_job(job: dict[str, Any], timeout: float) -> dict[str, str | None]:
    sympy_verdict = verify_verdict = None
    if job.get("sympy") is not None:
        sympy_verdict = _step(symbolic.sympy_equal_all, job["sympy"], timeout=timeout)
    if job.get("verify") is not None and not settled(sympy_verdict, job["verify"]):
        verify_verdict = _step(symbolic.math_verify_equal, *job["verify"], timeout=timeout)
    return {"sympy": sympy_verdict, "verify": verify_verdict}


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(0)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel_in, channel_out = os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a library's stray print goes to stderr, never into the channel
    threading.Thread(target=_exit_with_parent, args=(int(sys.argv[1]),), daemon=True).start()
    signal.signal(signal.SIGALRM, _on_alarm)
    try:
        symbolic.warm_up()
        channel_out.write(encode("ready"))
        channel_out.flush()
        while (message := read_message(channel_in)) is not None:
            job, timeout = message
            channel_out.write(encode(run_job(job, timeout)))
            channel_out.flush()
    except OSError:  # the parent is gone (broken pipe): nobody to answer
        pass


if __name__ == "__main__":
    main()
