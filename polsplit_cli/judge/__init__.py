"""``polsplit judge``: diversity metrics and an OpenAI-compatible five-rubric LLM judge for stories.

``diversity`` needs no network; ``rubric`` holds the Appendix C.3 template and the score parser;
``presets`` the judges; ``client`` the async judge calls; ``stories`` the input reader;
``results`` the resumable judgements file and the summary; ``command`` the CLI wiring.
"""
