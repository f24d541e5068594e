"""Loading models and turning chat messages into prompt ids.

``load_model`` is the one loader (built-in tiny model or any local Hugging Face causal-LM
folder, never the network); ``render_prompt_ids`` is the one way every module turns chat
messages into prompt token ids (rendered once by the chat template, never decoded and
re-encoded), so the trainer, the samplers and the entropy scorer see identical ids;
``cache_kwargs`` is the one way a forward pass is handed a key/value cache.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from polsplit_cli.errors import UserError, first_line

TINY_NAME = "tiny"
DTYPES = ("float32", "bfloat16", "float16")  # weight dtypes of every --dtype (eval's also takes "auto")
TINY_CHECKPOINT = Path(__file__).resolve().parent / "tiny_checkpoint"


def resolve_model_path(path: str | os.PathLike | None) -> Path:
    """The folder to load: the shipped tiny checkpoint for None/"tiny", else a local HF model folder."""
    if path is None or str(path) == TINY_NAME:
        if not (TINY_CHECKPOINT / "config.json").is_file():
            raise UserError(f"the built-in tiny model is missing from {TINY_CHECKPOINT} (broken install?)")
        return TINY_CHECKPOINT
    folder = Path(path).expanduser()
    if not folder.exists():
        raise UserError(
            f"model path {folder} does not exist (give a local Hugging Face model folder or 'tiny')"
        )
    if not folder.is_dir() or not (folder / "config.json").is_file():
        raise UserError(f"{folder} is not a Hugging Face model folder (no config.json)")
    return folder


def check_device(device: str | None) -> None:
    """Refuse, before any folder is made or model loaded, a ``--device`` this machine does not have.

    None, "auto" and "cpu" need no check (nor the torch import it costs).
    """
    if device in (None, "auto", "cpu"):
        return
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise UserError(f"--device {device}: not a torch device (cpu, cuda, cuda:N, mps, ...)") from error
    if parsed.type == "cuda":
        if torch.version.cuda is None and torch.version.hip is None:
            raise UserError(f"--device {device}: this torch ({torch.__version__}) was built without CUDA; "
                            "use --device cpu, or install a CUDA build of torch")
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (parsed.index or 0) >= count:
            raise UserError(f"--device {device}: no such CUDA device ({count} visible)")
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"--device {device}: MPS is not available on this machine")


def resolve_device(device: str | None) -> str:
    """The torch device to run on: ``device`` once checked; None or "auto" = cuda when present, else cpu."""
    check_device(device)
    if device not in (None, "auto"):
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model(path: str | os.PathLike | None = None, *, device: Any = None, dtype: Any = None):
    """(model, tokenizer) from the built-in tiny model or a local causal-LM folder, in eval mode.

    The tokenizer always has a pad token (the eos token when the model has none) and
    pads on the left, which batched generation needs; pass ``padding_side="right"`` to
    ``tokenizer.pad`` for teacher-forced batches if you prefer. Nothing is downloaded.
    """
    folder = resolve_model_path(path)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet_transformers()
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            folder, local_files_only=True, **({"dtype": dtype} if dtype is not None else {})
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UserError(f"cannot load a causal language model from {folder}: {first_line(error)}") from error
    _ensure_padding(tokenizer, model)
    if device is not None:
        model.to(device)
    model.eval()
    return model, tokenizer


def _quiet_transformers() -> None:
    """Our live displays own the screen: no transformers progress bars, no deprecation notices.

    Deprecations are ours to act on, not the user's (the tests run the CLI with warnings on to
    catch them); ``python -W ...`` or ``PYTHONWARNINGS`` brings them back. Errors and every other
    warning still show.
    """
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    if sys.warnoptions:
        return
    warnings.filterwarnings("ignore", message=r".*\bdeprecated\b", category=FutureWarning)
    for handler in transformers_logging.get_logger().handlers:
        handler.addFilter(_not_a_deprecation)


def _not_a_deprecation(record: logging.LogRecord) -> bool:
    return "deprecated" not in record.getMessage()


def _ensure_padding(tokenizer, model) -> None:
    """A pad token (eos when missing) and left padding, mirrored into the generation config."""
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise UserError(f"the tokenizer of {model.name_or_path} has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id


def eos_ids(model, tokenizer) -> list[int]:
    """Every token id that ends a response: the generation config's (Qwen3 lists two) and the
    tokenizer's, as vLLM stops; one list for the trainer's and the eval's samplers."""
    configured = model.generation_config.eos_token_id
    ids = configured if isinstance(configured, list) else [configured]
    return sorted({int(i) for i in [*ids, tokenizer.eos_token_id] if i is not None})


def render_prompt_ids(tokenizer, messages: list[dict[str, str]]) -> list[int]:
    """Prompt token ids for ``messages`` ending with the assistant's generation prompt.

    ``enable_thinking=True`` is passed for templates that read it (Qwen3); others ignore it.
    transformers 5 returns a BatchEncoding here, 4.x a list: either way a plain list[int] comes out.
    """
    rendered = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, enable_thinking=True
    )
    if isinstance(rendered, Mapping):
        rendered = rendered["input_ids"]
    if hasattr(rendered, "tolist"):
        rendered = rendered.tolist()
    if rendered and isinstance(rendered[0], list):
        (rendered,) = rendered
    return [int(token) for token in rendered]


def cache_kwargs(module, cache) -> dict[str, Any]:
    """Forward keyword arguments that hand ``cache`` (appended to in place) to ``module``.

    transformers 5.24 renamed the argument ``past_key_values`` to ``cache`` (the old name warns
    and goes in 5.40); reading the name off the forward signature works on both sides of it.
    """
    name = "cache" if "cache" in inspect.signature(module.forward).parameters else "past_key_values"
    return {name: cache, "use_cache": True}
