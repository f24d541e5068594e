"""The parent's side of the grading workers: a pool of processes with a hard time limit per job.

A worker is ``python -m polsplit_cli.eval.grading.worker`` (``worker.py``): a fresh interpreter
that imports only the grading checkers. Nothing of the caller is re-imported (multiprocessing's
spawn and forkserver re-run the caller's ``__main__``), so grading works the same from a script
without a ``__main__`` guard, from code read on stdin, from a thread and from a notebook. Jobs
go to the worker's stdin and results come back on its stdout as length-prefixed JSON messages
(not pickle: nothing a worker sends can make the parent run code).

A job is ``{"sympy": [[gold, pred], ...] | None, "verify": [gold, pred] | None}``: the PRM800K
path's sympy step and math-verify's check, each run under its own ``timeout`` (``worker.py``).
The parent kills a worker whose running job is ``KILL_GRACE_S`` past its steps' time (stuck in
C code, where no signal reaches), answers "timeout" for it and starts a replacement; a worker
that dies mid-job answers "error". Workers ignore SIGINT and run in their own session, so
Ctrl-C reaches only the parent, which then kills the workers that were busy. A worker exits
when its stdin closes (the parent exited or died) and, when busy, once its parent is gone.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import selectors
import site
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, BinaryIO

import polsplit_cli

log = logging.getLogger(__name__)

KILL_GRACE_S = 0.5
PIPELINE_DEPTH = 4  # jobs queued per worker, so it never idles waiting for the parent
START_TIMEOUT_S = 120.0  # a worker imports sympy and math-verify first; generous for loaded machines
WORKER_MODULE = "polsplit_cli.eval.grading.worker"
_HEADER = struct.Struct(">I")  # message length in bytes, then the JSON text

Job = dict[str, Any]


def encode(message: Any) -> bytes:
    data = json.dumps(message).encode()
    return _HEADER.pack(len(data)) + data


def read_message(stream: BinaryIO) -> Any | None:
    """The next message on a blocking stream (the worker's stdin), or None at its end."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    return json.loads(data) if len(data) == size else None


def job_seconds(job: Job, timeout: float) -> float:
    """How long the parent lets a job run before it kills the worker."""
    steps = sum(job.get(step) is not None for step in ("sympy", "verify"))
    return max(1, steps) * timeout + KILL_GRACE_S


def _worker_env() -> dict[str, str]:
    """The caller's environment, with the folder of this copy of polsplit_cli first on the path."""
    env = dict(os.environ)
    root = Path(polsplit_cli.__file__).resolve().parents[1]
    site_dirs = {Path(p).resolve() for p in [*site.getsitepackages(), site.getusersitepackages()]}
    if root not in site_dirs:  # installed copies are found anyway; a source tree must come first
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    return env


class _Worker:
    """One worker process and the parent's non-blocking ends of its pipes."""

    def __init__(self) -> None:
        # -P: the caller's working directory is not put on the worker's path (a stray sympy.py there)
        self.process = subprocess.Popen([sys.executable, "-P", "-m", WORKER_MODULE, str(os.getpid())],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_worker_env(),
                                        start_new_session=True)
        self.stdin, self.stdout = self.process.stdin.fileno(), self.process.stdout.fileno()
        os.set_blocking(self.stdin, False)
        os.set_blocking(self.stdout, False)
        self.ready = False
        self.deadline = time.monotonic() + START_TIMEOUT_S  # of its start, then of its running job
        self.pending: deque[int] = deque()  # indices of the jobs sent, the running one first
        self._inbox, self._outbox = bytearray(), bytearray()

    def send(self, message: Any) -> None:
        self._outbox += encode(message)
        self.flush()

    def flush(self) -> None:
        """Write what the pipe takes now; a dead worker's EOF is noticed on the read side."""
        while self._outbox:
            try:
                written = os.write(self.stdin, self._outbox)
            except BlockingIOError:
                return
            except OSError:
                self._outbox.clear()
                return
            del self._outbox[:written]

    @property
    def sending(self) -> bool:
        return bool(self._outbox)

    def receive(self) -> list[Any] | None:
        """The messages that have arrived; None once the worker's stdout is closed (it died)."""
        try:
            data = os.read(self.stdout, 1 << 16)
        except BlockingIOError:
            return []
        except OSError:
            return None
        if not data:
            return None
        self._inbox += data
        messages = []
        while len(self._inbox) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._inbox)
            if len(self._inbox) < _HEADER.size + size:
                break
            messages.append(json.loads(self._inbox[_HEADER.size : _HEADER.size + size]))
            del self._inbox[: _HEADER.size + size]
        return messages

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.process.stdin.close()
        self.process.stdout.close()

    def close(self, deadline: float) -> None:
        """After its stdin was closed: wait for the worker to exit until ``deadline``, then kill it."""
        try:
            self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


