"""Re-rankers score (query text, item text) pairs. The trained cross-encoder arrives with issue 4;
this module holds the protocol and the identity double the pipeline uses until then."""

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
