"""The registry's algorithms grouped as the verl presets must follow: by trainer and by rollout layout."""

from polsplit_cli.train.algorithms import ALGORITHMS

# the polsplit trainer runs these with one output per session (G rows per question)
SINGLE_MODE = tuple(name for name, cls in ALGORITHMS.items() if not cls.verl_builtin and not cls.dual_mode)
# the polsplit trainer and the dual-mode agent loop (2G rows per question)
DUAL_MODE = tuple(name for name, cls in ALGORITHMS.items() if cls.dual_mode)
