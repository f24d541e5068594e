"""``polsplit eval``: the paper's evaluation protocol (SPEC §7).

benchmarks/ (one module per benchmark) -> backends/ (vllm or hf sampling) -> entropy.py
(exact full-vocabulary entropy) -> grading/ -> runner.py (resumable samples.jsonl) -> report.py.
Nothing heavy is imported here, so ``polsplit --help`` stays fast.
"""
