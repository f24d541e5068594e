"""verl 0.9.1 backend: dual-mode agent loop, ``polsplit`` trainer, reward, data prep and launcher.

Nothing here imports verl at package import; ``plugin`` (which does) is loaded into verl's
Ray processes through ``VERL_USE_EXTERNAL_MODULES``.
"""
