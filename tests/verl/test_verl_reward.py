"""The verl reward: loaded the way verl loads it, scored through verl's naive reward manager."""

from __future__ import annotations

import asyncio
import time

import pytest
import torch

pytest.importorskip("verl")
pytestmark = pytest.mark.verl

from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager  # noqa: E402
from verl.protocol import DataProto  # noqa: E402
from verl.trainer.ppo.reward import get_custom_reward_fn  # noqa: E402

from polsplit_cli.eval.grading import grade  # noqa: E402
from polsplit_cli.train.verl import reward  # noqa: E402
from polsplit_cli.train.verl.launch import compose  # noqa: E402

# sympy needs ~30 s to compare these (the grading tests' slow pair); the grader's worker limit stops it
HOSTILE = r"(13x-19)(x+1)^{30}"
HOSTILE_GOLD = r"(13x-19)\frac{(x+y+1)^{50}}{(x-y)^{20}}"


@pytest.fixture(scope="module")
def manager(tiny):
    _, tokenizer, _ = tiny
    cfg = compose("policy-split")
    fn = get_custom_reward_fn(cfg)  # resolves reward.custom_reward_function.path/name like verl's workers
    return tokenizer, lambda: NaiveRewardManager(cfg, tokenizer, fn)  # binds to the running event loop


def _item(tokenizer, response: str, gold: str) -> DataProto:
    ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    responses = torch.tensor([ids])
    return DataProto.from_dict(
        tensors={"responses": responses, "attention_mask": torch.ones_like(responses)},
        non_tensors={"data_source": ["polsplit/test"], "reward_model": [{"style": "rule", "ground_truth": gold}],
                     "extra_info": [{}]},
    )


def _score(tokenizer, make_manager, pairs):
    async def run():
        mgr = make_manager()
        return await asyncio.gather(*(mgr.run_single(_item(tokenizer, r, g)) for r, g in pairs))

    return [out["reward_score"] for out in asyncio.run(run())]


def test_reward_is_the_boxed_answer_after_think(manager):
    tokenizer, mgr = manager
    scores = _score(tokenizer, mgr, [
        ("<think>12+30=42</think> \\boxed{42}", "42"),
        ("<think>half</think> The answer is \\boxed{\\frac{1}{2}}.", "0.5"),
        ("<think>12+30=41</think> \\boxed{41}", "42"),
        ("<think>\\boxed{42} is it", "42"),  # cut off before </think>: no answer
        ("\\boxed{42}", "42"),
    ])
    assert scores == [1.0, 1.0, 0.0, 0.0, 0.0]


def test_a_pathological_answer_cannot_stall_the_reward_worker(manager, monkeypatch):
    tokenizer, mgr = manager
    monkeypatch.setattr(reward, "GRADE_TIMEOUT_S", 0.5)
    start = time.monotonic()
    scores = _score(tokenizer, mgr, [(f"<think>t</think> \\boxed{{{HOSTILE}}}", HOSTILE_GOLD),
                                     ("<think>t</think> \\boxed{2\\sqrt{2}}", "\\sqrt{8}")])
    elapsed = time.monotonic() - start
    assert scores[0] == 0.0  # timed out -> incorrect
    # the answer really is hostile: the grader had to stop it at the limit
    assert grade(f"</think>\\boxed{{{HOSTILE}}}", HOSTILE_GOLD, timeout=0.5).reason == "timeout"
    assert elapsed < 8.0  # far below the ~30 s sympy would take
    assert _score(tokenizer, mgr, [("<think>t</think> \\boxed{2\\sqrt{2}}", "\\sqrt{8}")]) == [1.0]
