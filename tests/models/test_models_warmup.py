"""The tiny model's warm-up: reproducible, it learns from the assistant turn only, its thought styles are all correct,
style instructions in the system turn change what it learns."""

import torch

from polsplit_cli.data.arithmetic import arithmetic_problems
from polsplit_cli.eval.grading import grade
from polsplit_cli.tools.build_tiny import (
    STYLE_INSTRUCTIONS,
    THOUGHT_STYLES,
    build_model,
    build_tokenizer,
    sft_example,
    target_text,
    warmup,
)


def _warmed(seed: int, styles: tuple[str, ...] = ("sum",), instructed: float = 0.0) -> dict[str, torch.Tensor]:
    tokenizer = build_tokenizer()
    model = build_model(tokenizer, seed)
    warmup(model, tokenizer, steps=2, lr=3e-3, batch_size=4, seed=seed, styles=styles, instructed=instructed)
    return model.state_dict()


def test_same_seed_gives_identical_weights_other_seed_does_not():
    first, second, other = _warmed(0), _warmed(0), _warmed(1)
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert not all(torch.equal(first[name], other[name]) for name in first)


def test_style_mix_is_reproducible_and_differs_from_one_style():
    all_styles = tuple(THOUGHT_STYLES)
    first, second, plain = _warmed(0, all_styles), _warmed(0, all_styles), _warmed(0)
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert not all(torch.equal(first[name], plain[name]) for name in first)


def test_style_instructions_are_reproducible_and_change_the_warm_up():
    all_styles = tuple(THOUGHT_STYLES)
    assert set(STYLE_INSTRUCTIONS) == set(THOUGHT_STYLES)
    first, second = _warmed(0, all_styles, instructed=1.0), _warmed(0, all_styles, instructed=1.0)
    uninstructed = _warmed(0, all_styles)
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert not all(torch.equal(first[name], uninstructed[name]) for name in first)


def test_every_thought_style_is_correct_and_boxes_the_sum():
    expected = {
        "sum": "34+57=91",
        "swapped": "57+34=91",
        "words": "34 plus 57 is 91",
        "result-first": "91=34+57",
        "columns": "30+50=80, 4+7=11, 80+11=91",
    }
    assert set(THOUGHT_STYLES) == set(expected)
    for style, thought in expected.items():
        text = target_text("What is 34+57?", "91", style)
        assert text == f"<think>{thought}</think> \\boxed{{91}}"
        assert grade(text, "91").correct
    assert target_text("What is 4+7?", "11", "columns") == "<think>0+0=0, 4+7=11, 0+11=11</think> \\boxed{11}"


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
