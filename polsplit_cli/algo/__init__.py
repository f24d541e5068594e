"""The method's math, in pure PyTorch: advantages, baselines, losses, rollout layout, entropy/KL.

Layout: rewards [Q, G]; token values [Q, G, T] with a 0/1 mask; entropies in nats. No verl/vllm imports.
See docs/algo.md for the mapping to SPEC equations and the decisions taken.
"""

from polsplit_cli.algo._checks import AlgoConfigError
from polsplit_cli.algo.advantages import (
    PolicySplitKnobs,
    PolicySplitResult,
    grpo_advantages,
    policy_split,
    policy_split_advantages,
    policy_split_clip_fraction,
)
from polsplit_cli.algo.baselines import (
    clip_cov_mask,
    entropy_advantage,
    entropy_driven_advantage,
    forking_token_mask,
)
from polsplit_cli.algo.entropy import (
    TokenStats,
    chunked_token_kl,
    chunked_token_stats,
    to_bits,
    token_entropy,
    token_kl,
    token_logprobs,
)
from polsplit_cli.algo.layout import HIGH_ENTROPY, NORMAL, PromptMode, RolloutLayout, rollout_layout
from polsplit_cli.algo.loss import LOSS_AGG_MODES, entropy_regularization_loss, ppo_clip_loss
from polsplit_cli.algo.training_metrics import mode_metrics

__all__ = [
    "AlgoConfigError",
    "HIGH_ENTROPY",
    "LOSS_AGG_MODES",
    "NORMAL",
    "PolicySplitKnobs",
    "PolicySplitResult",
    "PromptMode",
    "RolloutLayout",
    "TokenStats",
    "chunked_token_kl",
    "chunked_token_stats",
    "clip_cov_mask",
    "entropy_advantage",
    "entropy_driven_advantage",
    "entropy_regularization_loss",
    "forking_token_mask",
    "grpo_advantages",
    "mode_metrics",
    "policy_split",
    "policy_split_advantages",
    "policy_split_clip_fraction",
    "ppo_clip_loss",
    "rollout_layout",
    "to_bits",
    "token_entropy",
    "token_kl",
    "token_logprobs",
]
