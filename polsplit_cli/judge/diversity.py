"""Rule-based diversity of the stories written for one prompt (paper Eq. 11-12), on a 0-100 scale.

Div-N-Gram: share of n-grams that are unique. "per-story" (the default, SPEC §8's reading of
Eq. 11) averages unique/total over the stories; "pooled" counts unique/total over all stories
together (so repeats *across* stories lower it too). Words come from nltk's
``wordpunct_tokenize`` (a regex, no downloaded data) on lowercased text; a story with fewer
than n words has no n-grams and is left out of the per-story mean.

Div-BLEU: 100 * (1 - mean_i BLEU-4(story_i, references = the other stories)), sentence-level
sacreBLEU with all other stories as multiple references (13a tokenizer, lowercased, exp
smoothing, effective order), i.e. 100 - Self-BLEU.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Literal

Pooling = Literal["per-story", "pooled"]
POOLINGS: tuple[str, ...] = ("per-story", "pooled")
TOKENIZER = "nltk.tokenize.wordpunct_tokenize"
LOWERCASE = True


def words(text: str) -> list[str]:
    """The word tokens Div-N-Gram counts."""
    from nltk.tokenize import wordpunct_tokenize

    return wordpunct_tokenize(text.lower() if LOWERCASE else text)


def _ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def div_ngram(stories: Sequence[str], *, n: int = 2, pooling: Pooling = "per-story") -> float:
    """Div-N-Gram of a set of stories, 0-100 (ValueError when no story has n words)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    grams = [_ngrams(words(story), n) for story in stories]
    grams = [g for g in grams if g]
    if not grams:
        raise ValueError(f"no story has {n} or more words")
    if pooling == "pooled":
        pooled = Counter(gram for story in grams for gram in story)
        return 100.0 * len(pooled) / sum(pooled.values())
    return 100.0 * sum(len(set(g)) / len(g) for g in grams) / len(grams)


def self_bleu(stories: Sequence[str]) -> tuple[float, str]:
    """Mean sentence BLEU-4 (0-100) of each story against all the others, and the sacreBLEU signature."""
    from sacrebleu.metrics import BLEU

    if len(stories) < 2:
        raise ValueError("Div-BLEU needs at least 2 stories per prompt")
    bleu = BLEU(lowercase=True, effective_order=True)
    scores = [bleu.sentence_score(story, [*stories[:i], *stories[i + 1 :]]).score for i, story in enumerate(stories)]
    return sum(scores) / len(scores), bleu.get_signature().format()


def div_bleu(stories: Sequence[str]) -> float:
    """Div-BLEU of a set of stories, 0-100 (ValueError for fewer than 2 stories)."""
    return 100.0 - self_bleu(stories)[0]


def diversity_rows(
    groups: dict[tuple[str, str], dict[str, list[str]]], *, n: int = 2, pooling: Pooling = "per-story"
) -> tuple[list[dict], list[str]]:
    """Per model x mode: each metric computed per prompt over its stories, then averaged over prompts.

    ``groups`` maps (model, mode) -> {prompt_id: [story, ...]}. Returns the rows and the distinct
    sacreBLEU signatures used (they differ only in nrefs when prompts have different story counts).
    Prompts where a metric is undefined (fewer than 2 stories for BLEU, no n-grams) are left out of
    that metric's mean and counted in ``prompts_without_*``.
    """
    rows, signatures = [], set()
    for (model, mode), prompts in sorted(groups.items()):
        ngram_values, bleu_values = [], []
        for stories in prompts.values():
            try:
                ngram_values.append(div_ngram(stories, n=n, pooling=pooling))
            except ValueError:
                pass
            if len(stories) >= 2:
                mean_bleu, signature = self_bleu(stories)
                bleu_values.append(100.0 - mean_bleu)
                signatures.add(signature)
        rows.append(
            {
                "model": model,
                "mode": mode,
                "prompts": len(prompts),
                "stories": sum(len(s) for s in prompts.values()),
                "div_ngram": sum(ngram_values) / len(ngram_values) if ngram_values else None,
                "div_bleu": sum(bleu_values) / len(bleu_values) if bleu_values else None,
                "prompts_without_div_ngram": len(prompts) - len(ngram_values),
                "prompts_without_div_bleu": len(prompts) - len(bleu_values),
            }
        )
    return rows, sorted(signatures)


def diversity_settings(n: int, pooling: str, signatures: list[str]) -> dict:
    """What every diversity output states about how it was computed."""
    return {
        "n": n,
        "pooling": pooling,
        "tokenizer": TOKENIZER,
        "lowercase": LOWERCASE,
        "bleu": "sacrebleu sentence BLEU-4, references = the other stories of the prompt",
        "bleu_signatures": signatures,
    }
