"""Offline builder of the built-in tiny model: byte-level tokenizer, ChatML template, ~0.8M-parameter Qwen3.

Everything is built offline from code in this file, then warmed up by supervised
fine-tuning on the arithmetic train split so that reinforcement learning has something
to work with (roughly half the test problems right under greedy decoding): first on one
way of thinking "a+b=c", then on several equivalent ones (``THOUGHT_STYLES``), so that the
model's reasoning varies without changing its correctness. ``--instructed`` builds a variant
that also learns to follow system turns asking for one style (``STYLE_INSTRUCTIONS``): one
that reads its system turn, for studying how that changes a mode split (docs/train.md).

Regenerate the shipped checkpoint (same seed -> same weights on the same machine):

    python -m polsplit_cli.tools.build_tiny --seed 0 --out polsplit_cli/models/tiny_checkpoint
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from tokenizers.pre_tokenizers import ByteLevel
from transformers import DynamicCache, PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

from polsplit_cli.data.arithmetic import ARITHMETIC_TEST_SIZE, ARITHMETIC_TRAIN_SIZE, arithmetic_problems
from polsplit_cli.eval.grading import extract_answer
from polsplit_cli.models import TINY_CHECKPOINT, cache_kwargs, load_model, render_prompt_ids
from polsplit_cli.modes import BUILTIN_SYSTEM_PROMPTS, NORMAL, Mode, builtin_modes, get_mode
from polsplit_cli.prompts import math_task
from polsplit_cli.train.rollout import split_prefix

PAD, IM_START, IM_END, THINK, END_THINK = "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"
RECIPE_FILE = "polsplit_tiny.json"
STYLE_STEPS = 200

# ChatML as in Qwen3, without tool calls. `enable_thinking` is accepted and ignored:
# the tiny model always thinks.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)


def build_tokenizer() -> PreTrainedTokenizerFast:
    """One token per byte (ids 0-255 = byte values), then the five special tokens (ids 256-260)."""
    byte_chars = ByteLevel.alphabet()
    byte_to_char = _gpt2_byte_to_char()
    assert set(byte_to_char.values()) == set(byte_chars)
    vocab = {byte_to_char[b]: b for b in range(256)}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    core.add_special_tokens([PAD, IM_START, IM_END])
    # Not special (as in Qwen3): decoding with skip_special_tokens=True keeps them for the grader.
    core.add_tokens([THINK, END_THINK])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token=IM_END,
        pad_token=PAD,
        additional_special_tokens=[IM_START],
        padding_side="left",
        model_max_length=2048,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    ids = tokenizer.convert_tokens_to_ids([PAD, IM_START, IM_END, THINK, END_THINK])
    assert ids == list(range(256, 261)), ids
    return tokenizer


def _gpt2_byte_to_char() -> dict[int, str]:
    """The byte -> printable character table of GPT-2 byte-level BPE (what ByteLevel uses)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def build_model(tokenizer: PreTrainedTokenizerFast, seed: int) -> Qwen3ForCausalLM:
    """A fresh, randomly initialised tiny Qwen3 (hidden 128, 4 layers, 4 heads / 2 KV heads)."""
    torch.manual_seed(seed)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=384,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    model = Qwen3ForCausalLM(config)
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, tokenizer.pad_token_id]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = None
    return model


def sft_system_prompts() -> list[str]:
    """System texts mixed into the warm-up, so that a system turn means something to the model."""
    modes = builtin_modes()
    return [modes[name].system for name in BUILTIN_SYSTEM_PROMPTS]


