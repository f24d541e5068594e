"""``grade``/``grade_many`` from every kind of caller, each a real separate Python process.

The workers are ``python -m`` subprocesses, so nothing of the caller is re-imported: a plain
script with no ``__main__`` guard, code on stdin grading from threads, a Jupyter kernel and a
forked child all grade alike (with multiprocessing's forkserver the first two failed). Also: a worker never
outlives its parent, and Ctrl-C prints no traceback from a worker.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# a sympy step (reaches a worker), a math-verify step, and a batch pipelined into the same worker
GRADING = textwrap.dedent(r"""
    from polsplit_cli.eval.grading import grade, grade_many

    def reasons():
        batch = grade_many([(r"</think>\boxed{2\sqrt{2}}", r"\sqrt{8}")] * 3, workers=1)
        return [grade(r"</think>\boxed{\sqrt{8}}", r"2\sqrt{2}").reason,
                grade(r"</think>\boxed{x \geq 5}", "x >= 5").reason, ",".join(g.reason for g in batch)]
""")
PLAIN = GRADING + "print(*reasons(), sep='\\n')\n"
THREADS = GRADING + textwrap.dedent("""
    import threading
    results = []
    threads = [threading.Thread(target=lambda: results.append(reasons())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(*results[0], sep="\\n") if results == [results[0]] * 3 else print(results)
""")
EXPECTED = "sympy-equal\nmath-verify-equal\nsympy-equal,sympy-equal,sympy-equal\n"
# ~30 s of simplify (test_grading_hostile.SLOW_GOLD), under a 60 s limit: a busy worker
SLOW_ITEM = r'(r"</think>\boxed{(13x-19)(x+1)^{30}}", r"(13x-19)\frac{(x+y+1)^{50}}{(x-y)^{20}}")'
SLOW_JOB = f'grade(*{SLOW_ITEM}, timeout=60, grader="prm800k")'


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def python(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], input=stdin, capture_output=True, text=True, env=_env(),
                          cwd=cwd, timeout=180)


def _check(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, done.stderr
    assert done.stdout == EXPECTED
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr


def test_plain_script_without_main_guard(tmp_path):
    script = tmp_path / "grade_it.py"
    script.write_text(PLAIN)
    (tmp_path / "sympy.py").write_text("raise SystemExit('the caller folder must not shadow modules')\n")
    _check(python(str(script), cwd=tmp_path))


def test_script_on_stdin_grading_from_threads_at_once():
    _check(python("-", stdin=THREADS))


def test_jupyter_kernel():
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n" + PLAIN)]
    NotebookClient(notebook, timeout=180, kernel_name="python3").execute()
    outputs = notebook.cells[0].outputs
    assert "".join(output.get("text", "") for output in outputs if output.output_type == "stream") == EXPECTED
    assert not [output for output in outputs if output.output_type == "error"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_its_own_workers():
    from polsplit_cli.eval.grading import grade
    from polsplit_cli.eval.grading.pool import shared_pool

    item = (r"</think>\boxed{\sqrt{8}}", r"2\sqrt{2}")
    assert grade(*item).reason == "sympy-equal"
    parents_worker = shared_pool(1)._workers[0].process.pid
    child = os.fork()
    if child == 0:  # the child may not talk to its parent's workers: it starts its own
        code = 1
        try:
            code = 0 if grade(*item).reason == "sympy-equal" and shared_pool(1)._workers[0].process.pid != parents_worker else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert grade(*item).reason == "sympy-equal" and shared_pool(1)._workers[0].process.pid == parents_worker


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"  # a zombie has exited; nobody may be left to reap it


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.1)
    return [pid for pid in pids if _alive(pid)]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_workers_exit_when_the_parent_dies():
    """The parent is SIGKILLed (no cleanup runs): its idle workers see the end of their stdin, the busy
    one (mid-job, 60 s limit) notices within a second that its parent is gone."""
    script = textwrap.dedent(f"""
        import threading, time
        from polsplit_cli.eval.grading import grade, grade_many
        from polsplit_cli.eval.grading.pool import shared_pool
        grade_many([(r"</think>\\boxed{{\\sqrt{{8}}}}", r"2\\sqrt{{2}}")] * 2, workers=2)  # two idle workers
        print(*[w.process.pid for w in shared_pool(2)._workers], flush=True)
        slow = lambda: grade_many([{SLOW_ITEM}], workers=2, timeout=60, grader="prm800k")
        threading.Thread(target=slow, daemon=True).start()  # one of them busy
        time.sleep(1)
        print("ready", flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=_env())
    try:
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert parent.stdout.readline() == "ready\n" and len(workers) == 2 and all(map(_alive, workers))
        parent.kill()
        parent.wait()
        assert _wait_gone(workers, seconds=10) == []
    finally:
        parent.kill()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_ctrl_c_stops_the_parent_without_worker_tracebacks():
    """SIGINT to the caller's whole process group, as a terminal's Ctrl-C: only the parent's own
    KeyboardInterrupt is reported, and the busy worker is ended with it."""
    script = textwrap.dedent(f"""
        from polsplit_cli.eval.grading import grade
        from polsplit_cli.eval.grading.pool import shared_pool
        grade(r"</think>\\boxed{{\\sqrt{{8}}}}", r"2\\sqrt{{2}}")
        print(shared_pool(1)._workers[0].process.pid, flush=True)
        {SLOW_JOB}
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=_env(), start_new_session=True)
    try:
        worker = int(parent.stdout.readline())
        time.sleep(1)  # the slow job is running
        os.killpg(parent.pid, signal.SIGINT)
        _, stderr = parent.communicate(timeout=30)
        assert parent.returncode != 0
        assert stderr.count("Traceback") == 1 and "KeyboardInterrupt" in stderr
        assert "worker.py" not in stderr and "symbolic.py" not in stderr
        assert _wait_gone([worker], seconds=10) == []
    finally:
        parent.kill()
