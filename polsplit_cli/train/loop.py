"""The reference training loop (SPEC §2-5): rollouts -> rewards -> old-policy pass -> advantages -> PPO.

One step, for Q questions: G/2 responses sampled in normal mode and G/2 in HE mode (all G in
normal mode for the single-mode baselines), graded; every response scored under both prompts
by the old policy (log-probs, full-vocabulary entropies, inter-mode KL) in batched
teacher-forced passes; advantages and loss masks from the algorithm; then ``ppo_epochs`` passes
of clipped-PPO updates over mini-batches of questions with AdamW and gradient clipping. A
mini-batch whose loss or gradient is not finite is skipped (and counted): the weights and the
optimizer state stay untouched.

A run writes ``metrics.jsonl`` (docs/formats.md), ``manifest.json``, ``summary.json`` and
checkpoints (``checkpoint.py``) to its folder; ``resume`` continues from the newest checkpoint.
"""

from __future__ import annotations

import json
import math
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from polsplit_cli import algo
from polsplit_cli.algo import HIGH_ENTROPY, NORMAL, PromptMode
from polsplit_cli.algo.training_metrics import bits_or_none, finite_mean
from polsplit_cli.errors import UserError
from polsplit_cli.eval.entropy import check_linear_head
from polsplit_cli.eval.grading import DEFAULT_TIMEOUT_S, grade_many, grader_manifest
from polsplit_cli.models import eos_ids, load_model, render_prompt_ids, resolve_device, resolve_model_path
from polsplit_cli.modes import NORMAL as NORMAL_MODE_NAME
from polsplit_cli.modes import get_mode, template_system_text
from polsplit_cli.prompts import math_task
from polsplit_cli.runfiles import MANIFEST_FILE, load_manifest, manifest_header, write_json
from polsplit_cli.train import checkpoint as ckpt
from polsplit_cli.train.algorithms import Copies, OldPolicy, get_algorithm
from polsplit_cli.train.config import TrainConfig
from polsplit_cli.train.data import QuestionStream, TaskData, load_task
from polsplit_cli.train.loggers import MetricLoggers, logger_names
from polsplit_cli.train.rollout import (
    PromptGroup,
    generate,
    pad_tokens,
    prefix_kv,
    response_hidden,
    split_prefix,
)

METRICS_FILE, SUMMARY_FILE = "metrics.jsonl", "summary.json"
TRAIN_PACKAGES = ("torch", "transformers", "tokenizers", "numpy")  # versions in the manifest


@dataclass
class Scores:
    """Old-policy values over scored rows [R, T]: per prompt mode, and KL(own prompt || other prompt)."""

    mask: torch.Tensor
    logp: dict[int, torch.Tensor]
    entropy: dict[int, torch.Tensor]  # nats, T = 1 (the reported entropy)
    entropy_tempered: dict[int, torch.Tensor]  # nats, at the sampling temperature (the algorithms' input)
    kl_own_other: torch.Tensor | None


@dataclass
class RunResult:
    run_dir: Path
    last_step: int
    interrupted: bool
    checkpoint: Path | None
    start_eval: dict[str, float] = field(default_factory=dict)
    end_eval: dict[str, float] = field(default_factory=dict)


def _loss_units(keep: torch.Tensor, loss_agg: str) -> torch.Tensor:
    """What the loss averages over in ``keep`` [n, T]: kept tokens (token-mean) or sequences with one."""
    return keep.sum() if loss_agg == "token-mean" else keep.any(dim=1).sum()


