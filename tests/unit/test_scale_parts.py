"""Parts that keep a large catalog's cost bounded, tested on small data: title look-up through the word index,
texts made when read, the per-user event index, the seeded synthetic catalog and its cheap vectors."""

import numpy as np
import pytest

from chat_rec.catalog import ItemTexts, item_text
from chat_rec.evaluation import synthetic as syn
from chat_rec.recommender.intent.titles import TitleMatcher


@pytest.fixture(scope="module")
def synthetic():
    catalog, theme, words = syn.synthetic_catalog(3_000)
    return catalog, theme, words, syn.synthetic_interactions(catalog, theme)


def test_the_synthetic_catalog_is_seeded_and_follows_a_popularity_law(synthetic):
    catalog, theme, _, inter = synthetic
    again, theme2, _ = syn.synthetic_catalog(3_000)
    assert [i.title for i in again.items[:50]] == [i.title for i in catalog.items[:50]]
    assert np.array_equal(theme, theme2)
    assert len({i.title for i in catalog.items}) == len(catalog)  # no two rows read as one film
    counts = np.sort(np.bincount(inter.item_rows, minlength=len(catalog)))[::-1]
    assert counts[: len(counts) // 100].sum() > 0.1 * counts.sum()  # the top 1 % take over a tenth
    assert inter.ratings.min() >= 1 and inter.ratings.max() <= 5


def test_cheap_vectors_are_unit_and_keep_the_real_subset(synthetic):
    from chat_rec.evaluation.scale import cheap_item_vectors

    catalog, _, words, _ = synthetic
    rng = np.random.default_rng(0)
    real_rows = np.sort(rng.choice(len(catalog), 200, replace=False))
    real = rng.normal(size=(200, 16)).astype(np.float32)
    real /= np.linalg.norm(real, axis=1, keepdims=True)
    vectors, agreement = cheap_item_vectors(words, real_rows, real)
    assert vectors.shape == (len(catalog), 16) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vectors[real_rows], real)
    assert agreement["real_subset"] == 200 and agreement["held_out"] == 40


def test_fuzzy_titles_on_a_large_catalog_scan_only_titles_sharing_a_word(synthetic, monkeypatch):
    catalog = synthetic[0]
    monkeypatch.setattr(TitleMatcher, "FUZZY_SCAN_MAX", 500)
    titles = TitleMatcher(catalog)
    item = catalog.items[42]
    typo = item.title.replace(item.title.split()[-1], item.title.split()[-1][:-1] + "x")  # the name misspelt
    assert titles.lookup(typo) == item.id
    choices = titles._choices(" ".join(typo.lower().split()[1:]))
    assert len(choices) <= 500 and any(item.title.split()[2].lower() in c for c in choices)
    assert titles.lookup("zzzz qqqq xxxx") is None


def test_item_texts_are_made_when_read(synthetic):
    catalog = synthetic[0]
    texts = ItemTexts(catalog)
    assert len(texts) == len(catalog) and texts[7] == item_text(catalog.items[7])
    assert texts[3:5] == [item_text(i) for i in catalog.items[3:5]]
    assert sum(1 for _ in texts) == len(catalog)


def test_a_users_history_reads_only_their_events(synthetic):
    inter = synthetic[3]
    for user in (inter.user_ids[0], inter.user_ids[17], inter.user_ids[-1]):
        mask = inter.user_rows == inter.user_row(user)
        rows, ratings = inter.history(user)
        np.testing.assert_array_equal(rows, inter.item_rows[mask])  # in file order
        np.testing.assert_array_equal(ratings, inter.ratings[mask])
