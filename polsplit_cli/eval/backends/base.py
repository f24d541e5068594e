"""The sampling interface every backend implements, and the values that cross it.

Prompts arrive as token ids (rendered once by ``render_prompt_ids``), so every backend
sees identical prompts. Each request carries its own seed: sample j of a problem gets the
same seed in every mode, which is what makes mode comparisons paired.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class SamplingConfig:
    """The paper's sampling defaults (SPEC §7); every field is a CLI flag."""

    temperature: float = 0.6
    top_k: int = 20
    top_p: float = 0.95
    max_new_tokens: int = 32768
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EntropySum:
    """Summed per-token full-vocabulary entropy of one response, in bits, and its token count."""

    bits: float
    bits_tempered: float | None  # None for greedy decoding (temperature 0)
    tokens: int


@dataclass(frozen=True)
class GenerationRequest:
    key: Any  # opaque to the backend; the runner's (benchmark, problem, mode, sample)
    prompt_ids: list[int]
    seed: int


@dataclass(frozen=True)
class Generation:
    request: GenerationRequest
    token_ids: list[int]  # the response, EOS included when the model stopped
    finish_reason: str  # "stop" or "length"
    entropy: EntropySum | None = None  # set by backends that see the logits while sampling


class Backend(Protocol):
    """Generates responses; yields them in batches as they complete so results can be appended."""

    name: str

    def generate(self, requests: Sequence[GenerationRequest], sampling: SamplingConfig) -> Iterator[list[Generation]]:
        ...

    def close(self) -> None:
        ...
