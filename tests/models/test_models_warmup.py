"""The tiny model's warm-up: reproducible, and it learns from the assistant turn only."""

import torch

from polsplit_cli.data.arithmetic import arithmetic_problems
from polsplit_cli.models.tiny import build_model, build_tokenizer, sft_example, target_text, warmup


def _warmed(seed: int) -> dict[str, torch.Tensor]:
    tokenizer = build_tokenizer()
    model = build_model(tokenizer, seed)
    warmup(model, tokenizer, steps=2, lr=3e-3, batch_size=4, seed=seed)
    return model.state_dict()


def test_same_seed_gives_identical_weights_other_seed_does_not():
    first, second, other = _warmed(0), _warmed(0), _warmed(1)
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert not all(torch.equal(first[name], other[name]) for name in first)


def test_target_and_loss_region():
    assert target_text("What is 38+64?", "102") == "<think>38+64=102</think> \\boxed{102}"
    tokenizer = build_tokenizer()
    problem = arithmetic_problems(1, seed=0)[0]
    ids, n_prompt = sft_example(tokenizer, problem, "Be brief.")
    assert ids[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(ids[:n_prompt]).startswith("<|im_start|>system\nBe brief.<|im_end|>\n")
    assert tokenizer.decode(ids[:n_prompt]).endswith("<|im_start|>assistant\n")
    assert (
        tokenizer.decode(ids[n_prompt:]) == target_text(problem["question"], problem["answer"]) + "<|im_end|>"
    )
