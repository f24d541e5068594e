"""The local trainer (reference loop of SPEC §2-5); ``verl/`` holds the distributed engine.

Files: ``config`` (every knob), ``data`` (questions), ``rollout`` (batched sampling and
teacher-forced scoring with a shared-prefix KV cache), ``algorithms`` (registry of SPEC §6),
``checkpoint`` (atomic save / resume), ``loop`` (one step, the run), ``command`` (the CLI).
"""
