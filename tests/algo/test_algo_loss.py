"""PPO clipped loss and entropy regularization against hand-computed values."""

import math

import pytest
import torch

from polsplit_cli.algo import entropy_regularization_loss, ppo_clip_loss

# Five tokens in two sequences ([2, 3], last position padded), clip_eps 0.2:
#   t1: A= 1, rho=1.5: -A*rho=-1.5, -A*clip=-1.2 -> max -1.2 (clipped branch, counts)
#   t2: A= 1, rho=0.5: -0.5 vs -0.8            -> -0.5
#   t3: A=-1, rho=1.5:  1.5 vs  1.2            ->  1.5
#   t4: A=-1, rho=0.5:  0.5 vs  0.8            ->  0.8 (clipped branch, counts)
#   t5: A= 2, rho=1.0: -2.0 vs -2.0            -> -2.0
# token-mean = (-1.2 - 0.5 + 1.5 + 0.8 - 2.0) / 5 = -0.28; clip fraction 2/5
# seq sums: -0.2 and -1.2 -> seq-mean-token-sum -0.7; seq means -0.2/3, -0.6 -> seq-mean-token-mean -0.3333333
# approx_kl = mean(old - logp) = (-ln1.5 + ln2 - ln1.5 + ln2 + 0) / 5 = 0.1150728
# d(token-mean)/d logp = -A*rho/5 on the unclipped tokens: t2 -0.1, t3 0.3, t5 -0.4; 0 on t1, t4, padding
LN = math.log
OLD = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
LOGP = torch.tensor([[LN(1.5), LN(0.5), LN(1.5)], [LN(0.5), 0.0, float("nan")]])
ADV = torch.tensor([[1.0, 1.0, -1.0], [-1.0, 2.0, 5.0]])
MASK = torch.tensor([[1, 1, 1], [1, 1, 0]])


@pytest.mark.parametrize(
    ("agg", "expected"),
    [("token-mean", -0.28), ("seq-mean-token-sum", -0.7), ("seq-mean-token-mean", -1 / 3)],
)
def test_ppo_clip_loss_by_hand(agg, expected):
    logp = LOGP.clone().requires_grad_(True)
    loss, stats = ppo_clip_loss(logp, OLD, ADV, MASK, clip_eps=0.2, agg=agg)
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    assert stats["clip_fraction"].item() == pytest.approx(0.4)
    assert stats["approx_kl"].item() == pytest.approx(0.1150728, abs=1e-6)
    assert not stats["clip_fraction"].requires_grad and stats["approx_kl"].dim() == 0
    loss.backward()
    assert torch.isfinite(logp.grad).all()
    if agg == "token-mean":
        torch.testing.assert_close(logp.grad, torch.tensor([[0.0, -0.1, 0.3], [0.0, -0.4, 0.0]]))


def test_ppo_clip_loss_per_sequence_advantage_broadcasts():
    loss_tok, _ = ppo_clip_loss(LOGP, OLD, torch.tensor([[1.0] * 3, [-1.0] * 3]), MASK)
    loss_seq, _ = ppo_clip_loss(LOGP, OLD, torch.tensor([1.0, -1.0]), MASK)
    # rho 1.5,0.5,1.5 with A=1 -> -1.2,-0.5,-1.2; rho 0.5,1 with A=-1 -> 0.8, 1.0: sum -1.1 / 5
    assert loss_tok.item() == pytest.approx(-0.22, abs=1e-6) and loss_seq.item() == pytest.approx(
        -0.22, abs=1e-6
    )


def test_ppo_clip_loss_all_masked_is_zero_not_nan():
    loss, stats = ppo_clip_loss(LOGP, OLD, ADV, torch.zeros_like(MASK))
    assert loss.item() == 0.0 and stats["clip_fraction"].item() == 0.0


def test_ppo_clip_loss_rejects_bad_input():
    with pytest.raises(ValueError, match="agg"):
        ppo_clip_loss(LOGP, OLD, ADV, MASK, agg="sum")
    with pytest.raises(ValueError, match="adv"):
        ppo_clip_loss(LOGP, OLD, ADV[:, :2], MASK)
    with pytest.raises(ValueError, match="clip_eps"):
        ppo_clip_loss(LOGP, OLD, ADV, MASK, clip_eps=0.0)


def test_entropy_regularization_by_hand():
    # token-mean entropy over (1, 2, 3) = 2 -> -0.003 * 2; seq-mean-token-mean: (1.5 + 3) / 2 = 2.25
    entropy = torch.tensor([[1.0, 2.0], [3.0, float("inf")]], requires_grad=True)
    mask = torch.tensor([[1, 1], [1, 0]])
    loss = entropy_regularization_loss(entropy, mask)
    assert loss.item() == pytest.approx(-0.006)
    loss.backward()
    torch.testing.assert_close(entropy.grad, torch.tensor([[-0.001, -0.001], [-0.001, 0.0]]))
    assert entropy_regularization_loss(
        entropy, mask, coeff=1.0, agg="seq-mean-token-mean"
    ).item() == pytest.approx(-2.25)


def test_ppo_clip_loss_survives_a_wild_log_ratio():
    # logp - old = 500 would overflow exp; like verl the log-ratio is clamped to 20: A=-1 -> loss e^20
    logp = torch.tensor([[500.0]], requires_grad=True)
    loss, stats = ppo_clip_loss(logp, torch.zeros(1, 1), torch.tensor([[-1.0]]), torch.ones(1, 1))
    assert loss.item() == pytest.approx(math.exp(20.0)) and stats["approx_kl"].item() == pytest.approx(-20.0)
    loss.backward()
    assert logp.grad.item() == 0.0
