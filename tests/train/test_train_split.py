"""Direction of the Policy Split effect, isolated: same start, same rollouts, with and without the term.

policy-split and grpo-sharing sample identical rollouts (same seed, same dual-mode layout, same
sampler draws) and give the normal copies identical advantages; they differ only in the HE
copies' dual-mode entropy term. After one update, the HE-prompt entropy of the step's HE
responses must be higher with the term than without it. (The full demo-length split is a
measured result in docs/train.md, not a unit test: see there for what the tiny model shows.)
"""

import torch
from train_fixtures import small_config

from polsplit_cli.algo import HIGH_ENTROPY
from polsplit_cli.train.loop import Trainer


class RecordingTrainer(Trainer):
    """Keeps the step's rollouts so the test can score them again after the update."""

    def _rollout(self, questions):
        self.recorded = super()._rollout(questions)
        return self.recorded


def he_entropy_after_one_step(tmp_path, algo: str) -> tuple[float, list[list[int]]]:
    config = small_config(algo=algo, steps=1, questions_per_step=8, group_size=8, max_new_tokens=32,
                          lr=5e-4, eta=1.0, eval_size=0, seed=0)
    trainer = RecordingTrainer(config, tmp_path / algo)
    trainer.train_step()
    groups, responses, gen_mode = trainer.recorded
    questions = [row // config.group_size for row in range(len(responses))]
    scores = trainer._score(groups, questions, responses, gen_mode)
    he_rows = (torch.tensor(gen_mode) == HIGH_ENTROPY)[:, None] * scores.mask
    return float((scores.entropy[HIGH_ENTROPY] * he_rows).sum() / he_rows.sum()), responses


def test_entropy_term_raises_he_entropy_against_the_same_update_without_it(tmp_path):
    with_term, rollouts = he_entropy_after_one_step(tmp_path, "policy-split")
    without_term, same_rollouts = he_entropy_after_one_step(tmp_path, "grpo-sharing")
    assert rollouts == same_rollouts  # the only difference is the advantage of the HE copies
    assert with_term > without_term