class WorkerPool:
    """A fixed number of worker slots; workers start lazily and are replaced after a kill."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._workers: list[_Worker | None] = [None] * size
        self._lock = threading.Lock()  # one batch at a time: callers may be threads

    def run(self, jobs: list[Job], timeout: float) -> list:
        """Results in job order: the worker's answer, or "timeout" / "error" when it was killed or died."""
        if not jobs:
            return []
        with self._lock:
            try:
                results = self._run(jobs, timeout)
            except BaseException:  # Ctrl-C or a failed start: no stale result may reach the next batch
                self._discard_busy()
                raise
        for job, result in zip(jobs, results, strict=True):
            steps = result.values() if isinstance(result, dict) else [result]
            for failure in ("timeout", "error"):
                if failure in steps:
                    log.warning("grading job %s (%.1f s limit per step): %.120r", failure, timeout, job)
        return results

    def close(self, wait_s: float = 1.0) -> None:
        """End every worker: their stdin is closed, so they exit; those still there after ``wait_s`` are killed.

        Takes no lock: it runs at interpreter exit, when a daemon thread may be stuck mid-batch.
        """
        workers = [worker for worker in self._workers if worker is not None]
        self._workers = [None] * self.size
        for worker in workers:
            try:
                worker.process.stdin.close()
            except OSError:
                pass
        deadline = time.monotonic() + wait_s
        for worker in workers:
            worker.close(deadline)

    def _run(self, jobs: list[Job], timeout: float) -> list:
        results: list = [None] * len(jobs)
        queue = deque(range(len(jobs)))
        slots = range(min(self.size, len(jobs)))
        with selectors.DefaultSelector() as selector:
            for slot in slots:
                worker = self._workers[slot]
                if worker is None or worker.process.poll() is not None:  # never started, or died idle
                    if worker is not None:
                        worker.kill()
                    self._workers[slot] = _Worker()
                selector.register(self._workers[slot].stdout, selectors.EVENT_READ, slot)
            while queue or any(self._workers[slot].pending for slot in slots):
                self._dispatch(slots, queue, jobs, timeout)
                now = time.monotonic()
                wait_s = min(self._workers[slot].deadline for slot in slots) - now
                if any(self._workers[slot].sending for slot in slots):
                    wait_s = min(wait_s, 0.01)
                for key, _ in selector.select(min(max(0.0, wait_s), 1.0)):
                    self._collect(key.data, results, queue, jobs, timeout, selector)
                now = time.monotonic()
                for slot in slots:
                    worker = self._workers[slot]
                    worker.flush()
                    if now >= worker.deadline:
                        if not worker.ready:
                            raise RuntimeError(f"a grading worker did not start within {START_TIMEOUT_S:.0f} s")
                        self._lose(slot, "timeout", results, queue, selector)  # stuck where no alarm reaches
        return results

    def _dispatch(self, slots: range, queue: deque[int], jobs: list[Job], timeout: float) -> None:
        """Fill the ready workers' pipelines round-robin, so that small batches spread over all of them."""
        for depth in range(PIPELINE_DEPTH):
            for slot in slots:
                worker = self._workers[slot]
                if queue and worker.ready and len(worker.pending) <= depth:
                    index = queue.popleft()
                    if not worker.pending:  # idle: this job starts now
                        worker.deadline = time.monotonic() + job_seconds(jobs[index], timeout)
                    worker.pending.append(index)
                    worker.send([jobs[index], timeout])

    def _collect(self, slot: int, results: list, queue: deque[int], jobs: list[Job], timeout: float,
                 selector: selectors.BaseSelector) -> None:
        worker = self._workers[slot]
        messages = worker.receive()
        if messages is None:
            if not worker.ready:
                code = worker.process.wait()
                raise RuntimeError(f"a grading worker failed to start (exit code {code}); its error output is above")
            self._lose(slot, "error", results, queue, selector)
            return
        for message in messages:
            if not worker.ready:
                worker.ready, worker.deadline = True, float("inf")
                continue
            results[worker.pending.popleft()] = message
            worker.deadline = (time.monotonic() + job_seconds(jobs[worker.pending[0]], timeout)
                               if worker.pending else float("inf"))

    def _lose(self, slot: int, reason: str, results: list, queue: deque[int], selector: selectors.BaseSelector) -> None:
        """The slot's worker is killed or dead: its running job gets ``reason``, the jobs behind it go back
        to the queue, and a fresh worker takes the slot."""
        worker = self._workers[slot]
        selector.unregister(worker.stdout)
        worker.kill()
        if worker.pending:
            results[worker.pending.popleft()] = reason
        queue.extendleft(reversed(worker.pending))
        self._workers[slot] = _Worker()
        selector.register(self._workers[slot].stdout, selectors.EVENT_READ, slot)

    def _discard_busy(self) -> None:
        for slot, worker in enumerate(self._workers):
            if worker is not None and (worker.pending or not worker.ready):
                worker.kill()
                self._workers[slot] = None


_pools: dict[int, WorkerPool] = {}
_pools_lock = threading.Lock()
_owner_pid = os.getpid()


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def shared_pool(size: int) -> WorkerPool:
    """The process-wide pool of ``size`` workers (kept alive between calls: starting one costs ~1 s)."""
    global _owner_pid
    with _pools_lock:
        if os.getpid() != _owner_pid:  # a forked child: the parent's workers are not ours to talk to
            _pools.clear()
            _owner_pid = os.getpid()
        if size not in _pools:
            _pools[size] = WorkerPool(size)
        return _pools[size]


@atexit.register
def _close_pools() -> None:
    if os.getpid() == _owner_pid:
        for pool in _pools.values():
            pool.close()