def _column_sum(a: int, b: int) -> str:
    """Tens, then units, then the two partial sums: 34+57 -> "30+50=80, 4+7=11, 80+11=91"."""
    tens, units = (a // 10 + b // 10) * 10, a % 10 + b % 10
    return f"{a // 10 * 10}+{b // 10 * 10}={tens}, {a % 10}+{b % 10}={units}, {tens}+{units}={tens + units}"


# Equivalent, always-correct ways to think "a+b=c". The warm-up draws one uniformly per example,
# with and without a system prompt alike, so the model's reasoning varies without changing its
# correctness: room for entropy that costs no reward, which GRPO collapses and the HE mode can keep.
THOUGHT_STYLES = {
    "sum": lambda a, b: f"{a}+{b}={a + b}",
    "swapped": lambda a, b: f"{b}+{a}={a + b}",
    "words": lambda a, b: f"{a} plus {b} is {a + b}",
    "result-first": lambda a, b: f"{a + b}={a}+{b}",
    "columns": _column_sum,
}


# System turns that ask for one style. With ``--instructed``, part of the style warm-up puts one
# of these in the system turn and answers in that style, so the model learns that what a system
# turn says changes how it thinks. The built-in modes' prompts keep all styles equally likely, so
# it learns to read its system turn without learning that the high-entropy and normal modes differ.
STYLE_INSTRUCTIONS = {
    "sum": "When you add two numbers, think by writing the sum as it is asked: a+b=c.",
    "swapped": "When you add two numbers, think by writing the two numbers in swapped order: b+a=c.",
    "words": "When you add two numbers, think in words: a plus b is c.",
    "result-first": "When you add two numbers, think by writing the result first: c=a+b.",
    "columns": "When you add two numbers, think in columns: the tens, then the units, then both together.",
}


def target_text(question: str, answer: str, style: str = "sum") -> str:
    """The warm-up's assistant turn for "What is a+b?": a one-line thought in ``style``, then the boxed sum."""
    a, b = (int(x) for x in question.removeprefix("What is ").removesuffix("?").split("+"))
    assert str(a + b) == answer, (question, answer)
    return f"{THINK}{THOUGHT_STYLES[style](a, b)}{END_THINK} \\boxed{{{answer}}}"


def sft_example(
    tokenizer, problem: dict[str, str], system: str | None, style: str = "sum"
) -> tuple[list[int], int]:
    """(ids of prompt + assistant turn + eos, number of prompt ids): loss goes on the rest."""
    prompt = render_prompt_ids(tokenizer, Mode("warm-up", system).messages(math_task(problem["question"])))
    reply = tokenizer.encode(target_text(problem["question"], problem["answer"], style), add_special_tokens=False)
    return prompt + reply + [tokenizer.eos_token_id], len(prompt)


def _shared_prefix_loss(model, examples: list[tuple[list[int], int]], pad_id: int) -> torch.Tensor:
    """Sum of next-token cross-entropies on the assistant turns of ``examples``.

    The prompt prefix the examples share (the system turn and the task text) runs once
    and its key/value cache is repeated across the batch; only the differing suffixes
    run per example. Same gradients as a plain padded batch, several times cheaper when
    a ~500-byte system prompt is shared.
    """
    # longest common prefix of the prompts, capped at the shortest prompt minus one token
    shared = len(split_prefix([ids[:n_prompt] for ids, n_prompt in examples]).prefix)
    prefix = torch.tensor([examples[0][0][:shared]])
    cache = DynamicCache(config=model.config)
    model(input_ids=prefix, **cache_kwargs(model, cache))
    cache.batch_repeat_interleave(len(examples))

    width = max(len(ids) for ids, _ in examples) - shared
    suffix = torch.full((len(examples), width), pad_id)
    attention = torch.zeros((len(examples), shared + width), dtype=torch.long)
    labels = torch.full((len(examples), width), -100)
    for row, (ids, n_prompt) in enumerate(examples):
        suffix[row, : len(ids) - shared] = torch.tensor(ids[shared:])
        attention[row, : len(ids)] = 1
        labels[row, n_prompt - shared : len(ids) - shared] = torch.tensor(ids[n_prompt:])
    logits = model(input_ids=suffix, attention_mask=attention, **cache_kwargs(model, cache)).logits
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
        labels[:, 1:].reshape(-1),
        ignore_index=-100,
        reduction="sum",
    )


def warmup(
    model,
    tokenizer,
    *,
    steps: int,
    lr: float,
    batch_size: int,
    seed: int,
    styles: tuple[str, ...] = ("sum",),
    instructed: float = 0.0,
    log_every: int = 0,
) -> None:
    """SFT on the arithmetic train split; half of every batch carries a system prompt.

    Each step draws one system text for its whole system half, so that half shares a
    ~500-token prefix computed once (see ``_shared_prefix_loss``). With several ``styles``
    (names in ``THOUGHT_STYLES``), every example's thought style is drawn uniformly,
    independently of its system prompt, except in the share ``instructed`` of steps whose
    system half carries one of ``STYLE_INSTRUCTIONS`` and answers in the style it names.
    """
    rng = random.Random(seed)
    torch.manual_seed(seed)
    train = arithmetic_problems(ARITHMETIC_TRAIN_SIZE, seed=seed, split="train")
    systems = sft_system_prompts()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0, betas=(0.9, 0.98))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 20))
    model.train()
    half = batch_size // 2
    for step in range(steps):
        problems = rng.sample(train, batch_size)
        drawn = [rng.choice(styles) for _ in problems] if len(styles) > 1 else [styles[0]] * len(problems)
        plain = [sft_example(tokenizer, p, None, s) for p, s in zip(problems[:half], drawn[:half], strict=True)]
        system = rng.choice(systems)
        if instructed and rng.random() < instructed:
            style = rng.choice(styles)
            system, drawn[half:] = STYLE_INSTRUCTIONS[style], [style] * (len(problems) - half)
        with_system = [
            sft_example(tokenizer, p, system, s) for p, s in zip(problems[half:], drawn[half:], strict=True)
        ]
        n_targets = sum(len(ids) - n for ids, n in plain + with_system)
        loss = sum(
            _shared_prefix_loss(model, part, tokenizer.pad_token_id) for part in (plain, with_system) if part
        )
        loss = loss / n_targets
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if log_every and (step + 1) % log_every == 0:
            print(f"step {step + 1}/{steps} loss {loss.item():.4f}", flush=True)
    model.eval()




