"""Offline maintainer tools, run with ``python -m polsplit_cli.tools.<name>``; never imported by a command.

``build_tiny`` rebuilds the shipped tiny checkpoint (``polsplit_cli/models/tiny_checkpoint``): it
uses the grader and the trainer's rollout helpers, which the runtime ``models`` package must not.
"""
