"""polsplit: Policy Split (dual-mode RL post-training) — train, eval, judge, analyze."""

__version__ = "0.1.0"
