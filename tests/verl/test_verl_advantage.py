"""The polsplit trainer's advantage step on verl's own row containers, rows shuffled and padded.

Rows are built with verl's ``list_of_dict_to_tensordict`` (what its agent-loop worker puts
into TransferQueue: jagged per-row tensors) and keyed ``{uid}_{session}_{index}``; the
expected values come from ``polsplit_cli.algo`` on grouped tensors assembled here directly
from the generation data, plus hand-computed numbers.
"""

from __future__ import annotations

import math
import random

import pytest
import torch

pytest.importorskip("verl")
pytestmark = pytest.mark.verl

from transfer_queue import KVBatchMeta  # noqa: E402
from verl.utils.tensordict_utils import list_of_dict_to_tensordict  # noqa: E402

from polsplit_cli import algo  # noqa: E402
from polsplit_cli.train.verl.settings import PolicySplitSettings  # noqa: E402
from polsplit_cli.train.verl.trainer import ROW_FIELDS, advantage_fields  # noqa: E402

Q, G = 2, 4
LN2 = math.log(2.0)


def _responses(seed: int = 0):
    """Per question and response: length, reward, logp/entropy under the normal and the HE prompt."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, 7, (Q, G), generator=gen)
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0]])
    T = int(lengths.max())
    mask = (torch.arange(T) < lengths.unsqueeze(-1)).float()
    logp_n = -torch.rand(Q, G, T, generator=gen) * 3 * mask
    logp_he = -torch.rand(Q, G, T, generator=gen) * 3 * mask
    ent_n = torch.rand(Q, G, T, generator=gen) * 2 * mask
    ent_he = torch.rand(Q, G, T, generator=gen) * 2 * mask
    return lengths, rewards, mask, (logp_n, logp_he), (ent_n, ent_he)


def _row(length: int, reward: float, logp: torch.Tensor, entropy: torch.Tensor) -> dict:
    scores = torch.zeros(length)
    scores[-1] = reward  # verl puts the sequence reward on the last response token
    return {
        "response_mask": torch.ones(length, dtype=torch.int64),
        "rm_scores": scores,
        "old_log_probs": logp[:length].clone(),
        "entropy": entropy[:length].clone(),
    }


def _dual_rows(data, *, shuffle_seed: int, n_padding: int = 2, drop: str | None = None):
    """Two rows per response (index = prompt mode: 0 normal, 1 HE), shuffled, plus padding rows."""
    lengths, rewards, _, logps, ents = data
    rows, keys, tags = [], [], []
    for q in range(Q):
        for s in range(G):
            for prompt_mode in (0, 1):
                n = int(lengths[q, s])
                rows.append(_row(n, float(rewards[q, s]), logps[prompt_mode][q, s], ents[prompt_mode][q, s]))
                keys.append(f"uid_{q}-x_{s}_{prompt_mode}")  # '_' inside the uid on purpose
                tags.append({"status": "success"})
    for p in range(n_padding):  # what verl's upsample_batch_to_divisible_size appends
        pad = {"response_mask": torch.zeros(1, dtype=torch.int64), "rm_scores": torch.zeros(1),
               "old_log_probs": torch.zeros(1), "entropy": torch.zeros(1)}
        rows.append(pad)
        keys.append(f"padabc_{p}_0")
        tags.append({"status": "success", "is_padding": True})
    order = [i for i in range(len(rows)) if keys[i] != drop]
    random.Random(shuffle_seed).shuffle(order)
    meta = KVBatchMeta(keys=[keys[i] for i in order], tags=[tags[i] for i in order], partition_id="train")
    return meta, list_of_dict_to_tensordict([rows[i] for i in order])


def _by_key(meta, fields, name):
    padded = fields[name].to_padded_tensor(0)
    return {key: padded[i] for i, key in enumerate(meta.keys)}


@pytest.mark.parametrize("shuffle_seed", [0, 1, 2])
def test_policy_split_rows_equal_algo_on_grouped_tensors(shuffle_seed):
    data = _responses()
    lengths, rewards, mask, (logp_n, logp_he), (ent_n, ent_he) = data
    meta, td = _dual_rows(data, shuffle_seed=shuffle_seed)
    settings = PolicySplitSettings(algorithm="policy-split")

    fields, metrics = advantage_fields(td.select(*ROW_FIELDS), meta.keys, meta.tags, G, settings)

    adv_n, adv_he = algo.policy_split_advantages(rewards, logp_n, logp_he, mask, eta=0.03, kappa=2.0, alpha=0.5)
    adv = _by_key(meta, fields, "advantages")
    loss_mask = _by_key(meta, fields, "loss_mask")
    for q in range(Q):
        for s in range(G):
            n = int(lengths[q, s])
            normal_key, he_key = f"uid_{q}-x_{s}_0", f"uid_{q}-x_{s}_1"
            torch.testing.assert_close(adv[normal_key][:n], adv_n[q, s, :n])
            torch.testing.assert_close(adv[he_key][:n], adv_he[q, s, :n])
            assert loss_mask[normal_key][:n].tolist() == [1] * n and loss_mask[he_key][:n].tolist() == [1] * n
    for key in meta.keys:
        if key.startswith("pad"):
            assert adv[key].abs().sum() == 0 and loss_mask[key].sum() == 0
    # the HE copies really differ from the normal ones (the entropy term is active)
    assert not torch.allclose(adv_n * mask, adv_he * mask)

    clip = algo.policy_split_clip_fraction(rewards, logp_n, logp_he, mask, eta=0.03, kappa=2.0, alpha=0.5)
    assert metrics["policy_split/adv/entropy_term_clip_fraction"] == pytest.approx(float(clip))
    # metrics by generating mode, computed independently
    normal, he = slice(0, G // 2), slice(G // 2, G)
    assert metrics["policy_split/normal/reward"] == pytest.approx(float(rewards[:, normal].mean()))
    assert metrics["policy_split/he/accuracy"] == pytest.approx(float(rewards[:, he].mean()))
    m = mask[:, he]
    assert metrics["policy_split/he/entropy_bits"] == pytest.approx(float((ent_he[:, he] * m).sum() / m.sum()) / LN2)
    assert metrics["policy_split/normal/response_length"] == pytest.approx(float(lengths[:, normal].float().mean()))
    forward = float(((logp_he - logp_n)[:, he] * m).sum() / m.sum()) / LN2  # KL(HE || normal) on HE responses
    assert metrics["policy_split/kl/forward_bits"] == pytest.approx(forward, rel=1e-5)
    m = mask[:, normal]
    reverse = float(((logp_n - logp_he)[:, normal] * m).sum() / m.sum()) / LN2
    assert metrics["policy_split/kl/reverse_bits"] == pytest.approx(reverse, rel=1e-5)
    # verl's actor/entropy: each response once, under the prompt that sampled it (nats)
    sampled = (ent_n[:, normal] * mask[:, normal]).sum() + (ent_he[:, he] * mask[:, he]).sum()
    assert metrics["actor/entropy"] == pytest.approx(float(sampled / mask.sum()), rel=1e-5)


def test_grpo_sharing_gives_both_copies_the_hand_computed_grpo_advantage():
    data = _responses()
    lengths = data[0]
    meta, td = _dual_rows(data, shuffle_seed=5)
    fields, _ = advantage_fields(td, meta.keys, meta.tags, G, PolicySplitSettings(algorithm="grpo-sharing"))
    adv = _by_key(meta, fields, "advantages")
    # rewards [1,0,0,1]: mean 0.5, unbiased std sqrt(1/3) -> +-0.5*sqrt(3); [0,0,1,0]: mean .25, std .5 -> 1.5/-0.5
    expected = [[0.5 * math.sqrt(3), -0.5 * math.sqrt(3), -0.5 * math.sqrt(3), 0.5 * math.sqrt(3)],
                [-0.5, -0.5, 1.5, -0.5]]
    for q in range(Q):
        for s in range(G):
            n = int(lengths[q, s])
            for index in (0, 1):
                values = adv[f"uid_{q}-x_{s}_{index}"]
                torch.testing.assert_close(values[:n], torch.full((n,), expected[q][s]), rtol=1e-4, atol=1e-4)


def test_without_sharing_only_the_generating_copy_is_trained():
    data = _responses()
    meta, td = _dual_rows(data, shuffle_seed=3)
    settings = PolicySplitSettings(algorithm="policy-split", sharing=False)
    fields, _ = advantage_fields(td, meta.keys, meta.tags, G, settings)
    adv, loss_mask = _by_key(meta, fields, "advantages"), _by_key(meta, fields, "loss_mask")
    for key in meta.keys:
        if key.startswith("pad"):
            assert loss_mask[key].sum() == 0 and adv[key].abs().sum() == 0
            continue
        session, prompt_mode = map(int, key.rsplit("_", 2)[1:])
        if prompt_mode != int(session >= G // 2):  # the other prompt's copy: out of the loss
            assert loss_mask[key].sum() == 0 and adv[key].abs().sum() == 0
        else:
            assert loss_mask[key].sum() > 0


def _single_rows(data, *, shuffle_seed: int):
    lengths, rewards, _, (logp_n, _), (ent_n, _) = data
    rows, keys = [], []
    for q in range(Q):
        for s in range(G):
            rows.append(_row(int(lengths[q, s]), float(rewards[q, s]), logp_n[q, s], ent_n[q, s]))
            keys.append(f"u{q}_{s}_0")
    order = list(range(len(rows)))
    random.Random(shuffle_seed).shuffle(order)
    meta = KVBatchMeta(keys=[keys[i] for i in order], tags=[{} for _ in order])
    return meta, list_of_dict_to_tensordict([rows[i] for i in order])


@pytest.mark.parametrize("name", ["forking-tokens", "entropy-driven-advantage", "entropy-advantage"])
def test_single_mode_baselines_equal_algo(name):
    data = _responses(seed=7)
    lengths, rewards, mask, _, (ent_n, _) = data
    meta, td = _single_rows(data, shuffle_seed=11)
    fields, _ = advantage_fields(td, meta.keys, meta.tags, G, PolicySplitSettings(algorithm=name))
    grpo = algo.grpo_advantages(rewards)
    keep = mask
    if name == "forking-tokens":
        keep = algo.forking_token_mask(ent_n, mask, top_ratio=0.2)
        expected = grpo.unsqueeze(-1) * keep
    elif name == "entropy-driven-advantage":
        expected = algo.entropy_driven_advantage(grpo, ent_n, mask)
    else:
        expected = algo.entropy_advantage(grpo, ent_n, mask, alpha=0.4, kappa=2.0)
    adv, loss_mask = _by_key(meta, fields, "advantages"), _by_key(meta, fields, "loss_mask")
    for q in range(Q):
        for s in range(G):
            n = int(lengths[q, s])
            torch.testing.assert_close(adv[f"u{q}_{s}_0"][:n], expected[q, s, :n].float())
            assert loss_mask[f"u{q}_{s}_0"][:n].tolist() == keep[q, s, :n].long().tolist()
    if name == "forking-tokens":  # ceil(0.2 * N) tokens of the whole batch stay in the loss
        assert sum(int(m.sum()) for m in loss_mask.values()) == math.ceil(0.2 * int(lengths.sum()))


def test_incomplete_group_is_refused():
    data = _responses()
    meta, td = _dual_rows(data, shuffle_seed=0, drop="uid_1-x_2_0")
    with pytest.raises(ValueError, match="missing"):
        advantage_fields(td, meta.keys, meta.tags, G, PolicySplitSettings(algorithm="policy-split"))
