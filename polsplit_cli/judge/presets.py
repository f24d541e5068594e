"""Judges: the paper's three presets plus any OpenAI-compatible endpoint (``--model``/``--base-url``).

Request parameters are part of each judge's cache key, so changing one re-judges. The paper
(Appendix C.3/D) names the judges but not their sampling settings; the choices here follow
common judge practice (EQ-Bench: temperature 0) and are recorded in every manifest.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from polsplit_cli.errors import UserError

# A local server (vLLM, llama.cpp) accepts any key; the SDK needs a non-empty one.
NO_KEY_PLACEHOLDER = "EMPTY"


@dataclass(frozen=True)
class Judge:
    """One judge: where to send requests, which env var holds its key, and the request parameters."""

    name: str
    model: str
    base_url: str
    api_key_env: str | None
    params: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """What a manifest records (the env var's name, never its value)."""
        return {
            "name": self.name,
            "model": self.model,
            "base_url": self.base_url,
            "api_key_env": self.api_key_env,
            "params": dict(self.params),
        }


PRESETS: dict[str, Judge] = {
    # GPT-5 accepts only the default temperature (1); max_completion_tokens includes reasoning tokens.
    "gpt-5": Judge(
        "gpt-5",
        "gpt-5",
        "https://api.openai.com/v1",
        "OPENAI_API_KEY",
        {"max_completion_tokens": 4096, "reasoning_effort": "minimal"},
    ),
    "gpt-4o": Judge(
        "gpt-4o",
        "gpt-4o",
        "https://api.openai.com/v1",
        "OPENAI_API_KEY",
        {"temperature": 0.0, "max_tokens": 512},
    ),
    # The deepseek-chat alias has pointed at several model versions: response.model is recorded per call.
    "deepseek-v3": Judge(
        "deepseek-v3",
        "deepseek-chat",
        "https://api.deepseek.com",
        "DEEPSEEK_API_KEY",
        {"temperature": 0.0, "max_tokens": 512},
    ),
}

CUSTOM_PARAMS = {"temperature": 0.0, "max_tokens": 512}


def resolve_judges(
    names: list[str],
    *,
    model: str | None = None,
    base_url: str | None = None,
    api_key_env: str | None = None,
) -> list[Judge]:
    """The judges asked for: named presets, then one custom judge when ``model`` is given."""
    judges = []
    for name in names:
        if name not in PRESETS:
            raise UserError(f"unknown judge '{name}': choose from {', '.join(PRESETS)} or use --model/--base-url")
        judges.append(PRESETS[name])
    if model is None and (base_url is not None or api_key_env is not None):
        raise UserError("--base-url/--api-key-env need --model (the model id the endpoint serves)")
    if api_key_env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", api_key_env):
        # never echo the value: it may be the key itself, pasted by mistake
        raise UserError("--api-key-env takes the NAME of an environment variable (e.g. MY_JUDGE_KEY), not the key")
    if model is not None:
        if base_url is None:
            raise UserError("--model needs --base-url (e.g. http://127.0.0.1:8000/v1 for a local vLLM server)")
        judges.append(Judge(model, model, base_url, api_key_env, dict(CUSTOM_PARAMS)))
    seen = set()
    for judge in judges:
        if judge.name in seen:
            raise UserError(f"judge '{judge.name}' is named twice")
        seen.add(judge.name)
    return judges


def api_key(judge: Judge) -> str:
    """The judge's key from its environment variable (a one-line UserError when it is not set)."""
    if judge.api_key_env is None:
        return NO_KEY_PLACEHOLDER
    value = os.environ.get(judge.api_key_env, "").strip()
    if not value:
        raise UserError(
            f"judge '{judge.name}' needs an API key: set the environment variable {judge.api_key_env}"
        )
    return value
