"""Grading worker processes with a hard wall-clock limit per job.

A job is ``("sympy", [(gold, pred), ...])`` or ``("verify", gold, pred)``. Each worker is a
``multiprocessing`` process (forkserver context where available, else spawn: never a fork
of a parent that may hold threads or CUDA state) that runs jobs in its main thread under a
``signal`` alarm at the time limit. The parent also waits only ``timeout + KILL_GRACE_S``:
a worker stuck in C code (where the alarm cannot interrupt it) is killed and replaced on
the next job. Timed-out jobs come back as "timeout" and are logged.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from multiprocessing.connection import Connection, wait

log = logging.getLogger(__name__)

KILL_GRACE_S = 0.5
PIPELINE_DEPTH = 4  # jobs queued per worker, so it never idles waiting for the parent
START_TIMEOUT_S = 120.0  # first start imports sympy; generous for loaded machines
_WORKER_MODULE = "polsplit_cli.eval.grading.symbolic"

Job = tuple


class _Alarm(BaseException):
    """Raised by SIGALRM inside a worker; a BaseException so library ``except Exception`` can't eat it."""


def _on_alarm(signum, frame):
    raise _Alarm


def _run_job(job: Job, timeout: float):
    from polsplit_cli.eval.grading import symbolic  # loaded once per worker (or preloaded)

    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        if job[0] == "sympy":
            verdicts = (symbolic.sympy_equal(gold, pred) for gold, pred in job[1])
            return next((verdict for verdict in verdicts if verdict != "equal"), "equal")
        return symbolic.math_verify_opinion(job[1], job[2])
    except _Alarm:
        return "timeout"
    except Exception:  # a bug or library error on odd input: a wrong answer, not a crash
        return "error"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def worker_main(conn: Connection) -> None:
    """Child process loop: load the checkers, say ready, then answer jobs until EOF."""
    from polsplit_cli.eval.grading import symbolic  # noqa: F401

    signal.signal(signal.SIGALRM, _on_alarm)
    conn.send("ready")
    while True:
        try:
            job, timeout = conn.recv()
        except EOFError:
            return
        try:
            result = _run_job(job, timeout)
        except _Alarm:  # fired in the instant between the job's end and the alarm's cancel
            result = "timeout"
        conn.send(result)


def _context():
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([_WORKER_MODULE])
        return context
    return multiprocessing.get_context("spawn")


class _Worker:
    def __init__(self) -> None:
        context = _context()
        self.conn, child_conn = context.Pipe()
        self.process = context.Process(target=worker_main, args=(child_conn,), daemon=True)
        self.process.start()
        child_conn.close()

    def wait_ready(self) -> None:
        if not self.conn.poll(START_TIMEOUT_S) or self.conn.recv() != "ready":
            self.kill()
            raise RuntimeError("grading worker failed to start")

    def kill(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class WorkerPool:
    """A fixed number of worker slots; workers start lazily and are replaced after a kill."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._workers: list[_Worker | None] = [None] * size
        self._lock = threading.Lock()  # one batch at a time: callers may be threads

    def _ensure_started(self, slots: range | list[int]) -> None:
        fresh = []
        for slot in slots:
            if self._workers[slot] is None:
                self._workers[slot] = _Worker()
                fresh.append(self._workers[slot])
        for worker in fresh:  # started together, so their imports overlap
            worker.wait_ready()

    def _discard(self, slot: int) -> None:
        self._workers[slot].kill()
        self._workers[slot] = None

    def _send(self, slot: int, message: tuple) -> None:
        """Send to the slot's worker, replacing it first if it is gone (killed, or died idle)."""
        worker = self._workers[slot]
        if worker is not None and not worker.process.is_alive():
            self._discard(slot)
        self._ensure_started([slot])
        self._workers[slot].conn.send(message)

    def run(self, jobs: list[Job], timeout: float) -> list:
        """Results in job order: a job's value, "timeout", or "error" (the worker died).

        Each worker holds up to ``PIPELINE_DEPTH`` jobs and runs them in order, so it never
        waits for the parent between jobs; the running (oldest) job of a worker gets its kill
        deadline when the previous result arrives. After a kill or a crash, the jobs queued
        behind the culprit go back to the queue.
        """
        results: list = [None] * len(jobs)
        limit = timeout + KILL_GRACE_S
        with self._lock:
            self._ensure_started(range(min(self.size, len(jobs))))
            queue = deque(range(len(jobs)))
            in_flight: dict[int, deque[int]] = {slot: deque() for slot in range(self.size)}
            deadline: dict[int, float] = {}  # slot -> kill deadline of its running job
            while queue or any(in_flight.values()):
                for _round, (slot, pending) in itertools.product(range(PIPELINE_DEPTH), in_flight.items()):
                    if queue and len(pending) < PIPELINE_DEPTH:  # round-robin: spread small batches
                        self._dispatch(slot, pending, (jobs[queue[0]], timeout), deadline, limit)
                        pending.append(queue.popleft())
                busy = [slot for slot, pending in in_flight.items() if pending]
                next_deadline = min(deadline[slot] for slot in busy)
                wait([self._workers[slot].conn for slot in busy], max(0.0, next_deadline - time.monotonic()))
                for slot in busy:
                    pending = in_flight[slot]
                    if not self._collect(slot, pending, results, deadline, limit):
                        self._requeue_after_loss(slot, pending, queue)
                    elif pending and time.monotonic() >= deadline[slot]:  # stuck where no alarm reaches
                        results[pending.popleft()] = "timeout"
                        self._requeue_after_loss(slot, pending, queue)
        for job, result in zip(jobs, results, strict=True):
            if result in ("timeout", "error"):
                log.warning("grading job %s after %.1f s limit: %.120r", result, timeout, job)
        return results

    def _dispatch(self, slot: int, pending: deque[int], message: tuple, deadline: dict, limit: float) -> None:
        if not pending:  # idle: (re)start the worker if needed; the job starts now
            self._send(slot, message)
            deadline[slot] = time.monotonic() + limit
            return
        try:
            self._workers[slot].conn.send(message)
        except OSError:  # it died: the receive step sees the EOF and requeues this job
            pass

    def _collect(self, slot: int, pending: deque[int], results: list, deadline: dict, limit: float) -> bool:
        """Take every result the slot's worker has sent; False if it died (its running job: "error")."""
        conn = self._workers[slot].conn
        while pending and conn.poll():
            index = pending.popleft()
            try:
                results[index] = conn.recv()
            except (EOFError, OSError):
                results[index] = "error"
                return False
            deadline[slot] = time.monotonic() + limit
        return True

    def _requeue_after_loss(self, slot: int, pending: deque[int], queue: deque[int]) -> None:
        self._discard(slot)
        queue.extendleft(reversed(pending))
        pending.clear()


_pools: dict[int, WorkerPool] = {}
_pools_lock = threading.Lock()


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def shared_pool(size: int) -> WorkerPool:
    """The process-wide pool of ``size`` workers (kept alive between calls: starting one costs ~1 s)."""
    with _pools_lock:
        if size not in _pools:
            _pools[size] = WorkerPool(size)
        return _pools[size]