class Trainer:
    """Owns the model, optimizer, data order and random state of one run."""

    def __init__(self, config: TrainConfig, run_dir: Path, *, resume: bool = False,
                 on_event: Callable[[str, dict[str, Any]], None] | None = None,
                 advantage_hook: Callable[[Copies], None] | None = None, task: TaskData | None = None) -> None:
        """``on_event(kind, payload)`` receives "step", "eval", "message" and "warning" events for a display;
        ``advantage_hook`` may edit a step's advantages in place (tests use it to inject a NaN); ``task``:
        the questions, when the caller has loaded them already (to check them before the model loads)."""
        self.config, self.run_dir, self.on_event = config, Path(run_dir), on_event or (lambda kind, payload: None)
        self.advantage_hook = advantage_hook
        self.algorithm = get_algorithm(config.algo)
        self.layout = self.algorithm.layout(config.group_size, sharing=config.sharing)
        self.device = torch.device(resolve_device(config.device))
        if config.threads:
            torch.set_num_threads(config.threads)
        self.modes = {NORMAL: get_mode(NORMAL_MODE_NAME), HIGH_ENTROPY: get_mode(config.he_mode)}
        if self.modes[HIGH_ENTROPY].system is None:
            raise UserError(f"he_mode '{config.he_mode}' has no system prompt: it would equal the normal mode")
        self.task = task or load_task(config.data, eval_size=config.eval_size, eval_data=config.eval_data)
        self.stream = QuestionStream(self.task.train, config.seed)
        self.step, self.skipped_updates, self.ungradable_steps = 0, 0, 0
        self.start_eval: dict[str, float] = {}
        checkpoint = ckpt.latest_checkpoint(self.run_dir) if resume else None
        self._seed_everything(config.seed)
        self._load_model(str(checkpoint) if checkpoint else config.model)
        if checkpoint is not None:
            self._restore(checkpoint)
        self.stop_requested = False

    # --- setup -----------------------------------------------------------------------------------

    def _seed_everything(self, seed: int) -> None:
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        self.sampler = torch.Generator(self.device).manual_seed(seed)
        self.algo_rng = torch.Generator("cpu").manual_seed(seed + 1)

    def _load_model(self, path: str) -> None:
        dtype = getattr(torch, self.config.dtype)
        self.model, self.tokenizer = load_model(path, device=self.device, dtype=dtype)
        check_linear_head(self.model)
        self.head = self.model.get_output_embeddings()
        self.stop_ids = eos_ids(self.model, self.tokenizer)
        self.pad_id = self.tokenizer.pad_token_id
        self.template_system = template_system_text(self.tokenizer)
        if self.template_system is not None:
            self.on_event("warning", {"text": f"the chat template adds its own system turn when a chat has none, so "
                                              f"normal mode is not 'no system turn' but: {self.template_system!r} "
                                              "(recorded in manifest.json as normal_mode_system)"})
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.config.lr,
                                           weight_decay=self.config.weight_decay)

    def _restore(self, checkpoint: Path) -> None:
        state = ckpt.load_trainer_state(checkpoint)
        self.optimizer.load_state_dict(state["optimizer"])
        for group in self.optimizer.param_groups:  # a resume may change the learning rate
            group["lr"], group["weight_decay"] = self.config.lr, self.config.weight_decay
        self.stream.load_state_dict(state["data"])
        self.step, self.skipped_updates = state["step"], state["skipped_updates"]
        self.ungradable_steps = state.get("ungradable_steps", 0)  # absent in checkpoints before 0.1.x
        self.start_eval = state.get("start_eval", {})
        ckpt.restore_rng_states(state["rng"], self.sampler, self.algo_rng)
        self.on_event("message", {"text": f"resumed from {checkpoint} (step {self.step})"})

    # --- prompts ---------------------------------------------------------------------------------

    def _prompt(self, mode: int, question: str) -> list[int]:
        return render_prompt_ids(self.tokenizer, self.modes[mode].messages(math_task(question)))

    def _groups(self, questions: list[dict[str, str]], modes: list[int]) -> dict[int, PromptGroup]:
        return {m: split_prefix([self._prompt(m, q["question"]) for q in questions]) for m in modes}

    # --- rollouts, rewards, scoring --------------------------------------------------------------

    def _generate(self, group: PromptGroup, rows: list[int], *, greedy: bool) -> list[list[int]]:
        """Responses for suffix rows ``rows`` of ``group``, micro_batch_size rows per batched call."""
        config, out = self.config, []
        size = config.micro_batch_size
        for start in range(0, len(rows), size):
            chunk = PromptGroup(group.prefix, [group.suffixes[q] for q in rows[start : start + size]])
            out += generate(self.model, chunk, max_new_tokens=config.max_new_tokens, stop_ids=self.stop_ids,
                            pad_id=self.pad_id, temperature=config.temperature, top_p=config.top_p,
                            top_k=config.top_k, greedy=greedy, generator=self.sampler)
        return out

    def _grade(self, responses: list[list[int]], golds: list[str]) -> tuple[torch.Tensor, str | None]:
        """1.0 / 0.0 per response from the project's grader (the final boxed answer in the answer region),
        and, when no response had an answer to grade, the commonest reason (e.g. "no-think-close")."""
        texts = self.tokenizer.batch_decode(responses, skip_special_tokens=True)
        grades = grade_many(list(zip(texts, golds, strict=True)), grader=self.config.grader,
                            answer_region=self.config.answer_region)
        rewards = torch.tensor([1.0 if g.correct else 0.0 for g in grades])
        if any(g.extracted is not None for g in grades):
            return rewards, None
        reasons = [g.reason for g in grades]
        return rewards, max(sorted(set(reasons)), key=reasons.count)

    def _count_ungradable(self, reason: str) -> None:
        """A step where no response had an answer: every reward is 0 and nothing is learned; say so once."""
        self.ungradable_steps += 1
        if self.ungradable_steps > 1:
            return
        hint = ("no response closed its thought with </think>; for a model that does not think pass "
                "--answer-region auto" if reason == "no-think-close" else "no response gave a final \\boxed{} answer")
        self.on_event("warning", {"text": f"step {self.step + 1}: no response had an answer to grade "
                                          f"(answer region {self.config.answer_region}, {reason}): every reward "
                                          f"is 0, nothing is learned; {hint} (counted as ungradable_steps "
                                          "in metrics.jsonl)"})

    @torch.no_grad()
    def _score(self, groups: dict[int, PromptGroup], questions: list[int], responses: list[list[int]],
               own_mode: list[int]) -> Scores:
        """Teacher-forced old-policy values of every response under every prompt mode in ``groups``."""
        modes = sorted(groups)
        kv = {m: prefix_kv(self.model, groups[m].prefix) for m in modes}
        rows, width = len(responses), max(len(r) for r in responses)
        zeros = lambda: torch.zeros((rows, width), device=self.device)  # noqa: E731
        mask = zeros()
        logp, entropy, tempered = ({m: zeros() for m in modes} for _ in range(3))
        kl = zeros() if len(modes) == 2 else None
        own = torch.tensor(own_mode, device=self.device)
        size = self.config.micro_batch_size
        for start in range(0, rows, size):
            part = slice(start, min(start + size, rows))
            chunk = responses[part]
            hidden = {}
            for m in modes:
                hidden[m], chunk_mask = response_hidden(self.model, kv[m], [groups[m].suffixes[q] for q in
                                                                            questions[part]], chunk)
            keep = chunk_mask.bool()
            columns = keep.shape[1]
            targets = pad_tokens(chunk, columns, self.device)[keep]
            mask[part, :columns] = chunk_mask
            for m in modes:
                stats = algo.chunked_token_stats(hidden[m][keep], self.head.weight, targets, bias=self.head.bias,
                                                 temperature=self.config.temperature)
                for store, values in ((logp, stats.logp), (entropy, stats.entropy),
                                      (tempered, stats.entropy_tempered)):
                    store[m][part, :columns][keep] = values.float()
            if kl is not None:
                he_rows = (own[part] == HIGH_ENTROPY)[:, None, None]
                mine = torch.where(he_rows, hidden[HIGH_ENTROPY], hidden[NORMAL])[keep]
                other = torch.where(he_rows, hidden[NORMAL], hidden[HIGH_ENTROPY])[keep]
                kl[part, :columns][keep] = algo.chunked_token_kl(mine, other, self.head.weight,
                                                                 bias=self.head.bias).float()
        return Scores(mask, logp, entropy, tempered, kl)

    # --- one step --------------------------------------------------------------------------------

    def _rollout(self, questions: list[dict[str, str]]) -> tuple[dict[int, PromptGroup], list[list[int]], list[int]]:
        """G responses per question, row q * G + g; returns (prompt groups, responses, gen mode per row)."""
        q_count, g_count = len(questions), self.config.group_size
        prompt_modes = [NORMAL, HIGH_ENTROPY] if self.algorithm.dual_mode else [NORMAL]
        groups = self._groups(questions, prompt_modes)
        gen_mode = self.layout.gen_mode[:g_count].tolist() if self.algorithm.dual_mode else [NORMAL] * g_count
        responses: list[list[int]] = [[] for _ in range(q_count * g_count)]
        for m in prompt_modes:
            slots = [(q, g) for q in range(q_count) for g in range(g_count) if gen_mode[g] == m]
            made = self._generate(groups[m], [q for q, _ in slots], greedy=False)
            for (q, g), response in zip(slots, made, strict=True):
                responses[q * g_count + g] = response
        return groups, responses, gen_mode * q_count

    def train_step(self) -> dict[str, Any]:
        config, started = self.config, time.perf_counter()
        q_count, g_count = config.questions_per_step, config.group_size
        questions = self.stream.take(q_count)
        groups, responses, gen_mode = self._rollout(questions)
        rewards, ungradable = self._grade(responses, [q["answer"] for q in questions for _ in range(g_count)])
        if ungradable is not None:
            self._count_ungradable(ungradable)
        rolled_out = time.perf_counter()
        question_of_row = [q for q in range(q_count) for _ in range(g_count)]
        scores = self._score(groups, question_of_row, responses, gen_mode)

        shape = (q_count, g_count, -1)
        old = OldPolicy(rewards.view(q_count, g_count).to(self.device), scores.mask.view(shape),
                        {m: v.view(shape) for m, v in scores.logp.items()},
                        {m: v.view(shape) for m, v in scores.entropy_tempered.items()})
        copies = self.algorithm.copies(old, config)
        if self.advantage_hook is not None:
            self.advantage_hook(copies)
        scored = time.perf_counter()
        update = self._update(groups, responses, copies)
        self.step += 1
        self.phase_seconds = {"rollout": rolled_out - started, "old_policy": scored - rolled_out,
                              "update": time.perf_counter() - scored}
        record = {"step": self.step}
        record.update(self._rollout_metrics(rewards, gen_mode, scores))
        record.update(self._advantage_metrics(copies, old.mask))
        record.update(update)
        record["skipped_updates"] = self.skipped_updates
        record["ungradable_steps"] = self.ungradable_steps
        record["step_time_s"] = round(time.perf_counter() - started, 4)
        record["tokens"] = sum(len(r) for r in responses)
        return record

    def _update(self, groups: dict[int, PromptGroup], responses: list[list[int]], copies: Copies) -> dict[str, Any]:
        """PPO epochs over mini-batches of questions; each mini-batch is one optimizer step."""
        config, layout = self.config, self.layout
        q_count = config.questions_per_step
        per_batch = config.mini_batch_size or q_count
        figures: dict[str, list[float]] = {"loss": [], "grad_norm": [], "clip_fraction": [], "approx_kl": []}
        params = [p for p in self.model.parameters() if p.requires_grad]
        for _ in range(config.ppo_epochs):
            for first in range(0, q_count, per_batch):
                rows = [(q, c) for q in range(first, min(first + per_batch, q_count)) for c in range(layout.n_copies)]
                result = self._minibatch(groups, responses, copies, rows, params)
                if result is None:
                    self.skipped_updates += 1
                    continue
                for key, value in result.items():
                    figures[key].append(value)
        return {key: (sum(v) / len(v) if v else None) for key, v in figures.items()}

    def _minibatch(self, groups, responses, copies: Copies, rows: list[tuple[int, int]], params) -> dict | None:
        """Accumulate the mini-batch's gradient over micro-batches; step, or return None if not finite."""
        config, g_count = self.config, self.config.group_size
        q_index = torch.tensor([q for q, _ in rows])
        c_index = torch.tensor([c for _, c in rows])
        kept = copies.mask[q_index, c_index] != 0
        total = _loss_units(kept, config.loss_agg)
        if int(total) == 0:
            return {"loss": 0.0, "grad_norm": 0.0, "clip_fraction": 0.0, "approx_kl": 0.0}
        self.optimizer.zero_grad(set_to_none=True)
        loss_sum, clip_sum, kl_sum, finite = 0.0, 0.0, 0.0, True
        prompt_mode = self.layout.prompt_mode
        for mode in sorted(groups):
            mode_rows = [i for i, (_, c) in enumerate(rows) if int(prompt_mode[c]) == mode]
            for start in range(0, len(mode_rows), config.micro_batch_size):
                part = mode_rows[start : start + config.micro_batch_size]
                qs, cs = q_index[part], c_index[part]
                chunk = [responses[int(q) * g_count + int(self.layout.response[c])] for q, c in zip(qs, cs, strict=True)]
                logp, entropy, mask = self._current(groups[mode], qs.tolist(), chunk)
                columns = mask.shape[1]
                loss_mask = copies.mask[qs, cs, :columns]
                loss, stats = self.algorithm.loss(logp, copies.old_logp[qs, cs, :columns], copies.adv[qs, cs, :columns],
                                                  loss_mask, entropy, config, self.algo_rng)
                keep = loss_mask != 0
                share = _loss_units(keep, config.loss_agg) / total
                if not torch.isfinite(loss):
                    finite = False
                    break
                (loss * share).backward()
                loss_sum += float(loss.detach()) * float(share)
                clip_sum += float(stats["clip_fraction"]) * float(share)
                kl_sum += float(stats["approx_kl"]) * float(share)
            if not finite:
                break
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, config.grad_clip)) if finite else math.nan
        if not math.isfinite(grad_norm):
            self.optimizer.zero_grad(set_to_none=True)
            return None
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return {"loss": loss_sum, "grad_norm": grad_norm, "clip_fraction": clip_sum, "approx_kl": kl_sum}

    def _current(self, group: PromptGroup, questions: list[int], responses: list[list[int]]):
        """Current-policy log-probs (and entropies if the algorithm's loss needs them), with gradient."""
        kv = prefix_kv(self.model, group.prefix)
        hidden, mask = response_hidden(self.model, kv, [group.suffixes[q] for q in questions], responses)
        keep = mask.bool()
        logits = F.linear(hidden[keep], self.head.weight, self.head.bias)
        targets = pad_tokens(responses, mask.shape[1], self.device)[keep]
        values = algo.token_logprobs(logits, targets, temperature=self.config.temperature)
        logp = torch.zeros(mask.shape, dtype=values.dtype, device=self.device).masked_scatter(keep, values)
        entropy = None
        if self.algorithm.needs_entropy_grad:
            values = algo.token_entropy(logits, temperature=self.config.temperature)
            entropy = torch.zeros(mask.shape, dtype=values.dtype, device=self.device).masked_scatter(keep, values)
        return logp, entropy, mask

    # --- metrics ---------------------------------------------------------------------------------

    def _rollout_metrics(self, rewards, gen_mode, scores: Scores) -> dict[str, Any]:
        gen = torch.tensor(gen_mode, device=self.device)
        own_entropy = scores.entropy[NORMAL]
        if HIGH_ENTROPY in scores.entropy:
            own_entropy = torch.where((gen == HIGH_ENTROPY)[:, None], scores.entropy[HIGH_ENTROPY], own_entropy)
        return algo.mode_metrics(rewards.to(self.device), scores.mask, own_entropy, gen, scores.kl_own_other)

    def _advantage_metrics(self, copies: Copies, response_mask: torch.Tensor) -> dict[str, Any]:
        out: dict[str, Any] = {}
        token_mask = self.layout.copy_values(response_mask, response_mask)
        prompt_mode = self.layout.prompt_mode.to(self.device)
        for m, key in ((mode, mode.metric_key) for mode in PromptMode):
            keep = token_mask * (prompt_mode == m)[None, :, None]
            out[f"adv/{key}_mean"] = finite_mean(copies.adv, keep)
            out[f"adv/{key}_abs_mean"] = finite_mean(copies.adv.abs(), keep)
        out["adv/entropy_term_clip_fraction"] = copies.stats.get("adv/entropy_term_clip_fraction")
        return out

    @torch.no_grad()
    def evaluate(self) -> dict[str, float | None]:
        """Greedy held-out accuracy per mode, entropy per mode (bits), forward KL on HE responses."""
        held_out = self.task.held_out
        if not held_out:
            return {}
        groups = self._groups(held_out, [NORMAL, HIGH_ENTROPY])
        n = len(held_out)
        responses = [r for m in (NORMAL, HIGH_ENTROPY) for r in self._generate(groups[m], list(range(n)), greedy=True)]
        own_mode = [NORMAL] * n + [HIGH_ENTROPY] * n
        correct, _ = self._grade(responses, [q["answer"] for q in held_out] * 2)
        scores = self._score(groups, list(range(n)) * 2, responses, own_mode)
        own = torch.tensor(own_mode, device=self.device)
        out: dict[str, float | None] = {}
        for m, key in ((mode, mode.metric_key) for mode in PromptMode):
            rows = own == m
            out[f"eval/{key}/accuracy"] = float(correct[rows.cpu()].mean())
            out[f"eval/{key}/entropy_bits"] = bits_or_none(finite_mean(scores.entropy[m], scores.mask * rows[:, None]))
        out["eval/kl/forward_bits"] = bits_or_none(finite_mean(scores.kl_own_other, scores.mask * (own == HIGH_ENTROPY)[:, None]))
        return out

    # --- the run ---------------------------------------------------------------------------------

    def _trainer_state(self) -> dict[str, Any]:
        return {"step": self.step, "skipped_updates": self.skipped_updates, "ungradable_steps": self.ungradable_steps,
                "optimizer": self.optimizer.state_dict(),
                "data": self.stream.state_dict(), "rng": ckpt.rng_states(self.sampler, self.algo_rng),
                "start_eval": self.start_eval, "config": self.config.to_dict()}

    def save(self) -> Path:
        path = ckpt.save_checkpoint(self.run_dir, self.step, self.model, self.tokenizer, self._trainer_state())
        self.on_event("checkpoint", {"path": str(path), "step": self.step})
        return path

    def _on_sigint(self, signum, frame) -> None:
        if self.stop_requested:
            raise KeyboardInterrupt
        self.stop_requested = True
        self.on_event("message", {"text": "Ctrl-C: finishing this step, then saving a checkpoint "
                                          "(press Ctrl-C again to stop at once without saving)"})

    def run(self) -> RunResult:
        config = self.config
        self.run_dir.mkdir(parents=True, exist_ok=True)
        metrics_path = self.run_dir / METRICS_FILE
        _truncate_metrics(metrics_path, self.step)
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        result = RunResult(self.run_dir, self.step, False, None, self.start_eval)
        loggers = MetricLoggers(logger_names(config.logger), self.run_dir, config.to_dict())
        try:
            with metrics_path.open("a", encoding="utf-8") as metrics:
                if self.step == 0 and config.eval_size:
                    self.start_eval = result.start_eval = self.evaluate()
                    _write(metrics, {"step": 0, **self.start_eval})
                    loggers.log({"step": 0, **self.start_eval})
                    self.on_event("eval", {"step": 0, **self.start_eval})
                while self.step < config.steps and not self.stop_requested:
                    record = self.train_step()
                    last = self.step == config.steps
                    if config.eval_size and (last or (config.eval_every and self.step % config.eval_every == 0)):
                        evaluation = self.evaluate()
                        record.update(evaluation)
                        result.end_eval = evaluation
                    _write(metrics, record)
                    loggers.log(record)
                    self.on_event("step", record)
                    if not last and config.checkpoint_every and self.step % config.checkpoint_every == 0:
                        self.save()
            result.checkpoint = self.save()
            result.interrupted = self.stop_requested and self.step < config.steps
        finally:
            signal.signal(signal.SIGINT, previous)
            loggers.close()
        result.last_step = self.step
        return result


