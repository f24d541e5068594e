"""The dual-mode agent loop with the tiny model's real tokenizer and a real local generate server."""

from __future__ import annotations

import asyncio

import pytest
import torch

pytest.importorskip("verl")
pytestmark = pytest.mark.verl

from verl.experimental.agent_loop.agent_loop import DictConfigWrap  # noqa: E402
from verl.utils.dataset.rl_dataset import RLHFDataset  # noqa: E402
from verl_hf_server import HFGenerateServer  # noqa: E402

from polsplit_cli.models import render_prompt_ids  # noqa: E402
from polsplit_cli.modes import HIGH_ENTROPY, get_mode  # noqa: E402
from polsplit_cli.prompts import math_task  # noqa: E402
from polsplit_cli.train.verl.agent_loop import PolicySplitAgentLoop, he_messages  # noqa: E402
from polsplit_cli.train.verl.launch import compose  # noqa: E402

G = 4


def _loop(tiny, server, prompt_length=2048):
    _, tokenizer, folder = tiny
    cfg = compose("policy-split", overrides=[
        f"actor_rollout_ref.model.path={folder}", f"actor_rollout_ref.rollout.n={G}",
        f"data.max_prompt_length={prompt_length}", "data.max_response_length=24",
    ])
    return PolicySplitAgentLoop(
        trainer_config=DictConfigWrap(cfg), server_manager=server, tokenizer=tokenizer, processor=None,
        dataset_cls=RLHFDataset, data_config=DictConfigWrap(cfg.data), hf_model_type="qwen3",
    )


def test_each_session_returns_one_response_under_both_prompts(tiny):
    model, tokenizer, _ = tiny
    server = HFGenerateServer(model, tokenizer, max_new_tokens=24)
    user = math_task("What is 12+30?")
    normal_msgs = [{"role": "user", "content": user}]
    he_msgs = get_mode(HIGH_ENTROPY).messages(user)
    normal_ids, he_ids = render_prompt_ids(tokenizer, normal_msgs), render_prompt_ids(tokenizer, he_msgs)
    assert normal_ids != he_ids

    params = {"temperature": 1.0, "top_p": 1.0, "top_k": -1, "repetition_penalty": 1.0, "logprobs": False}

    async def run_all():  # the loop binds to the running event loop, so build it inside
        loop = _loop(tiny, server)
        return [await loop.run(params, raw_prompt=normal_msgs, session_id=s, uid="u", index=0) for s in range(G)]

    sessions = asyncio.run(run_all())
    assert len(server.served) == G  # one generation per session, never per copy
    for session, (outputs, (served_prompt, served_response)) in enumerate(zip(sessions, server.served, strict=True)):
        normal_copy, he_copy = outputs
        # generated under the session's mode; output 0 carries the normal prompt, output 1 the HE prompt
        assert served_prompt == (he_ids if session >= G // 2 else normal_ids)
        assert normal_copy.prompt_ids == normal_ids and he_copy.prompt_ids == he_ids
        # identical response ids and masks in both copies: exactly what the server produced
        assert normal_copy.response_ids == he_copy.response_ids == served_response
        assert len(served_response) > 0
        assert normal_copy.response_mask == he_copy.response_mask == [1] * len(served_response)
        # verl's TransferQueue post-processing reads the copies through as_dict()
        a, b = normal_copy.as_dict(), he_copy.as_dict()
        assert a["prompts"].tolist() == normal_ids and b["prompts"].tolist() == he_ids
        assert a["responses"].tolist() == b["responses"].tolist() == served_response


def _verl_reward(outputs, tokenizer, gold: str) -> float:
    """verl 0.9.1's reward of one session: its agent-loop worker right-pads the session's outputs
    together (``AgentLoopWorker._compute_score``) and its reward manager scores the last row."""
    import numpy as np
    from tensordict import TensorDict
    from verl import DataProto
    from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager

    from polsplit_cli.train.verl.reward import compute_score

    def pad(rows):
        return torch.nn.utils.rnn.pad_sequence([torch.tensor(r) for r in rows], batch_first=True, padding_value=0)

    inputs = [o.prompt_ids + o.response_ids for o in outputs]
    batch = TensorDict({"prompts": pad([o.prompt_ids for o in outputs]), "responses": pad([o.response_ids for o in outputs]),
                        "input_ids": pad(inputs), "attention_mask": pad([[1] * len(i) for i in inputs])},
                       batch_size=len(outputs))
    info = {"data_source": "polsplit/test", "reward_model": {"ground_truth": gold}, "extra_info": {}}
    data = DataProto(batch=batch, non_tensor_batch={k: np.array([v] * len(outputs)) for k, v in info.items()})

    async def score():
        return await NaiveRewardManager(None, tokenizer, compute_score).run_single(data)

    return float(asyncio.run(score())["reward_score"])


def test_verl_scores_the_response_of_every_session_in_either_mode(tiny):
    """Regression: with the normal copy last, verl read padding as the response and scored every
    normal-mode session 0 (seen end to end with vLLM)."""
    model, tokenizer, _ = tiny
    server = HFGenerateServer(model, tokenizer, max_new_tokens=24)
    response = tokenizer.encode("<think>12+30=42</think> \\boxed{42}", add_special_tokens=False)
    server.generate = _fixed_response(response)
    messages = [{"role": "user", "content": math_task("What is 12+30?")}]

    async def run_all():
        loop = _loop(tiny, server)
        return [await loop.run({"temperature": 1.0}, raw_prompt=messages, session_id=s) for s in range(G)]

    for session, outputs in enumerate(asyncio.run(run_all())):
        assert _verl_reward(outputs, tokenizer, "42") == 1.0, f"session {session}"
        assert _verl_reward(outputs, tokenizer, "41") == 0.0, f"session {session}"


def _fixed_response(token_ids):
    async def generate(*, prompt_ids, sampling_params, **_ignored):
        from verl.workers.rollout.replica import TokenOutput

        return TokenOutput(token_ids=list(token_ids), stop_reason="completed")

    return generate


def test_a_prompt_that_would_be_truncated_fails_the_session(tiny):
    model, tokenizer, _ = tiny
    server = HFGenerateServer(model, tokenizer, max_new_tokens=4)
    messages = [{"role": "user", "content": math_task("What is 1+2?")}]
    assert len(render_prompt_ids(tokenizer, messages)) < 300  # the normal prompt fits, the HE one does not

    async def run_one():
        loop = _loop(tiny, server, prompt_length=300)
        return await loop.run({"temperature": 1.0, "top_p": 1.0, "top_k": -1}, raw_prompt=messages, session_id=0)

    with pytest.raises(ValueError, match="max_prompt_length"):
        asyncio.run(run_one())


def test_he_prompt_is_a_system_turn_and_normal_prompts_must_not_have_one():
    system = get_mode(HIGH_ENTROPY).system
    normal = [{"role": "user", "content": "q"}]
    assert he_messages(normal, system) == [{"role": "system", "content": system}, {"role": "user", "content": "q"}]
    with pytest.raises(ValueError, match="system turn"):
        he_messages([{"role": "system", "content": "x"}, *normal], system)
