"""``polsplit prepare``: math questions -> verl's RL parquet schema, with the paper's math task prompt.

Source: DeepMath-103K from the Hugging Face hub (a seeded sample; fields question /
final_answer) or any ``{"question", "answer"}`` JSONL (``--data-file``). Each row:
``data_source``, ``prompt`` (normal-mode chat messages: one user turn, no system turn),
``ability``, ``reward_model`` {style: rule, ground_truth}, ``extra_info`` {index, id,
split, question, answer}. The train and validation sets are disjoint slices of one seeded
permutation.
"""

from __future__ import annotations

import random
from pathlib import Path

import typer

from polsplit_cli.errors import UserError
from polsplit_cli.prompts import math_task
from polsplit_cli.runfiles import MANIFEST_FILE, check_out_dir, manifest_header, write_json
from polsplit_cli.train.data import load_qa_jsonl

DEEPMATH = "zwhe99/DeepMath-103K"
PREPARE_PACKAGES = ("datasets", "pandas", "pyarrow")  # versions in the manifest


def load_deepmath() -> list[dict[str, str]]:
    """DeepMath-103K's train split as {"id", "question", "answer"} (needs the hub or its local cache)."""
    try:
        import datasets
    except ImportError as error:
        raise UserError("the datasets package is needed for DeepMath: pip install 'polsplit[verl]'") from error
    try:
        table = datasets.load_dataset(DEEPMATH, split="train")
    except Exception as error:  # offline, hub errors, missing cache: all mean "give a local file"
        raise UserError(
            f"cannot load {DEEPMATH} from the Hugging Face hub ({type(error).__name__}); "
            "pass a local {\"question\", \"answer\"} JSONL with --data-file"
        ) from error
    return [
        {"id": f"deepmath-{i}", "question": row["question"], "answer": str(row["final_answer"])}
        for i, row in enumerate(table)
    ]


def verl_row(record: dict[str, str], *, index: int, split: str, data_source: str) -> dict:
    """One parquet row in the layout verl's RLHFDataset and reward manager read."""
    return {
        "data_source": data_source,
        "prompt": [{"role": "user", "content": math_task(record["question"])}],
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": record["answer"]},
        "extra_info": {
            "index": index, "id": record["id"], "split": split,
            "question": record["question"], "answer": record["answer"],
        },
    }


def split_sample(records: list, *, size: int, val_size: int, seed: int) -> tuple[list, list]:
    """(train, val): disjoint, from one permutation seeded by ``seed``; size 0 = all remaining records."""
    if size < 0 or val_size < 0:
        raise UserError("--size and --val-size must be >= 0")
    if val_size >= len(records):
        raise UserError(f"--val-size {val_size} leaves no training questions out of {len(records)}")
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    val, rest = order[:val_size], order[val_size:]
    if size > len(rest):
        raise UserError(f"--size {size} exceeds the {len(rest)} questions left after the validation split")
    train = rest[:size] if size else rest
    return [records[i] for i in train], [records[i] for i in val]


def write_parquet(rows: list[dict], path: Path) -> None:
    import pandas as pd

    pd.DataFrame(rows).to_parquet(path, index=False)


def prepare(out: Path, *, data_file: Path | None = None, size: int = 20000, val_size: int = 500,
            seed: int = 0) -> dict[str, Path]:
    """Write ``train.parquet``, ``val.parquet`` and ``manifest.json`` under ``out``; return their paths."""
    check_out_dir(out, "data")  # before any download: a folder of other results is never overwritten
    if data_file is not None:
        records, data_source = load_qa_jsonl(data_file), f"polsplit/{Path(data_file).stem}"
    else:
        records, data_source = load_deepmath(), DEEPMATH
    train, val = split_sample(records, size=size, val_size=val_size, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"train": out / "train.parquet", "val": out / "val.parquet", "manifest": out / MANIFEST_FILE}
    for split, chosen in (("train", train), ("val", val)):
        rows = [verl_row(r, index=i, split=split, data_source=data_source) for i, r in enumerate(chosen)]
        write_parquet(rows, paths[split])
    write_json(paths["manifest"], {
        **manifest_header("data", PREPARE_PACKAGES), "source": str(data_file) if data_file else DEEPMATH,
        "data_source": data_source, "seed": seed, "train": len(train), "val": len(val),
        "task_prompt": math_task("{query}"),
    })
    return paths


def prepare_command(
    out: Path = typer.Option(Path("data/deepmath"), "--out", help="Folder for train.parquet / val.parquet."),
    data_file: Path = typer.Option(None, "--data-file", help='A {"question","answer"} JSONL instead of DeepMath.'),
    size: int = typer.Option(20000, "--size", help="Training questions (0 = all but the validation set)."),
    val_size: int = typer.Option(500, "--val-size", help="Validation questions, disjoint from training."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sample."),
) -> None:
    """Turn DeepMath-103K (or a JSONL) into verl's parquet schema with the paper's math task prompt."""
    paths = prepare(out, data_file=data_file, size=size, val_size=val_size, seed=seed)
    print(f"wrote {paths['train']} and {paths['val']} (see {paths['manifest']})")
