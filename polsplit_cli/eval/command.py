"""``polsplit eval``: option parsing and printing; the work is in runner.py and report.py.

Protocol options (benchmarks, modes, n, sampling) default to the paper preset
``configs/eval/paper.yaml``; ``--config FILE`` replaces preset values and flags beat both.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import shlex
from pathlib import Path

import typer

from polsplit_cli.errors import UserError, missing_extra
from polsplit_cli.eval.backends import BACKENDS
from polsplit_cli.eval.benchmarks import load_benchmark, load_data_file, resolve_benchmarks
from polsplit_cli.eval.grading import ANSWER_REGIONS, GRADERS
from polsplit_cli.eval.protocol import EvalProtocol, resolve_protocol
from polsplit_cli.eval.report import render_table, summarize
from polsplit_cli.eval.runner import SAMPLES_FILE, SUMMARY_FILE, EvalSettings, run_eval
from polsplit_cli.models import DTYPES, check_device, resolve_model_path
from polsplit_cli.modes import builtin_modes, get_mode
from polsplit_cli.runfiles import MANIFEST_FILE, chosen_run_dir, command_line, new_run_dir, write_json
from polsplit_cli.terminal import ProgressReport, table_console

INTERRUPTED_EXIT = 130  # as polsplit train: the run stopped part-way and can be resumed


def eval_command(
    model: str = typer.Option(..., "--model", help="A local Hugging Face model folder, or 'tiny' (built in)."),
    benchmarks: list[str] = typer.Option(None, "--benchmarks", "-b", help="Comma list or repeatable: math-500, "
                                         "aime-24, aime-25, gpqa-diamond, mmlu-pro, arithmetic, creative, or "
                                         "'paper' (the five). Default: paper."),
    modes: list[str] = typer.Option(None, "--mode", help="normal, high-entropy, rewritten-high-entropy, "
                                    "low-entropy, a text file (its system prompt) or 'all'; repeatable. Default: normal."),
    data_file: Path = typer.Option(None, "--data-file", help="A JSONL file replacing the one --benchmarks source "
                                   "(or, alone, a custom benchmark named after the file). See docs/eval.md."),
    n: int = typer.Option(None, "--n", help="Samples per problem (default 8)."),
    limit: int = typer.Option(None, "--limit", help="Only the first N problems of each benchmark (default: all)."),
    temperature: float = typer.Option(None, "--temperature", help="Sampling temperature (default 0.6; 0 = greedy)."),
    top_k: int = typer.Option(None, "--top-k", help="Top-k (default 20; 0 = off)."),
    top_p: float = typer.Option(None, "--top-p", help="Top-p (default 0.95)."),
    max_new_tokens: int = typer.Option(None, "--max-new-tokens", help="Response token limit (default 32768)."),
    seed: int = typer.Option(None, "--seed", help="Base seed of the per-sample seeds and GPQA option order (default 0)."),
    config: Path = typer.Option(None, "--config", help="YAML with protocol keys replacing configs/eval/paper.yaml."),
    backend: str = typer.Option("auto", "--backend", help="auto (vllm if importable and CUDA present, else hf), vllm, hf."),
    batch_size: int = typer.Option(16, "--batch-size", help="hf backend: sequences sampled together."),
    device: str = typer.Option(None, "--device", help="torch device of the hf model / entropy scorer (default cuda if present)."),
    dtype: str = typer.Option("auto", "--dtype", help="auto (bfloat16 on GPU, float32 on CPU), float32, bfloat16, float16."),
    tensor_parallel_size: int = typer.Option(1, "--tensor-parallel-size", help="vllm: GPUs per model."),
    data_parallel_size: int = typer.Option(1, "--data-parallel-size", help="vllm: only 1 (see docs/eval.md)."),
    gpu_memory_utilization: float = typer.Option(0.7, "--gpu-memory-utilization", help="vllm: share of GPU memory "
                                                 "it reserves; the rest holds the entropy scorer's copy of the model."),
    entropy_chunk_size: int = typer.Option(1024, "--entropy-chunk-size", help="Positions per output-layer chunk."),
    grading_timeout: float = typer.Option(None, "--grading-timeout", help="Seconds per checker step of a graded "
                                          "answer (hard limit; default 5)."),
    grader: str = typer.Option(None, "--grader", help="Math grader: combined (default: the PRM800K-style path, "
                               "then math-verify; right if either proves equality), prm800k (the paper's reward) "
                               "or math-verify."),
    answer_region: str = typer.Option(None, "--answer-region", help="Where the answer is: auto (default: after the "
                                      "last </think>, or the whole response when it has no <think> tag at all), "
                                      "after-think (no </think> = truncated, incorrect) or whole."),
    out: Path = typer.Option(None, "--out", help="Results folder (default: runs/eval-<timestamp>)."),
    resume: Path = typer.Option(None, "--resume", metavar="RUN_DIR", help="Continue this eval run folder with the "
                                "same options, skipping finished samples (in place of --out)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress (a bar on a terminal, else a line every 30 s)."),
    json_output: bool = typer.Option(False, "--json", help="Print summary.json to stdout instead of the table."),
) -> None:
    """Sample, grade and measure entropy on the paper's benchmarks, one or several modes, paired sample by sample.

    The defaults are the paper's protocol (configs/eval/paper.yaml): 8 samples per problem at T=0.6,
    top-k 20, top-p 0.95, up to 32,768 tokens. Benchmarks, data files and outputs: docs/eval.md.
    """
    from rich.console import Console

    protocol = resolve_protocol(config, {
        "n": n, "limit": limit, "temperature": temperature, "top_k": top_k, "top_p": top_p,
        "max_new_tokens": max_new_tokens, "seed": seed, "benchmarks": benchmarks or None, "modes": modes or None})
    if data_parallel_size != 1:
        raise UserError("--data-parallel-size: vLLM's offline LLM runs one data-parallel rank per process; "
                        "run one polsplit eval per GPU group on different benchmarks (docs/eval.md)")
    if backend not in BACKENDS:
        raise UserError(f"unknown --backend '{backend}': use one of {', '.join(BACKENDS)}")
    if backend == "vllm" and importlib.util.find_spec("vllm") is None:
        raise missing_extra("vllm", "vllm")
    if dtype not in ("auto", *DTYPES):
        raise UserError(f"unknown --dtype '{dtype}': use auto, float32, bfloat16 or float16")
    if grading_timeout is not None and not grading_timeout > 0:
        raise UserError(f"--grading-timeout must be > 0, got {grading_timeout}")
    for name, value, allowed in (("grader", grader, GRADERS), ("answer-region", answer_region, ANSWER_REGIONS)):
        if value is not None and value not in allowed:
            raise UserError(f"unknown --{name} '{value}': use one of {', '.join(allowed)}")
    for name, value in (("batch-size", batch_size), ("tensor-parallel-size", tensor_parallel_size),
                        ("entropy-chunk-size", entropy_chunk_size)):
        if value < 1:
            raise UserError(f"--{name} must be >= 1, got {value}")
    if not 0 < gpu_memory_utilization <= 1:
        raise UserError(f"--gpu-memory-utilization must be in (0, 1], got {gpu_memory_utilization}")
    out_dir = chosen_run_dir(out, resume) or new_run_dir("eval")
    resolve_model_path(model)  # a wrong --model or --device is refused before anything is read or written
    check_device(device)
    mode_list = resolve_modes(protocol.modes)
    loaded = load_problems(protocol, data_file, cli_benchmarks=benchmarks)
    sampling = protocol.sampling
    settings = EvalSettings(
        model=model, benchmarks=loaded, modes=mode_list, n=protocol.n, sampling=sampling,
        backend=backend, out=out_dir, resume=resume is not None, batch_size=batch_size, device=device,
        dtype=dtype, tensor_parallel_size=tensor_parallel_size, gpu_memory_utilization=gpu_memory_utilization,
        entropy_chunk_size=entropy_chunk_size,
        **{key: value for key, value in (("grading_timeout", grading_timeout), ("grader", grader),
                                         ("answer_region", answer_region)) if value is not None},
    )
    err = Console(stderr=True)
    records = _run_with_progress(settings, err, quiet or json_output)
    summary = summarize(records, n=settings.n, temperature=sampling.temperature)
    write_json(out_dir / SUMMARY_FILE, summary)
    if json_output:
        print(json.dumps(summary, indent=2))
    else:
        table_console().print(render_table(summary))
    err.print(f"results in {out_dir}/ (samples.jsonl, summary.json, manifest.json)", highlight=False)


def resolve_modes(specs: list[str]) -> list:
    """Mode objects for names, files and 'all' (the four built-ins), first occurrence of a name kept."""
    modes = []
    for spec in specs:
        modes.extend(builtin_modes().values() if spec == "all" else [get_mode(str(spec))])
    return list({mode.name: mode for mode in modes}.values())


def load_problems(protocol: EvalProtocol, data_file: Path | None, *, cli_benchmarks: list[str] | None) -> list:
    """The benchmarks to run: registered ones, or one data file (standing in for at most one --benchmarks)."""
    if data_file is None:
        return [load_benchmark(name, seed=protocol.seed, limit=protocol.limit)
                for name in resolve_benchmarks([str(spec) for spec in protocol.benchmarks])]
    chosen = resolve_benchmarks(cli_benchmarks) if cli_benchmarks else []
    if len(chosen) > 1:
        raise UserError("--data-file replaces the source of one benchmark: give at most one --benchmarks")
    return [load_data_file(data_file, benchmark=chosen[0] if chosen else None, seed=protocol.seed,
                           limit=protocol.limit)]


def _run_with_progress(settings, err, quiet: bool) -> list[dict]:
    """run_eval with a progress display; Ctrl-C ends with the command that resumes the run (exit 130),
    and a run that fails before its first sample leaves no folder behind."""
    fresh = not settings.out.exists()
    try:
        if quiet:
            return run_eval(settings)
        with ProgressReport("sampling", err) as report:
            return run_eval(settings, progress=report.update)
    except KeyboardInterrupt:
        err.print(f"interrupted: finished samples are in {settings.out / SAMPLES_FILE}; resume with: "
                  f"{_resume_command(settings.out)}", highlight=False, soft_wrap=True)
        raise typer.Exit(INTERRUPTED_EXIT) from None
    except BaseException:
        if fresh:
            _remove_unused(settings.out)
        raise


def _resume_command(out: Path) -> str:
    """This command line with ``--resume OUT`` in place of its --out / --resume."""
    args, skip = [], False
    for arg in command_line():
        if not skip and arg not in ("--out", "--resume") and not arg.startswith(("--out=", "--resume=")):
            args.append(arg)
        skip = arg in ("--out", "--resume")
    return shlex.join([*args, "--resume", str(out)])


def _remove_unused(out: Path) -> None:
    """Remove a run folder this invocation made and wrote no sample to (only its manifest)."""
    samples = out / SAMPLES_FILE
    if samples.exists() and samples.stat().st_size > 0:
        return
    for name in (MANIFEST_FILE, SAMPLES_FILE):
        (out / name).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # something else is in it: leave it
        out.rmdir()
