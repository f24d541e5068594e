"""The polsplit V1 trainer's mini-batch arithmetic, through verl's own ``_update_actor``.

Only the actor worker group is replaced (by one that records what verl would send it); the
trainer, its config and verl's update code are the real ones.
"""

from __future__ import annotations

import math

import pytest

pytest.importorskip("verl")
pytestmark = pytest.mark.verl

from transfer_queue import KVBatchMeta  # noqa: E402
from verl.trainer.ppo.v1 import get_trainer_cls  # noqa: E402

from polsplit_cli.errors import UserError  # noqa: E402
from polsplit_cli.train.verl.launch import compose  # noqa: E402
from polsplit_cli.train.verl.trainer import PolicySplitTrainer  # noqa: E402


class RecordingWorkerGroup:
    def update_actor(self, batch):
        self.extra_info = dict(batch.extra_info)
        return {"metrics": {"mfu": [0.0], "grad_norm": [1.0]}}


def _update_rows(trainer) -> int:
    trainer.global_steps = 1
    trainer.actor_rollout_wg = RecordingWorkerGroup()
    trainer._update_actor(KVBatchMeta(keys=["u_0_0"], tags=[{}]), {})
    return trainer.actor_rollout_wg.extra_info["mini_batch_size"]


@pytest.mark.parametrize(("algo", "rows_per_question"), [("policy-split", 16), ("grpo-sharing", 16),
                                                         ("forking-tokens", 8)])
def test_one_optimizer_step_covers_ppo_mini_batch_size_questions(algo, rows_per_question):
    cfg = compose(algo)  # G = 8, ppo_mini_batch_size = 64 questions
    trainer = get_trainer_cls(cfg.trainer.v1.trainer_mode)(cfg)
    assert isinstance(trainer, PolicySplitTrainer)
    assert _update_rows(trainer) == 64 * rows_per_question
    assert trainer._get_required_batch_multiple(8) == math.lcm(8, 64 * rows_per_question)
    assert cfg.actor_rollout_ref.rollout.n == 8  # restored after each use


def test_stock_trainer_counts_g_rows_per_question():
    cfg = compose("grpo")
    trainer = get_trainer_cls(cfg.trainer.v1.trainer_mode)(cfg)
    assert not isinstance(trainer, PolicySplitTrainer)
    assert _update_rows(trainer) == 64 * 8


def test_polsplit_trainer_refuses_algorithms_verl_runs_itself():
    with pytest.raises(UserError, match="stock trainer"):
        PolicySplitTrainer(compose("clip-cov"))
