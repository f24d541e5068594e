"""GRPO and Policy Split advantages against hand-computed numbers, plus hypothesis properties."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from polsplit_cli.algo import grpo_advantages, policy_split_advantages, policy_split_clip_fraction

INF, NAN = float("inf"), float("nan")

# ---------------------------------------------------------------------------------------------------------
# Worked example: Q=1, G=4, T=2, alpha=0.5, kappa=2, eta=0.5 (large, so the clip is visible).
# rewards 1,0,0,1: mean 0.5, unbiased std sqrt(1/3)=0.5773503, A = +-0.5/0.5773503 = +-0.8660254.
# Token log-probs (normal, HE) and b = -(logp_n + logp_he)/2:
#   o0: (-0.5,-1.5) b=1   (-2,-4) b=3
#   o1: (-3,-1)     b=2   padding (logp -inf / NaN)
#   o2: (-4,-4)     b=4   (-5,-7) b=6
#   o3: (-1,-3)     b=2   padding (garbage 123 / 0)
# 6 masked tokens: mean b = 18/6 = 3; deviations -2,0,-1,1,3,-1; unbiased var = 16/5 = 3.2, std 1.7888544
# B = -1.1180340, 0, -0.5590170, 0.5590170, 1.6770510, -0.5590170
# bound |A|/kappa = 0.4330127
# inside: eta*B = -0.5590170, 0, -0.2795085, 0.2795085, 0.8385255, -0.2795085
#   clipped     = -0.4330127, 0, -0.2795085, 0.2795085, 0.4330127, -0.2795085   (2 of 6 hit the bound)
# outside: clip(B) = -0.4330127, 0, -0.4330127, 0.4330127, 0.4330127, -0.4330127 (5 of 6 hit), * eta
#   = -0.2165064, 0, -0.2165064, 0.2165064, 0.2165064, -0.2165064
# ---------------------------------------------------------------------------------------------------------
REWARDS = torch.tensor([[1.0, 0.0, 0.0, 1.0]])
LOGP_N = torch.tensor([[[-0.5, -2.0], [-3.0, -INF], [-4.0, -5.0], [-1.0, 123.0]]])
LOGP_HE = torch.tensor([[[-1.5, -4.0], [-1.0, NAN], [-4.0, -7.0], [-3.0, 0.0]]])
MASK = torch.tensor([[[1, 1], [1, 0], [1, 1], [1, 0]]])
A = 0.8660254
EXPECTED_HE_INSIDE = [
    [A - 0.4330127, A],
    [-A - 0.2795085, 0.0],
    [-A + 0.2795085, -A + 0.4330127],
    [A - 0.2795085, 0.0],
]
EXPECTED_HE_OUTSIDE = [
    [A - 0.2165064, A],
    [-A - 0.2165064, 0.0],
    [-A + 0.2165064, -A + 0.2165064],
    [A - 0.2165064, 0.0],
]
EXPECTED_NORMAL = [[A, A], [-A, 0.0], [-A, -A], [A, 0.0]]
# eta_normal = -0.5 (inside): -0.5*B = 0.5590170, 0, 0.2795085, -0.2795085, -0.8385255, 0.2795085, clipped:
#   0.4330127, 0, 0.2795085, -0.2795085, -0.4330127, 0.2795085
EXPECTED_NORMAL_ETA_NEG = [
    [A + 0.4330127, A],
    [-A + 0.2795085, 0.0],
    [-A - 0.2795085, -A - 0.4330127],
    [A + 0.2795085, 0.0],
]


def close(actual, expected, atol=1e-5):
    torch.testing.assert_close(actual, torch.tensor(expected, dtype=actual.dtype), atol=atol, rtol=0)


def test_grpo_by_hand():
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0], [2.0, 0.0, 1.0, 1.0]])
    # row 3: mean 1, deviations 1,-1,0,0, unbiased var 2/3, std 0.8164966
    close(grpo_advantages(rewards), [[A, -A, -A, A], [0, 0, 0, 0], [1.2247449, -1.2247449, 0, 0]])


def test_grpo_all_equal_group_is_exactly_zero():
    assert torch.equal(grpo_advantages(torch.full((2, 3), 0.1)), torch.zeros(2, 3))


def test_grpo_single_sample_group_follows_verl():
    # verl: a single-sample group has mean 0 and std 1, so A = r / (1 + eps); never NaN
    close(grpo_advantages(torch.tensor([[1.0], [0.0]])), [[1.0], [0.0]])


def test_grpo_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"\[Q, G\]"):
        grpo_advantages(torch.zeros(4))


def test_policy_split_inside_by_hand():
    adv_n, adv_he = policy_split_advantages(REWARDS, LOGP_N, LOGP_HE, MASK, eta=0.5, kappa=2.0, alpha=0.5)
    close(adv_he[0], EXPECTED_HE_INSIDE)
    close(adv_n[0], EXPECTED_NORMAL)
    frac = policy_split_clip_fraction(REWARDS, LOGP_N, LOGP_HE, MASK, eta=0.5, kappa=2.0, alpha=0.5)
    assert frac.item() == pytest.approx(2 / 6)


def test_policy_split_outside_by_hand():
    kwargs = dict(eta=0.5, kappa=2.0, alpha=0.5, clip_placement="outside")
    adv_n, adv_he = policy_split_advantages(REWARDS, LOGP_N, LOGP_HE, MASK, **kwargs)
    close(adv_he[0], EXPECTED_HE_OUTSIDE)
    close(adv_n[0], EXPECTED_NORMAL)
    assert policy_split_clip_fraction(REWARDS, LOGP_N, LOGP_HE, MASK, **kwargs).item() == pytest.approx(5 / 6)


def test_policy_split_eta_normal_by_hand():
    adv_n, adv_he = policy_split_advantages(REWARDS, LOGP_N, LOGP_HE, MASK, eta=0.5, eta_normal=-0.5)
    close(adv_n[0], EXPECTED_NORMAL_ETA_NEG)
    close(adv_he[0], EXPECTED_HE_INSIDE)


def test_policy_split_alpha_one_uses_only_the_he_surprisal():
    # alpha=1: b = -logp_he = 1.5, 4, 1, 4, 7, 3 -> mean 20.5/6 = 3.4166667; deviations
    # -1.9166667, 0.5833333, -2.4166667, 0.5833333, 3.5833333, -0.4166667; sum sq = 3.6736111+0.3402778+5.8402778
    # +0.3402778+12.8402778+0.1736111 = 23.2083333; var /5 = 4.6416667; std 2.1544528
    # eta=0.1: eta*B = -0.0889626, 0.0270756, -0.1121702, 0.0270756, 0.1663219, -0.0193397 (all inside 0.433)
    _, adv_he = policy_split_advantages(REWARDS, LOGP_N, LOGP_HE, MASK, eta=0.1, alpha=1.0)
    close(
        adv_he[0],
        [
            [A - 0.0889626, A + 0.0270756],
            [-A - 0.1121702, 0.0],
            [-A + 0.0270756, -A + 0.1663219],
            [A - 0.0193397, 0.0],
        ],
    )


def test_policy_split_entropy_estimator_replaces_minus_logp():
    # entropies equal to -logp at the masked positions must give the same advantages as the logprob estimator
    _, expected = policy_split_advantages(REWARDS, LOGP_N, LOGP_HE, MASK, eta=0.5)
    _, adv_he = policy_split_advantages(
        REWARDS,
        torch.zeros_like(LOGP_N),
        torch.zeros_like(LOGP_HE),
        MASK,
        eta=0.5,
        estimator="entropy",
        entropy_normal=-LOGP_N,
        entropy_he=-LOGP_HE,
    )
    close(adv_he, expected.tolist())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(kappa=0.0), "kappa"),
        (dict(kappa=-1.0), "kappa"),
        (dict(clip_placement="middle"), "clip_placement"),
        (dict(estimator="variance"), "estimator"),
        (dict(estimator="entropy"), "entropy_normal and entropy_he"),
    ],
)
def test_policy_split_rejects_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        policy_split_advantages(REWARDS, LOGP_N, LOGP_HE, MASK, **kwargs)


def test_policy_split_rejects_bad_shapes():
    with pytest.raises(ValueError, match="rewards"):
        policy_split_advantages(torch.zeros(1, 3), LOGP_N, LOGP_HE, MASK)
    with pytest.raises(ValueError, match="logp_he"):
        policy_split_advantages(REWARDS, LOGP_N, LOGP_HE[..., :1], MASK)
    with pytest.raises(ValueError, match="mask"):
        policy_split_advantages(REWARDS, LOGP_N, LOGP_HE, MASK[0])


def test_policy_split_fully_masked_question_is_zero_not_nan():
    adv_n, adv_he = policy_split_advantages(REWARDS, LOGP_N, LOGP_HE, torch.zeros_like(MASK))
    assert torch.equal(adv_n, torch.zeros(1, 4, 2)) and torch.equal(adv_he, torch.zeros(1, 4, 2))


# ------------------------------------------------------------------ properties
@st.composite
def groups(draw, binary_rewards=True):
    """A random batch: rewards [Q, G], two log-prob tensors and a mask [Q, G, T] (mask has >= 1 token)."""
    q, g, t = draw(st.integers(1, 3)), draw(st.sampled_from([2, 4, 6])), draw(st.integers(1, 7))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    if binary_rewards:
        rewards = torch.randint(0, 2, (q, g), generator=gen).float()
    else:
        rewards = torch.randn(q, g, generator=gen, dtype=torch.float64).float() * 3
    logp_n = -torch.rand(q, g, t, generator=gen) * 8
    logp_he = -torch.rand(q, g, t, generator=gen) * 8
    mask = (torch.rand(q, g, t, generator=gen) < 0.7).long()
    mask[0, 0, 0] = 1
    return rewards, logp_n, logp_he, mask


SETTINGS = settings(max_examples=60, deadline=None)


@SETTINGS
@given(groups(), st.sampled_from(["inside", "outside"]), st.floats(0.1, 1.0))
def test_eta_zero_gives_plain_grpo_in_both_modes(batch, placement, alpha):
    rewards, logp_n, logp_he, mask = batch
    adv_n, adv_he = policy_split_advantages(
        rewards, logp_n, logp_he, mask, eta=0.0, alpha=alpha, clip_placement=placement
    )
    expected = torch.where(mask.bool(), grpo_advantages(rewards).unsqueeze(2), 0.0)
    assert torch.equal(adv_he, expected) and torch.equal(adv_n, expected)


@SETTINGS
@given(groups(binary_rewards=False), st.floats(-2.0, 2.0), st.floats(0.05, 5.0))
def test_all_equal_rewards_get_exactly_zero_extra_term(batch, reward, eta):
    rewards, logp_n, logp_he, mask = batch
    rewards = torch.full_like(rewards, reward)
    adv_n, adv_he = policy_split_advantages(rewards, logp_n, logp_he, mask, eta=eta, eta_normal=eta)
    assert torch.equal(adv_he, torch.zeros_like(adv_he)) and torch.equal(adv_n, torch.zeros_like(adv_n))


@SETTINGS
@given(
    groups(binary_rewards=False),
    st.floats(1.01, 10.0),
    st.floats(0.0, 50.0),
    st.sampled_from(["inside", "outside"]),
)
def test_extra_term_never_flips_the_sign_and_stays_within_the_bound(batch, kappa, eta, placement):
    # inside: |term| <= |A|/kappa < |A|. outside (eta * clip(B)): |term| <= eta*|A|/kappa, so the sign of A is
    # only guaranteed while eta < kappa (always true at the paper's eta=0.03, kappa=2).
    rewards, logp_n, logp_he, mask = batch
    adv_n, adv_he = policy_split_advantages(
        rewards, logp_n, logp_he, mask, eta=eta, eta_normal=-eta, kappa=kappa, clip_placement=placement
    )
    base = grpo_advantages(rewards).unsqueeze(2).expand_as(adv_he)
    keep = mask.bool()
    bound = base[keep].abs() / kappa * (1.0 if placement == "inside" else eta)
    for adv in (adv_he, adv_n):
        assert torch.all((adv - base)[keep].abs() <= bound * (1 + 1e-6) + 1e-7)
        if placement == "inside" or eta < kappa:
            assert torch.equal(torch.sign(adv[keep]), torch.sign(base[keep]))


@SETTINGS
@given(
    groups(),
    st.integers(0, 2**31 - 1),
    st.sampled_from(["inside", "outside"]),
    st.sampled_from(["logprob", "entropy"]),
)
def test_padding_values_never_change_unmasked_outputs(batch, seed, placement, estimator):
    rewards, logp_n, logp_he, mask = batch
    gen = torch.Generator().manual_seed(seed)
    pad = mask == 0

    def garble(x):
        junk = torch.randn(x.shape, generator=gen) * 1e4
        junk[torch.rand(x.shape, generator=gen) < 0.3] = NAN
        junk[torch.rand(x.shape, generator=gen) < 0.3] = -INF
        return torch.where(pad, junk, x)

    kwargs = dict(
        eta=0.7,
        eta_normal=0.2,
        clip_placement=placement,
        estimator=estimator,
        entropy_normal=-logp_n,
        entropy_he=-logp_he,
    )
    clean = policy_split_advantages(rewards, logp_n, logp_he, mask, **kwargs)
    kwargs.update(entropy_normal=garble(-logp_n), entropy_he=garble(-logp_he))
    dirty = policy_split_advantages(rewards, garble(logp_n), garble(logp_he), mask.float(), **kwargs)
    for a, b in zip(clean, dirty, strict=True):
        assert torch.equal(a, b)
        assert torch.isfinite(b).all() and torch.all(b[pad] == 0)


def test_b_is_standardized_per_question_not_per_batch():
    # two identical questions, the second with all log-probs shifted by a constant: B is unchanged
    rewards = REWARDS.repeat(2, 1)
    shift = torch.tensor([0.0, -5.0]).view(2, 1, 1)
    logp_n = torch.where(MASK.bool(), LOGP_N, 0.0).repeat(2, 1, 1) + shift
    logp_he = torch.where(MASK.bool(), LOGP_HE, 0.0).repeat(2, 1, 1) + shift
    _, adv_he = policy_split_advantages(rewards, logp_n, logp_he, MASK.repeat(2, 1, 1), eta=0.5)
    close(adv_he[1], EXPECTED_HE_INSIDE)
    assert math.isclose(adv_he[0, 0, 0].item(), A - 0.4330127, abs_tol=1e-5)


@settings(max_examples=20, deadline=None)
@given(groups(binary_rewards=False), st.integers(1, 40))
def test_question_blocks_do_not_change_the_result(batch, block_positions):
    # CPU work runs over blocks of whole questions; any block size must give the one-block result
    import polsplit_cli.algo.advantages as advantages_module

    rewards, logp_n, logp_he, mask = batch
    kwargs = dict(eta=0.8, eta_normal=-0.3)
    whole = policy_split_advantages(rewards, logp_n, logp_he, mask, **kwargs)
    whole_fraction = policy_split_clip_fraction(rewards, logp_n, logp_he, mask, **kwargs)
    saved = advantages_module.CPU_BLOCK_POSITIONS
    advantages_module.CPU_BLOCK_POSITIONS = block_positions
    try:
        blocked = policy_split_advantages(rewards, logp_n, logp_he, mask, **kwargs)
        blocked_fraction = policy_split_clip_fraction(rewards, logp_n, logp_he, mask, **kwargs)
    finally:
        advantages_module.CPU_BLOCK_POSITIONS = saved
    assert all(torch.equal(a, b) for a, b in zip(whole, blocked, strict=True))
    assert torch.equal(whole_fraction, blocked_fraction)
