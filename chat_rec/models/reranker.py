"""Re-rankers score (query text, item text) pairs: the protocol the pipeline calls, and the identity double the
tests use (the trained BERT context re-ranker is ``models.cross_encoder``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Reranker(Protocol):
    """Relevance of each item text to one query text.

    Returns:
        float array of ``len(item_texts)`` scores; higher is better. Scores are fused with the retrieval
        score, so their scale does not matter (the pipeline min-max normalises them).

    Example:
        >>> IdentityReranker().score("scary 80s", ["Alien (1979)", "Toy Story (1995)"])
        array([0., 0.], dtype=float32)
    """

    def score(self, query: str, item_texts: Sequence[str]) -> np.ndarray: ...


class IdentityReranker:
    """Adds nothing: the fused retrieval order stands."""

    name = "identity"

    def score(self, query: str, item_texts: Sequence[str]) -> np.ndarray:
        return np.zeros(len(item_texts), dtype=np.float32)