@torch.no_grad()
def greedy_accuracy(
    model,
    tokenizer,
    problems: list[dict[str, str]],
    *,
    mode: str = NORMAL,
    batch_size: int = 64,
    max_new_tokens: int = 48,
) -> float:
    """Share of problems whose greedy response boxes the right sum (batched, left-padded)."""
    correct, chosen = 0, get_mode(mode)
    for start in range(0, len(problems), batch_size):
        chunk = problems[start : start + batch_size]
        prompts = [render_prompt_ids(tokenizer, chosen.messages(math_task(p["question"]))) for p in chunk]
        batch = tokenizer.pad({"input_ids": prompts}, padding_side="left", return_tensors="pt")
        output = model.generate(**batch, do_sample=False, max_new_tokens=max_new_tokens)
        texts = tokenizer.batch_decode(output[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
        correct += sum(extract_answer(text)[0] == p["answer"] for text, p in zip(texts, chunk, strict=True))
    return correct / len(problems)


def make_checkpoint(
    out: Path,
    *,
    seed: int,
    steps: int,
    style_steps: int,
    lr: float,
    style_lr: float,
    instructed: float,
    batch_size: int,
    threads: int,
    eval_size: int,
) -> dict:
    """Build, warm up, evaluate and save the tiny model; returns the recipe record it writes.

    Two stages: ``steps`` on the plain "a+b=c" thought (where the tiny model learns to add),
    then ``style_steps`` on all of ``THOUGHT_STYLES`` (where it learns to vary its reasoning,
    and, in the share ``instructed`` of steps, to think in the style its system turn asks for).
    """
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    tokenizer = build_tokenizer()
    model = build_model(tokenizer, seed)
    started = time.perf_counter()
    warmup(model, tokenizer, steps=steps, lr=lr, batch_size=batch_size, seed=seed, log_every=25)
    warmup(
        model,
        tokenizer,
        steps=style_steps,
        lr=style_lr,
        batch_size=batch_size,
        seed=seed + 1,
        styles=tuple(THOUGHT_STYLES),
        instructed=instructed,
        log_every=25,
    )
    train_seconds = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    model, tokenizer = load_model(str(out))
    test = arithmetic_problems(eval_size, seed=0, split="test")
    recipe = {
        "seed": seed,
        "steps": steps,
        "lr": lr,
        "style_steps": style_steps,
        "style_lr": style_lr,
        "styles": list(THOUGHT_STYLES),
        "instructed": instructed,
        "batch_size": batch_size,
        "threads": threads,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_seconds": round(train_seconds, 1),
        "eval_problems": eval_size,
        "greedy_accuracy": {
            mode: greedy_accuracy(model, tokenizer, test, mode=mode) for mode in (NORMAL, "high-entropy")
        },
        "torch": torch.__version__,
    }
    (out / RECIPE_FILE).write_text(json.dumps(recipe, indent=2) + "\n", encoding="utf-8")
    return recipe


def main() -> None:
    parser = argparse.ArgumentParser(description="Build and warm up the polsplit tiny model.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=TINY_CHECKPOINT)
    parser.add_argument("--steps", type=int, default=460)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--style-steps", type=int, default=STYLE_STEPS, help="second stage: all thought styles")
    parser.add_argument("--style-lr", type=float, default=1e-3)
    parser.add_argument(
        "--instructed", type=float, default=0.0, help="share of style steps with a style instruction (variant)"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--threads", type=int, default=1, help="CPU threads; fixed so reruns match bit for bit"
    )
    parser.add_argument(
        "--eval-size",
        type=int,
        default=ARITHMETIC_TEST_SIZE,
        help="test problems for the accuracy recorded in polsplit_tiny.json",
    )
    args = parser.parse_args()
    recipe = make_checkpoint(
        args.out,
        seed=args.seed,
        steps=args.steps,
        style_steps=args.style_steps,
        lr=args.lr,
        style_lr=args.style_lr,
        instructed=args.instructed,
        batch_size=args.batch_size,
        threads=args.threads,
        eval_size=args.eval_size,
    )
    print(json.dumps(recipe, indent=2))


if __name__ == "__main__":
    main()
