"""The ``polsplit`` V1 trainer: verl's synchronous PPO trainer with our advantage step.

Selected with ``trainer.v1.trainer_mode=polsplit``. Everything else (rollout, old
log-probs, balancing, the PPO update, checkpoints, logging) is verl's. Three overrides:

- ``_compute_advantage`` reads the rows from TransferQueue, pairs them by key
  (``advantage_fields`` -> ``advantage.advantage_step``) and writes ``advantages``/``returns``/``loss_mask`` back;
  the Policy-Split metrics it returns go to verl's tracker with the step's other metrics.
- ``_update_actor`` and ``_get_required_batch_multiple``: verl sizes an actor mini-batch as
  ``ppo_mini_batch_size * rollout.n`` rows. A dual-mode question has ``2 * rollout.n`` rows,
  so while the update runs ``rollout.n`` is read as the rows per question. One optimizer
  step therefore still covers ``ppo_mini_batch_size`` questions (raising
  ``ppo_mini_batch_size`` instead is refused by verl's ActorConfig check when it exceeds
  ``data.train_batch_size``).
"""

from __future__ import annotations

from contextlib import contextmanager

import transfer_queue as tq
from omegaconf import open_dict
from tensordict import TensorDict
from verl.trainer.ppo.v1.trainer_base import register_trainer
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync
from verl.workers.utils.padding import response_to_nested

from polsplit_cli.errors import UserError
from polsplit_cli.train.verl.advantage import RowBatch, advantage_step
from polsplit_cli.train.verl.settings import PolicySplitSettings

TRAINER_NAME = "polsplit"
ROW_FIELDS = ["response_mask", "rm_scores", "old_log_probs", "entropy"]


def advantage_fields(data: TensorDict, keys, tags, group_size: int, settings: PolicySplitSettings):
    """TransferQueue rows (nested ``ROW_FIELDS``) -> (nested advantages/returns/loss_mask, metrics)."""
    nested_mask = data["response_mask"]
    padded = data.select(*ROW_FIELDS).to_padded_tensor()
    result = advantage_step(
        RowBatch(
            keys=keys,
            is_padding=[bool(tag.get("is_padding", False)) for tag in tags],
            rewards=padded["rm_scores"],
            old_log_probs=padded["old_log_probs"],
            entropy=padded["entropy"],
            response_mask=padded["response_mask"],
        ),
        group_size,
        settings,
    )
    advantages = response_to_nested(result.advantages, nested_mask)
    fields = {
        "advantages": advantages,
        "returns": advantages.clone(),
        "loss_mask": response_to_nested(result.loss_mask, nested_mask),
    }
    return TensorDict(fields, batch_size=len(keys)), result.metrics


@register_trainer(TRAINER_NAME)
class PolicySplitTrainer(PPOTrainerSync):
    def __init__(self, config):
        super().__init__(config)
        self.settings = PolicySplitSettings.from_config(config)
        if not self.settings.uses_polsplit_trainer:
            raise UserError(f"{self.settings.algorithm} runs on verl's stock trainer: set trainer.v1.trainer_mode=sync")
        self.group_size = int(config.actor_rollout_ref.rollout.n)
        self.rows_per_question = self.group_size * (2 if self.settings.dual else 1)

    def _compute_advantage(self, batch, metrics: dict):
        data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=ROW_FIELDS)
        fields, step_metrics = advantage_fields(data, batch.keys, batch.tags, self.group_size, self.settings)
        metrics.update(step_metrics)
        return tq.kv_batch_put(keys=batch.keys, partition_id=batch.partition_id, fields=fields)

    @contextmanager
    def _rollout_n_as_rows_per_question(self):
        """Let verl's ``ppo_mini_batch_size * rollout.n`` arithmetic count rows of a dual-mode question."""
        rollout = self.config.actor_rollout_ref.rollout
        with open_dict(rollout):
            rollout.n = self.rows_per_question
        try:
            yield
        finally:
            with open_dict(rollout):
                rollout.n = self.group_size

    def _update_actor(self, batch, metrics: dict):
        with self._rollout_n_as_rows_per_question():
            return super()._update_actor(batch, metrics)

    def _get_required_batch_multiple(self, dp_size: int) -> int:
        with self._rollout_n_as_rows_per_question():
            return super()._get_required_batch_multiple(dp_size)

