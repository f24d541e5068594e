"""Each knob and algorithm is declared once: the CLI, verl and the docs follow the declaration."""

from __future__ import annotations

import pytest
import torch

from polsplit_cli import algo
from polsplit_cli.resources import config_path
from polsplit_cli.train.algorithms import ALGORITHMS, Algorithm, register
from polsplit_cli.train.command import VERL_KNOBS
from polsplit_cli.train.knobs import MethodKnobs, knob_table


def test_docs_knob_table_is_the_generated_one():
    docs = (config_path("train").parents[1] / "docs" / "train.md").read_text(encoding="utf-8")
    assert knob_table(MethodKnobs) in docs


def test_verl_forwards_exactly_the_flagged_method_knobs():
    assert set(VERL_KNOBS) == {"eta", "kappa", "alpha", "eta_normal", "clip_placement", "estimator", "sharing"}


def test_registering_a_name_twice_is_an_error():
    before = dict(ALGORITHMS)
    with pytest.raises(ValueError, match="registered twice"):
        register("grpo")(type("Again", (Algorithm,), {}))
    assert ALGORITHMS == before


def test_policy_split_defaults_are_the_papers():
    # rewards [1, 0]: A = +-1/sqrt(2) (unbiased std); the bound |A|/kappa at kappa 2 is 0.3536
    rewards = torch.tensor([[1.0, 0.0]])
    mask = torch.ones(1, 2, 2)
    logp_normal = torch.tensor([[[-1.0, -2.0], [-3.0, -4.0]]])
    logp_he = torch.tensor([[[-1.0, -3.0], [-2.0, -4.0]]])
    default = algo.policy_split_advantages(rewards, logp_normal, logp_he, mask)
    explicit = algo.policy_split_advantages(rewards, logp_normal, logp_he, mask, eta=0.03, kappa=2.0, alpha=0.5,
                                            eta_normal=0.0, clip_placement="inside", estimator="logprob")
    for got, want in zip(default, explicit, strict=True):
        torch.testing.assert_close(got, want)
    a = 1 / 2**0.5 / (1 + 1e-6 * 2**0.5)
    torch.testing.assert_close(default[0], torch.tensor([[[a, a], [-a, -a]]]), rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError):
        algo.policy_split_advantages(rewards, logp_normal, logp_he, mask, etaa=0.1)
