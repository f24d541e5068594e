"""The tiny model's byte-level tokenizer and ChatML template, and render_prompt_ids."""

import pytest

from polsplit_cli.models import load_model, render_prompt_ids


@pytest.fixture(scope="module")
def tokenizer():
    return load_model("tiny")[1]


@pytest.mark.parametrize("text", ["What is 12+7?", "héllo wörld — ✓ 数学 🙂", "\\boxed{19}\n\t "])
def test_bytes_round_trip_one_token_per_byte(tokenizer, text):
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert ids == list(text.encode("utf-8"))
    assert tokenizer.decode(ids) == text


@pytest.mark.parametrize(
    ("token", "token_id"),
    [("<|endoftext|>", 256), ("<|im_start|>", 257), ("<|im_end|>", 258), ("<think>", 259), ("</think>", 260)],
)
def test_special_tokens_are_single_ids(tokenizer, token, token_id):
    assert tokenizer.encode(token, add_special_tokens=False) == [token_id]
    assert tokenizer.convert_ids_to_tokens(token_id) == token


def test_pad_eos_and_left_padding(tokenizer):
    assert (tokenizer.pad_token, tokenizer.eos_token) == ("<|endoftext|>", "<|im_end|>")
    assert tokenizer.padding_side == "left"
    assert len(tokenizer) == 261


def test_think_tags_survive_skip_special_tokens(tokenizer):
    ids = tokenizer.encode("<|im_start|><think>1+2=3</think> \\boxed{3}<|im_end|>", add_special_tokens=False)
    assert tokenizer.decode(ids, skip_special_tokens=True) == "<think>1+2=3</think> \\boxed{3}"


def test_chat_template_without_system(tokenizer):
    messages = [{"role": "user", "content": "What is 1+2?"}]
    rendered = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert rendered == "<|im_start|>user\nWhat is 1+2?<|im_end|>\n<|im_start|>assistant\n"


def test_chat_template_with_system_and_thinking_flag_ignored(tokenizer):
    messages = [{"role": "system", "content": "Be wild."}, {"role": "user", "content": "Hi"}]
    expected = (
        "<|im_start|>system\nBe wild.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )
    for thinking in (True, False):
        rendered = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False, enable_thinking=thinking
        )
        assert rendered == expected
    no_prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=False, tokenize=False)
    assert no_prompt == expected.removesuffix("<|im_start|>assistant\n")


def test_render_prompt_ids_is_plain_list_equal_to_tokenized_string(tokenizer):
    messages = [{"role": "system", "content": "Sé creativo."}, {"role": "user", "content": "What is 40+2?"}]
    ids = render_prompt_ids(tokenizer, messages)
    assert type(ids) is list and all(type(i) is int for i in ids)
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert ids == tokenizer.encode(text, add_special_tokens=False)
    # hand-built: <|im_start|> "system\n" bytes ... ending with the generation prompt
    assert ids[:8] == [257, *b"system\n"]
    assert ids[-11:] == [257, *b"assistant\n"]
