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


# ------------------------------------------------------------------------- the sparse item-kNN (large catalogs)


def test_item_knn_withheld_item_of_a_taste_group_ranks_first(tiny_catalog, block_interactions):
    from chat_rec.models.cf import ItemKNN

    model = ItemKNN(k=3, weighting="binary").fit(block_interactions)
    top = model.recommend(tiny_catalog.rows([1, 2]), k=3)
    assert tiny_catalog.items[top[0]].id == 6
    assert model.B.diagonal().sum() == 0  # an item is not its own neighbour
    assert max(np.diff(model.B.indptr)) <= 3  # at most k neighbours per item: memory follows k, not n


def test_item_knn_fold_in_agrees_with_full_scoring_and_its_neighbours(tiny_catalog, block_interactions):
    from chat_rec.models.cf import ItemKNN

    model = ItemKNN(k=4).fit(block_interactions)
    cols, weights = [0, 2, 5], [1.0, 0.4, 0.6]
    full = model.score(history_vector(model.n_items, cols, weights))
    np.testing.assert_allclose(model.fold_in(cols, weights), full.ravel(), atol=1e-6)
    found, scores = model.neighbours(cols, weights)
    np.testing.assert_array_equal(found, np.flatnonzero(full.ravel()))
    np.testing.assert_allclose(scores, full.ravel()[found], atol=1e-6)
    np.testing.assert_allclose(model.pair(cols, 1), model.B.toarray()[cols, 1], atol=1e-6)


def test_ease_fold_in_and_pair_read_rows_of_b(tiny_catalog, block_interactions):
    model = EASE(1.0, "rating").fit(block_interactions)
    np.testing.assert_allclose(
        model.fold_in([1, 3], [1.0, 0.5]), model.score(history_vector(8, [1, 3], [1.0, 0.5])), atol=1e-6
    )
    np.testing.assert_allclose(model.pair([1, 3], 2), model.B[[1, 3], 2])


def test_make_cf_chooses_by_catalog_size(block_interactions):
    from chat_rec.config import CFConfig, ConfigError
    from chat_rec.models.cf import ItemKNN, make_cf

    n = len(block_interactions.catalog)
    assert isinstance(make_cf(block_interactions, CFConfig(ease_max=n)), EASE)
    assert isinstance(make_cf(block_interactions, CFConfig(ease_max=n - 1)), ItemKNN)
    assert isinstance(make_cf(block_interactions, CFConfig(kind="knn")), ItemKNN)
    assert make_cf(block_interactions, CFConfig(kind="none")) is None
    assert make_cf(None) is None
    with pytest.raises(ConfigError, match="CHATREC_CF"):
        CFConfig(kind="als")
