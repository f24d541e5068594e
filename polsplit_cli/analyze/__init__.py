"""``polsplit analyze``: the paper's tables and figures (SPEC §9, §10) from our own result files.

One module per table or figure: ``kl`` (exact inter-mode KL), ``mode_gap`` (Table 5),
``best_of_n`` (Table 6), ``generalization`` (Table 7), ``compare`` (Table 1), ``plot``
(Figure 1(c) and bar charts). ``io`` reads the run folders, ``stats`` holds the shared
statistics, ``report`` renders tables (rich, markdown, CSV, LaTeX, JSON).
"""
