"""Test-only: run verl's FSDP2 actor worker on CPU (gloo). Loaded first via VERL_USE_EXTERNAL_MODULES.

verl 0.9.1 ships CUDA/NPU/ROCm platforms only. This registers a CPU platform as the
process's platform and makes the process group gloo-only (verl builds
``cpu:gloo,<device>:<backend>``, which would name cpu twice). Pair it with
``VERL_ENGINE_DEVICE=cuda VERL_ENGINE_VENDOR=nvidia`` (the FSDP engine is registered for
cuda only; nothing in it needs a GPU), ``actor.strategy=fsdp2`` (FSDP1 asks for an
accelerator) and eager attention. For a whole ``launch()`` (verl's resource pools always ask
Ray for GPUs) also pass ``+ray_kwargs.ray_init.num_gpus=1``: it then runs up to the rollout
replica, where verl 0.9.1 needs vLLM, SGLang or TRT-LLM.
"""

from __future__ import annotations

import types
from contextlib import contextmanager

import torch
import verl.utils.distributed as verl_distributed
from verl.plugin.platform.platform_base import PlatformBase
from verl.plugin.platform.platform_manager import set_platform


class _CPUDeviceModule(types.ModuleType):
    """``torch.cpu`` plus zero-valued stand-ins for the CUDA memory queries verl logs."""

    memory_reserved = memory_allocated = max_memory_allocated = max_memory_reserved = staticmethod(lambda *a, **k: 0)
    reset_peak_memory_stats = empty_cache = ipc_collect = staticmethod(lambda *a, **k: None)
    set_per_process_memory_fraction = staticmethod(lambda *a, **k: None)
    get_device_name = staticmethod(lambda *a, **k: "cpu")
    get_rng_state, set_rng_state = staticmethod(torch.get_rng_state), staticmethod(torch.set_rng_state)
    mem_get_info = staticmethod(lambda *a, **k: (0, 0))

    def __getattr__(self, name):
        return getattr(torch.cpu, name)


class CPUPlatform(PlatformBase):
    device_name = "cpu"
    vendor_name = "cpu"
    device_module = _CPUDeviceModule("verl_cpu_device")

    def is_available(self) -> bool:
        return True

    def current_device(self):
        return "cpu"  # used as `.to(get_device_id())`

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index) -> None:
        pass

    def synchronize(self, device_index=None) -> None:
        pass

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        pass

    def empty_cache(self) -> None:
        pass

    def get_device_capability(self, device_index: int = 0):
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        return "CUDA_VISIBLE_DEVICES"

    @contextmanager
    def nvtx_range(self, msg: str):
        yield

    def profiler_start(self) -> None:
        pass

    def profiler_stop(self) -> None:
        pass

    def ray_resource_name(self) -> str:
        return "GPU"  # pairs with a logical ray_init num_gpus for verl's GPU-only resource pools

    def ray_noset_envvars(self) -> list[str]:
        return []

    def is_ipc_supported(self) -> bool:
        return False

    def cudart(self):
        return None


set_platform(CPUPlatform())

_init_process_group = verl_distributed.initialize_global_process_group_ray


def _gloo_process_group(timeout_second=None, backend=None):
    return _init_process_group(timeout_second=timeout_second, backend=backend or "gloo")


verl_distributed.initialize_global_process_group_ray = _gloo_process_group
