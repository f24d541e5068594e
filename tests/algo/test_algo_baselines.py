"""SPEC §6 baselines: entropy advantage, EDGE-GRPO, forking tokens, Clip-Cov; hand-worked cases + properties."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from polsplit_cli.algo import clip_cov_mask, entropy_advantage, entropy_driven_advantage, forking_token_mask

NAN, INF = float("nan"), float("inf")


def close(actual, expected, atol=1e-6):
    torch.testing.assert_close(actual, torch.tensor(expected, dtype=actual.dtype), atol=atol, rtol=0)


def test_entropy_advantage_by_hand():
    # alpha 0.4, kappa 2: A=1, H=0.5 -> min(0.2, 0.5) = 0.2 -> 1.2;  A=1, H=3 -> min(1.2, 0.5) -> 1.5
    #                     A=-1, H=0.5 -> -1 + 0.2 = -0.8;           A=-1, H=3 -> -1 + 0.5 = -0.5
    #                     A=0 -> bound 0 -> 0; padding -> 0
    adv = torch.tensor([[1.0, -1.0, 0.0]])
    entropy = torch.tensor([[[0.5, 3.0], [0.5, 3.0], [2.0, NAN]]])
    mask = torch.tensor([[[1, 1], [1, 1], [1, 0]]])
    close(entropy_advantage(adv, entropy, mask), [[[1.2, 1.5], [-0.8, -0.5], [0.0, 0.0]]])
    # token-level advantages give the same result
    close(
        entropy_advantage(adv.unsqueeze(2).expand(1, 3, 2), entropy, mask),
        [[[1.2, 1.5], [-0.8, -0.5], [0.0, 0.0]]],
    )


def test_entropy_driven_advantage_by_hand():
    # P_0 = mean(1, 3) = 2; P_1 = mean(4) = 4 (second token padded); P_2 = mean(6, 0) = 3; o3 has no tokens.
    # mean_j P_j over responses with tokens = (2 + 4 + 3) / 3 = 3
    # A = 1, -1, 0.5, 7 -> 1*3/2 = 1.5, -1*3/4 = -0.75, 0.5*3/3 = 0.5, (no tokens) 0
    adv = torch.tensor([[1.0, -1.0, 0.5, 7.0]])
    entropy = torch.tensor([[[1.0, 3.0], [4.0, 100.0], [6.0, 0.0], [9.0, 9.0]]])
    mask = torch.tensor([[[1, 1], [1, 0], [1, 1], [0, 0]]])
    close(entropy_driven_advantage(adv, entropy, mask), [[[1.5, 1.5], [-0.75, 0.0], [0.5, 0.5], [0.0, 0.0]]])


def test_entropy_driven_advantage_is_per_question():
    # the second question's responses have 10x the entropy: its scale factors are the same as the first's
    adv = torch.tensor([[1.0, -1.0], [1.0, -1.0]])
    entropy = torch.tensor([[[1.0], [3.0]], [[10.0], [30.0]]])
    mask = torch.ones(2, 2, 1)
    # mean P = 2 (q0) and 20 (q1): 1*2/1 = 2, -1*2/3 = -0.6666667
    close(entropy_driven_advantage(adv, entropy, mask), [[[2.0], [-0.6666667]], [[2.0], [-0.6666667]]])


def test_forking_mask_by_hand():
    entropy = torch.tensor([[5.0, 1.0, 4.0, 2.0, 3.0, 100.0]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 0]])  # the padded 100 must never be picked
    assert forking_token_mask(entropy, mask, top_ratio=0.2).tolist() == [[1, 0, 0, 0, 0, 0]]  # ceil(1.0) = 1
    assert forking_token_mask(entropy, mask, top_ratio=0.4).tolist() == [[1, 0, 1, 0, 0, 0]]  # 2
    assert forking_token_mask(entropy, mask, top_ratio=0.5).tolist() == [[1, 0, 1, 0, 1, 0]]  # ceil(2.5) = 3
    assert forking_token_mask(entropy, mask.bool(), top_ratio=1.0).tolist() == [[True] * 5 + [False]]


def test_forking_mask_ranks_over_the_whole_batch():
    # question 0 holds all high-entropy tokens: a per-question quantile would keep some of question 1's
    entropy = torch.tensor([[[9.0, 8.0], [7.0, 6.0]], [[1.0, 2.0], [3.0, 4.0]]])
    mask = torch.ones(2, 2, 2)
    out = forking_token_mask(entropy, mask, top_ratio=0.25)  # ceil(0.25 * 8) = 2
    assert out.tolist() == [[[1.0, 1.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]]


def test_forking_mask_ignores_float_noise_in_the_count():
    # 0.2 * 15 = 3.0000000000000004 in floating point: keep 3, not 4
    assert forking_token_mask(torch.arange(15.0), torch.ones(15)).sum().item() == 3


@pytest.mark.parametrize("top_ratio", [0.0, -0.1, 1.5])
def test_forking_mask_rejects_bad_ratio(top_ratio):
    with pytest.raises(ValueError, match="top_ratio"):
        forking_token_mask(torch.ones(3), torch.ones(3), top_ratio=top_ratio)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 200), st.floats(0.01, 1.0), st.integers(0, 2**31 - 1))
def test_forking_mask_keeps_the_right_share_of_the_highest(n, top_ratio, seed):
    gen = torch.Generator().manual_seed(seed)
    entropy = torch.rand(n, generator=gen)
    mask = torch.rand(n, generator=gen) < 0.8
    mask[0] = True
    out = forking_token_mask(torch.where(mask, entropy, NAN), mask.long(), top_ratio=top_ratio).bool()
    n_masked = int(mask.sum())
    assert int(out.sum()) == max(1, math.ceil(round(top_ratio * n_masked, 6)))
    assert not out[~mask].any()
    dropped = mask & ~out
    if dropped.any():
        assert entropy[out].min() >= entropy[dropped].max()


# --------------------------------------------------------------------------------------------- Clip-Cov
# 10 tokens, old_logp = logp (ratio 1, nothing PPO-clipped). mean A = 0, mean logp = 0, so Cov = A * logp:
#   A    =  2  2  2  2  2   -2 -2 -2 -2  -2
#   logp =  1  1  1  2 -1   -1 -1 -2  0.5 -0.5   (sum 0)
#   Cov  =  2  2  2  4 -2    2  2  4 -1    1
# candidates for lb=1 < Cov < ub=5: tokens 0,1,2,3,5,6,7 (token 9 has Cov == lb exactly: excluded)
CC_ADV = torch.tensor([[2.0] * 5 + [-2.0] * 5])
CC_LOGP = torch.tensor([[1.0, 1.0, 1.0, 2.0, -1.0, -1.0, -1.0, -2.0, 0.5, -0.5]])
CC_MASK = torch.ones(1, 10)
CC_CANDIDATES = {0, 1, 2, 3, 5, 6, 7}


def dropped(mask_out):
    return set(torch.nonzero(mask_out.reshape(-1) == 0).reshape(-1).tolist())


def test_clip_cov_selected_count_and_candidates():
    gen = torch.Generator().manual_seed(0)
    # ratio 0.0002 * 10 tokens floors to 0 -> at least 1 token
    out = clip_cov_mask(CC_ADV, CC_LOGP, CC_LOGP, CC_MASK, generator=gen)
    assert len(dropped(out)) == 1 and dropped(out) <= CC_CANDIDATES
    # 0.25 * 10 = 2.5 floors to 2
    out = clip_cov_mask(CC_ADV, CC_LOGP, CC_LOGP, CC_MASK, ratio=0.25, generator=gen)
    assert len(dropped(out)) == 2 and dropped(out) <= CC_CANDIDATES
    # ratio 1: every candidate (7 < 10), nothing else
    assert dropped(clip_cov_mask(CC_ADV, CC_LOGP, CC_LOGP, CC_MASK, ratio=1.0)) == CC_CANDIDATES
    # ub = 3 removes the Cov = 4 tokens (3 and 7)
    assert dropped(clip_cov_mask(CC_ADV, CC_LOGP, CC_LOGP, CC_MASK, ratio=1.0, ub=3.0)) == {0, 1, 2, 5, 6}


def test_clip_cov_skips_tokens_already_cut_by_the_ppo_clip():
    # token 0: A = 2 > 0 and ratio exp(1 - 0.5) = 1.65 > 1.2 -> PPO-clipped; token 5: A < 0, ratio exp(-1+2) > 1.2
    # is NOT clipped for a negative advantage (the unclipped branch is the max), so it stays a candidate.
    # Cov uses the current logp, so the candidate set is otherwise unchanged.
    old = CC_LOGP.clone()
    old[0, 0], old[0, 5] = 0.5, -2.0
    assert dropped(clip_cov_mask(CC_ADV, CC_LOGP, old, CC_MASK, ratio=1.0)) == CC_CANDIDATES - {0}


def test_clip_cov_is_deterministic_with_a_generator():
    adv = torch.randn(4, 64, generator=torch.Generator().manual_seed(1)) * 3
    logp = -torch.rand(4, 64, generator=torch.Generator().manual_seed(2)) * 4
    mask = torch.ones(4, 64)

    def run(seed):
        return clip_cov_mask(
            adv, logp, logp, mask, ratio=0.02, lb=0.1, ub=50.0, generator=torch.Generator().manual_seed(seed)
        )

    first = run(7)
    assert len(dropped(first)) == 5  # floor(0.02 * 256)
    assert torch.equal(first, run(7))
    assert any(not torch.equal(first, run(seed)) for seed in range(8, 14))


def test_clip_cov_per_sequence_advantage_and_padding():
    # A given per sequence ([Q, G]) broadcasts to tokens; padding (garbage logp) never becomes a candidate
    adv = torch.tensor([[2.0, -2.0]])
    logp = torch.tensor([[[1.0, 1.0, 1.0, 2.0, -1.0, NAN], [-1.0, -1.0, -2.0, 0.5, -0.5, INF]]])
    mask = torch.tensor([[[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 0]]])
    out = clip_cov_mask(adv, logp, logp, mask, ratio=1.0)
    assert out.dtype == mask.dtype
    assert torch.nonzero(out.reshape(-1) == 0).reshape(-1).tolist() == [0, 1, 2, 3, 5, 6, 7, 8, 11]
    # (flattened indices: row 0 tokens 0..3, row 1 tokens 0..2 at 6..8; both paddings 5 and 11 stay 0)


def test_clip_cov_without_candidates_keeps_everything():
    out = clip_cov_mask(CC_ADV, CC_LOGP, CC_LOGP, CC_MASK, lb=100.0, ub=200.0)
    assert torch.equal(out, CC_MASK)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_padding_values_never_change_unmasked_outputs(q, g, t, seed):
    gen = torch.Generator().manual_seed(seed)
    adv = torch.randn(q, g, generator=gen)
    entropy = torch.rand(q, g, t, generator=gen) * 3
    logp = -torch.rand(q, g, t, generator=gen) * 3
    old_logp = logp + torch.randn(q, g, t, generator=gen) * 0.3
    mask = (torch.rand(q, g, t, generator=gen) < 0.7).long()
    mask[0, 0, 0] = 1
    pad = mask == 0

    def garble(x):
        junk = torch.where(torch.rand(x.shape, generator=gen) < 0.5, NAN, INF)
        return torch.where(pad, junk, x)

    for clean, dirty in [
        (entropy_advantage(adv, entropy, mask), entropy_advantage(adv, garble(entropy), mask)),
        (entropy_driven_advantage(adv, entropy, mask), entropy_driven_advantage(adv, garble(entropy), mask)),
        (forking_token_mask(entropy, mask), forking_token_mask(garble(entropy), mask)),
        (
            clip_cov_mask(
                adv,
                logp,
                old_logp,
                mask,
                ratio=0.3,
                lb=-10.0,
                ub=10.0,
                generator=torch.Generator().manual_seed(3),
            ),
            clip_cov_mask(
                adv,
                garble(logp),
                garble(old_logp),
                mask,
                ratio=0.3,
                lb=-10.0,
                ub=10.0,
                generator=torch.Generator().manual_seed(3),
            ),
        ),
    ]:
        assert torch.equal(clean, dirty)
        assert torch.all(dirty[pad] == 0)
