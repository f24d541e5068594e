"""One Policy-Split step through verl's real FSDP2 actor worker on CPU (gloo), on the tiny model.

Rollouts come from the dual-mode agent loop with a real local generate server; rows are
built the way verl's TransferQueue post-processing builds them; rewards come from the
project grader. The actor worker (``ActorRolloutRefWorker(role="actor")`` under Ray)
computes old log-probs and entropies, the polsplit advantage step pairs the copies, and
the worker takes one optimizer step covering all questions (Q x 2G rows). What cannot run
here: verl's rollout replicas (vLLM/SGLang/TRT-LLM only), so ``PPOTrainer.fit`` itself and
TransferQueue are not exercised end to end.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import torch

pytest.importorskip("verl")
pytestmark = [pytest.mark.verl, pytest.mark.slow]

from verl_hf_server import HFGenerateServer  # noqa: E402

from polsplit_cli.prompts import math_task  # noqa: E402
from polsplit_cli.train.verl.launch import compose  # noqa: E402

G = 4
QUESTIONS = [("What is 12+30?", "42"), ("What is 7+5?", "12"), ("What is 58+67?", "125"), ("What is 96+89?", "185")]
HERE = Path(__file__).resolve().parent


def _config(folder):
    return compose("policy-split", overrides=[
        f"actor_rollout_ref.model.path={folder}", f"actor_rollout_ref.rollout.n={G}",
        f"data.train_batch_size={len(QUESTIONS)}", f"actor_rollout_ref.actor.ppo_mini_batch_size={len(QUESTIONS)}",
        "data.max_prompt_length=2048", "data.max_response_length=48",
        "trainer.n_gpus_per_node=1", "actor_rollout_ref.actor.strategy=fsdp2",
        "actor_rollout_ref.actor.fsdp_config.strategy=fsdp2",
        "actor_rollout_ref.actor.use_torch_compile=false", "actor_rollout_ref.actor.fsdp_config.use_torch_compile=false",
        "actor_rollout_ref.actor.ppo_max_token_len_per_gpu=4096",
        "actor_rollout_ref.model.enable_gradient_checkpointing=false",
        # as tests/verl/cpu_e2e.yaml: padded batches with sdpa (packed sequences would need flash-attn)
        # and float32 compute (bfloat16 autocast is slow on CPUs without bf16 units): ~10x faster here
        "actor_rollout_ref.model.use_remove_padding=false",
        "+actor_rollout_ref.model.override_config.attn_implementation=sdpa",
        "+actor_rollout_ref.actor.fsdp_config.mixed_precision={param_dtype: fp32, reduce_dtype: fp32, buffer_dtype: fp32}",
        "actor_rollout_ref.actor.optim.lr=1e-3",
    ])


def _rollouts(cfg, model, tokenizer):
    """Agent-loop outputs for every (question, session), keyed as verl keys them."""
    from verl.experimental.agent_loop.agent_loop import DictConfigWrap
    from verl.utils.dataset.rl_dataset import RLHFDataset

    from polsplit_cli.train.verl.agent_loop import PolicySplitAgentLoop

    server = HFGenerateServer(model, tokenizer, max_new_tokens=48)

    async def run():
        loop = PolicySplitAgentLoop(
            trainer_config=DictConfigWrap(cfg), server_manager=server, tokenizer=tokenizer, processor=None,
            dataset_cls=RLHFDataset, data_config=DictConfigWrap(cfg.data), hf_model_type="qwen3",
        )
        out = {}
        params = {"temperature": 1.0, "top_p": 1.0, "top_k": -1}
        for q, (question, gold) in enumerate(QUESTIONS):
            messages = [{"role": "user", "content": math_task(question)}]
            for s in range(G):
                out[(f"q{q}", s, gold)] = await loop.run(params, raw_prompt=messages, session_id=s)
        return out

    return asyncio.run(run())


def _rows(rollouts, tokenizer):
    """Per-row fields as verl's AgentLoopWorkerTQ stores them (reward on the last token of both copies)."""
    from polsplit_cli.train.verl.reward import compute_score

    keys, rows = [], []
    for (uid, session, gold), outputs in rollouts.items():
        text = tokenizer.decode(outputs[-1].response_ids, skip_special_tokens=True)
        reward = compute_score("polsplit/test", text, gold)
        for index, output in enumerate(outputs):
            prompts = torch.tensor(output.prompt_ids)
            responses = torch.tensor(output.response_ids)
            input_ids = torch.cat([prompts, responses])
            scores = torch.zeros(len(responses))
            scores[-1] = reward
            rows.append({
                "prompts": prompts, "responses": responses, "input_ids": input_ids,
                "attention_mask": torch.ones_like(input_ids), "position_ids": torch.arange(len(input_ids)),
                "response_mask": torch.tensor(output.response_mask), "loss_mask": torch.tensor(output.response_mask),
                "rm_scores": scores,
            })
            keys.append(f"{uid}_{session}_{index}")
    return keys, rows


