"""Training copies of one question, with and without rollout sharing (SPEC §2)."""

import pytest
import torch

from polsplit_cli.algo import rollout_layout
from polsplit_cli.errors import UserError


def test_layout_with_sharing():
    layout = rollout_layout(4)
    assert layout.n_copies == 8 and layout.sharing
    assert layout.response.tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    assert layout.prompt_mode.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert layout.gen_mode.tolist() == [0, 0, 1, 1, 0, 0, 1, 1]


def test_layout_without_sharing():
    layout = rollout_layout(6, sharing=False)
    assert layout.n_copies == 6 and not layout.sharing
    assert layout.response.tolist() == [0, 1, 2, 3, 4, 5]
    assert layout.prompt_mode.tolist() == [0, 0, 0, 1, 1, 1]
    assert layout.gen_mode.tolist() == [0, 0, 0, 1, 1, 1]


@pytest.mark.parametrize("group_size", [0, 1, 3, 7, -2, 2.0, True])
def test_layout_rejects_odd_or_tiny_groups(group_size):
    with pytest.raises(ValueError, match="even integer >= 2") as info:
        rollout_layout(group_size)
    assert isinstance(info.value, UserError)  # printed as one line by the CLI


def test_copy_values_picks_the_prompt_modes_values():
    normal = torch.tensor([[10.0, 11.0]])  # Q=1, G=2
    he = torch.tensor([[20.0, 21.0]])
    assert rollout_layout(2).copy_values(normal, he).tolist() == [[10.0, 11.0, 20.0, 21.0]]
    assert rollout_layout(2, sharing=False).copy_values(normal, he).tolist() == [[10.0, 21.0]]
    tokens = torch.arange(12.0).view(1, 2, 6)
    out = rollout_layout(2).copy_values(tokens, -tokens)
    assert out.shape == (1, 4, 6) and torch.equal(out[0, 3], -tokens[0, 1])
    with pytest.raises(ValueError, match=r"\[Q, 2"):
        rollout_layout(2).copy_values(torch.zeros(1, 3), torch.zeros(1, 3))
