"""Seeded per-user splits shared by evaluation and training (so both carve the same train part)."""

from __future__ import annotations

import numpy as np

from chat_rec.catalog import Interactions

RELEVANT_MIN_RATING = 4


def split_per_user(interactions: Interactions, seed: int, test_fraction: float = 0.2) -> np.ndarray:
    """Boolean mask over events: True for the test part.

    Each user's events are permuted by one generator seeded by ``seed`` (users in row order); the first
    ``int(0.8 * n)`` go to train and the rest to test.
    """
    rng = np.random.default_rng(seed)
    order = np.argsort(interactions.user_rows, kind="stable")
    counts = np.bincount(interactions.user_rows, minlength=interactions.n_users)
    test = np.zeros(len(interactions), dtype=bool)
    start = 0
    for count in counts:
        events = order[start : start + count]
        start += count
        if count == 0:
            continue
        n_train = int((1.0 - test_fraction) * count)
        test[events[rng.permutation(count)[n_train:]]] = True
    return test


def relevant_sets(interactions: Interactions, mask: np.ndarray) -> dict[int, set[int]]:
    """User row -> catalog rows rated >= 4 among the masked events (users with none are left out)."""
    keep = mask & (interactions.ratings >= RELEVANT_MIN_RATING)
    out: dict[int, set[int]] = {}
    for u, i in zip(interactions.user_rows[keep].tolist(), interactions.item_rows[keep].tolist()):
        out.setdefault(u, set()).add(i)
    return out
