"""The 13 creative-writing story prompts (paper Appendix C.3): generation only, scored by `polsplit judge`."""

from polsplit_cli.prompts import story_prompts

NAME = "creative"
KIND = "creative"
SOURCE = None
NATIVE_FIELD = None


def builtin_rows() -> list[dict]:
    return [{"id": story_id, "question": text} for story_id, text in story_prompts()]
