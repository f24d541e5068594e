"""Sampling backends behind one interface (``base.Backend``): vllm for GPUs, hf everywhere."""

from __future__ import annotations

from polsplit_cli.errors import UserError

BACKENDS = ("auto", "vllm", "hf")


def resolve_backend(name: str) -> str:
    """'auto' -> 'vllm' when vllm imports and CUDA is present, else 'hf'."""
    if name not in BACKENDS:
        raise UserError(f"unknown backend '{name}': use one of {', '.join(BACKENDS)}")
    if name != "auto":
        return name
    import importlib.util

    if importlib.util.find_spec("vllm") is None:  # checked first: no torch import for a CPU install
        return "hf"
    import torch

    return "vllm" if torch.cuda.is_available() else "hf"
