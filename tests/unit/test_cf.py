"""EASE and popularity on synthetic data with known answers."""

import numpy as np
import pytest
from scipy import sparse

from chat_rec.models.cf import EASE, Popularity, history_vector, user_item_matrix


def test_ease_matches_the_closed_form(rng):
    X = sparse.csr_matrix((rng.random((40, 12)) < 0.3).astype(np.float32))
    lam = 5.0
    model = EASE(lam, "binary").fit_matrix(X)
    G = (X.T @ X).toarray() + lam * np.eye(12)
    P = np.linalg.inv(G)
    expected = np.eye(12) - P / np.diag(P)[None, :]
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.B, expected, atol=1e-5)
    assert np.all(np.diag(model.B) == 0)


def test_withheld_item_of_a_taste_group_ranks_first(tiny_catalog, block_interactions):
    """Checkerboard-style: a new user who liked two horror items gets the third horror item first."""
    model = EASE(1.0, "binary").fit(block_interactions)
    rows = tiny_catalog.rows([1, 2])
    top = model.recommend(rows, k=3)
    assert tiny_catalog.items[top[0]].id == 6
    assert not set(rows.tolist()) & set(top.tolist())  # history is excluded


def test_fold_in_for_a_comedy_fan(tiny_catalog, block_interactions):
    model = EASE(1.0, "binary").fit(block_interactions)
    top = model.recommend(tiny_catalog.rows([3]), k=1)
    assert tiny_catalog.items[top[0]].id == 7


def test_recommend_honours_exclude(tiny_catalog, block_interactions):
    model = EASE(1.0, "binary").fit(block_interactions)
    top = model.recommend(tiny_catalog.rows([1, 2]), k=5, exclude=[tiny_catalog.row(6)])
    assert tiny_catalog.row(6) not in top.tolist()


def test_rating_weighting_scales_by_five(tiny_catalog):
    from chat_rec.catalog import build_interactions

    inter = build_interactions(tiny_catalog, [(1, 1, 4.0, 0), (1, 1, 4.0, 0), (2, 3, 2.0, 0)])
    binary = user_item_matrix(inter, "binary").toarray()
    rated = user_item_matrix(inter, "rating").toarray()
    assert binary[0, tiny_catalog.row(1)] == 1.0  # duplicates collapse to 1
    assert rated[1, tiny_catalog.row(3)] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="accepted values"):
        user_item_matrix(inter, "log")


def test_popularity_counts_users(tiny_catalog, block_interactions):
    model = Popularity().fit(block_interactions)
    assert model.counts[tiny_catalog.row(1)] == 6
    assert model.counts[tiny_catalog.row(5)] == 0
    assert tiny_catalog.items[model.recommend([], k=1)[0]].id == 1  # ties -> lower row


def test_score_before_fit_is_a_clear_error():
    with pytest.raises(RuntimeError, match="before fit"):
        EASE().score(history_vector(3, [0]))
