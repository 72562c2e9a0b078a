"""LIME word weights over the person's request words for one item's re-ranker score.

LIME (Ribeiro et al. 2016, the ``lime`` package's LimeTextExplainer) removes random subsets of the
request words, scores each variant with the re-ranker (the rest of the query text unchanged) and fits a
weighted linear model; a word's weight is how much its presence raises the score. Seeded; at most
``num_samples`` variants, scored in one batch after removing duplicates (short requests repeat a lot).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

MAX_SAMPLES = 500


@dataclass
class WordWeights:
    """``weights``: (word, weight) pairs, largest absolute weight first; ``score``: the full-request score."""

    request: str
    weights: list[tuple[str, float]]
    score: float
    samples: int

    def top(self, n: int = 3) -> list[str]:
        """The ``n`` words with the largest positive weights."""
        return [w for w, v in sorted(self.weights, key=lambda p: -p[1]) if v > 0][:n]


def explain_lime(
    score_requests: Callable[[Sequence[str]], np.ndarray],
    request: str,
    *,
    num_samples: int = 300,
    seed: int = 0,
    num_features: int = 12,
) -> WordWeights:
    """Word weights of ``request`` for a scoring function of request texts (one item's re-ranker score).

    Args:
        score_requests: maps request texts to scores (e.g. ``Agent``/CLI bind the query parts and the item).
        request: the person's words.
        num_samples: LIME perturbations (at most 500).
    """
    from lime.lime_text import LimeTextExplainer

    num_samples = max(10, min(int(num_samples), MAX_SAMPLES))
    words = request.split()
    if not words:
        return WordWeights(request, [], float(score_requests([request])[0]), 0)

    def predict(texts: list[str]) -> np.ndarray:
        unique = list(dict.fromkeys(texts))
        scores = dict(zip(unique, np.asarray(score_requests(unique), dtype=np.float64).tolist()))
        return np.array([[scores[t]] for t in texts])

    explainer = LimeTextExplainer(class_names=["score"], random_state=seed, bow=True)
    exp = explainer.explain_instance(request, predict, labels=(0,), num_features=num_features, num_samples=num_samples)
    weights = [(w, round(float(v), 4)) for w, v in exp.as_list(label=0)]
    return WordWeights(request, weights, float(predict([request])[0, 0]), num_samples)


def remove_words(request: str, drop: Sequence[str]) -> str:
    """``request`` without the given words (every occurrence, as LIME's bag-of-words removal does)."""
    import re

    drop = set(drop)
    kept = [t for t in re.split(r"(\W+)", request) if t not in drop]
    return " ".join("".join(kept).split())