def _write(handle, record: dict[str, Any]) -> None:
    handle.write(json.dumps(record) + "\n")
    handle.flush()


def _truncate_metrics(path: Path, last_step: int) -> None:
    """Drop records of steps after ``last_step`` (done after the checkpoint a resume starts from)."""
    if not path.is_file():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line)["step"] <= last_step]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def write_manifest(trainer: Trainer, *, status: str, extra: dict[str, Any] | None = None) -> None:
    """manifest.json (kind "train"): command, resolved config, model, seeds, versions, prompt hashes."""
    manifest = load_manifest(trainer.run_dir) or {}
    if status == "running":  # a new invocation (a later status of it keeps its header)
        manifest.update(manifest_header("train", TRAIN_PACKAGES, manifest))
    manifest.update({
        "config": trainer.config.to_dict(),
        "model": str(resolve_model_path(trainer.config.model)),
        "seeds": {"seed": trainer.config.seed, "sampler": trainer.config.seed, "algorithm": trainer.config.seed + 1},
        "grading": grader_manifest(trainer.config.grader, trainer.config.answer_region, DEFAULT_TIMEOUT_S),
        "modes": {mode.name: mode.digest for mode in trainer.modes.values()},
        # what the chat template puts in a chat without a system turn (the normal mode), None for nothing
        "normal_mode_system": trainer.template_system,
        "data": trainer.task.name,
        "status": status,
        "last_step": trainer.step,
        **(extra or {}),
    })
    trainer.run_dir.mkdir(parents=True, exist_ok=True)
    write_json(trainer.run_dir / MANIFEST_FILE, manifest)


def write_summary(result: RunResult, *, wall_s: float) -> dict[str, Any]:
    """summary.json: held-out figures before and after training and the run's outcome."""
    start, end = result.start_eval, result.end_eval

    def gap(figures: dict[str, Any]) -> float | None:
        he, normal = figures.get("eval/he/entropy_bits"), figures.get("eval/normal/entropy_bits")
        return None if he is None or normal is None else he - normal

    kl_start, kl_end = start.get("eval/kl/forward_bits"), end.get("eval/kl/forward_bits")
    summary = {
        "steps": result.last_step,
        "interrupted": result.interrupted,
        "checkpoint": str(result.checkpoint) if result.checkpoint else None,
        "wall_s": round(wall_s, 1),
        "start": start,
        "end": end,
        "kl_growth": kl_end / kl_start if kl_start and kl_end is not None else None,
        "entropy_gap_start": gap(start),
        "entropy_gap_end": gap(end),
    }
    write_json(result.run_dir / SUMMARY_FILE, summary)
    return summary
