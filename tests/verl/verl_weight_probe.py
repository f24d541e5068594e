"""Test-only: after every weight sync, record what the vLLM engine computes for one fixed text.

Checked against verl 0.9.1. Loaded through VERL_USE_EXTERNAL_MODULES; active only when
``POLSPLIT_TEST_PROBE_FILE`` names a file. After ``PPOTrainerSync.on_init_end`` (the first sync,
also after a resume) and every ``on_step_end`` (the sync after each actor update) it asks the
rollout server for the prompt log-probs of ``PROBE_TEXT`` (temperature 1, no top-k/p, so the
processed log-probs are the raw ones) and appends ``{"global_steps", "ids", "logprobs"}``. The
end-to-end test scores the same ids with the actor's saved weights: equal log-probs mean vLLM
serves the weights the actor trained, not the ones it started with.
"""

from __future__ import annotations

import json
import os

PROBE_FILE_ENV = "POLSPLIT_TEST_PROBE_FILE"
PROBE_TEXT = ("<|im_start|>user\nWhat is 12+30?<|im_end|>\n<|im_start|>assistant\n"
              "<think>12+30=42</think> \\boxed{42}<|im_end|>")


def probe(trainer) -> None:
    """Append the engine's prompt log-probs of PROBE_TEXT at ``trainer.global_steps``."""
    import ray

    ids = trainer.tokenizer.encode(PROBE_TEXT, add_special_tokens=False)
    server = trainer.llm_server_manager.get_replicas()[0].servers[0]
    params = {"temperature": 1.0, "top_p": 1.0, "top_k": -1, "prompt_logprobs": 0, "max_tokens": 1}
    out = ray.get(server.generate.remote(prompt_ids=ids, sampling_params=params,
                                         request_id=f"weight-probe-{trainer.global_steps}"))
    logprobs = [row[0] for row in out.extra_fields["prompt_logprobs"][:-1]]  # verl pads one last entry
    with open(os.environ[PROBE_FILE_ENV], "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"global_steps": trainer.global_steps, "ids": ids, "logprobs": logprobs}) + "\n")


def _then_probe(method):
    def wrapped(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        probe(self)
        return result

    return wrapped


if os.environ.get(PROBE_FILE_ENV):
    from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync

    PPOTrainerSync.on_init_end = _then_probe(PPOTrainerSync.on_init_end)
    PPOTrainerSync.on_step_end = _then_probe(PPOTrainerSync.on_step_end)
