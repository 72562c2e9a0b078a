"""Ranking metrics as pure functions over a ranked list of ids and a set of relevant ids.

Imports nothing else from the package (Surprise's ``accuracy.py`` style). Ties in scores are the
ranker's business: these functions see an already ordered list (``chat_rec.models.cf.top_k`` breaks
ties by lower row).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence


def precision_at_k(ranked: Sequence, relevant: Collection, k: int) -> float:
    """Hits in the first ``k`` divided by ``k`` (a short list still divides by ``k``)."""
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    relevant = set(relevant)
    return sum(1 for item in ranked[:k] if item in relevant) / k


def recall_at_k(ranked: Sequence, relevant: Collection, k: int) -> float:
    """Hits in the first ``k`` divided by the number of relevant items (0 when there are none)."""
    relevant = set(relevant)
    if not relevant:
        return 0.0
    return sum(1 for item in ranked[:k] if item in relevant) / len(relevant)


def ndcg_at_k(ranked: Sequence, relevant: Collection, k: int) -> float:
    """Binary-gain NDCG: DCG = Σ 1/log2(rank+1) over hits in the first ``k``; ideal DCG over min(|rel|, k)."""
    relevant = set(relevant)
    if not relevant:
        return 0.0
    dcg = sum(1.0 / math.log2(rank + 2) for rank, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(relevant), k)))
    return dcg / ideal


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