def _jagged(rows: list[dict]):
    """Rows as TransferQueue hands them to the workers: every field a jagged (nested) tensor."""
    from tensordict import TensorDict

    fields = {key: torch.nested.as_nested_tensor([row[key] for row in rows], layout=torch.jagged) for key in rows[0]}
    return TensorDict(fields, batch_size=len(rows))


def test_policy_split_step_on_the_real_fsdp2_actor_worker(tiny):
    import ray
    from verl.single_controller.ray import RayClassWithInitArgs, RayResourcePool, RayWorkerGroup
    from verl.utils import tensordict_utils as tu
    from verl.workers.utils.padding import response_from_nested

    from polsplit_cli.train.verl.settings import PolicySplitSettings
    from polsplit_cli.train.verl.trainer import advantage_fields

    model, tokenizer, folder = tiny
    cfg = _config(folder)
    keys, rows = _rows(_rollouts(cfg, model, tokenizer), tokenizer)

    env = {
        "VERL_USE_EXTERNAL_MODULES": "verl_cpu_platform,polsplit_cli.train.verl.plugin",
        "VERL_ENGINE_DEVICE": "cuda", "VERL_ENGINE_VENDOR": "nvidia", "CUDA_VISIBLE_DEVICES": "",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1",
    }
    ray.init(num_cpus=4, runtime_env={"env_vars": env}, include_dashboard=False, log_to_driver=False)
    try:
        pool = RayResourcePool(process_on_nodes=[1], use_gpu=False, max_colocate_count=1)
        worker = RayClassWithInitArgs(cls=ray.remote(_worker_cls()), config=cfg.actor_rollout_ref, role="actor")
        wg = RayWorkerGroup(resource_pool=pool, ray_cls_with_init=worker, use_gpu=False)
        wg.init_model()

        def log_probs():
            batch = _jagged(rows)
            tu.assign_non_tensor(batch, calculate_entropy=True, compute_loss=False, temperature=1.0)
            out = wg.compute_log_prob(batch)  # a TensorDict (blocking call on the worker group)
            mask = batch["response_mask"]
            return response_from_nested(out["log_probs"], mask), response_from_nested(out["entropy"], mask)

        old_log_probs, entropy = log_probs()
        batch = _jagged(rows)
        batch["old_log_probs"], batch["entropy"] = old_log_probs, entropy
        tags = [{} for _ in keys]
        fields, metrics = advantage_fields(batch, keys, tags, G, PolicySplitSettings(algorithm="policy-split"))
        batch["advantages"], batch["loss_mask"] = fields["advantages"], fields["loss_mask"]
        assert 0.0 <= metrics["policy_split/normal/accuracy"] <= 1.0 and "policy_split/adv/entropy_term_clip_fraction" in metrics
        rewards = [rows[i]["rm_scores"].sum().item() for i in range(0, len(rows), 2)]
        groups = [set(rewards[q * G:(q + 1) * G]) for q in range(len(QUESTIONS))]
        assert any(len(g) == 2 for g in groups), f"no question has mixed rewards {rewards}: is the tiny model warmed up?"

        rows_per_step = 2 * G * len(QUESTIONS)  # ppo_mini_batch_size questions x 2G rows: ONE optimizer step
        tu.assign_non_tensor(batch, calculate_entropy=False, global_batch_size=rows_per_step,
                             mini_batch_size=rows_per_step, epochs=1, seed=1, dataloader_kwargs={"shuffle": False},
                             temperature=1.0)
        update = wg.update_actor(batch)["metrics"]
        assert len(update["grad_norm"]) == 1  # one optimizer step for all questions x 2G rows
        assert 0.0 < float(update["grad_norm"][0]) < float("inf")

        new_log_probs, _ = log_probs()
        moved = (new_log_probs.values() - old_log_probs.values()).abs().mean()
        assert moved > 1e-4  # the policy actually changed
    finally:
        ray.shutdown()


def _worker_cls():
    from verl.workers.engine_workers import ActorRolloutRefWorker

    return ActorRolloutRefWorker
