"""One contract for every ItemIndex: results equal numpy brute force and every filter holds."""

import numpy as np
import pytest

from chat_rec.catalog import Catalog, Item
from chat_rec.config import IndexConfig
from chat_rec.models.index import ExactIndex, FaissIndex, SearchFilter

GENRES = ("Action", "Comedy", "Drama", "Horror", "Sci-Fi")


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(1)
    n, dim = 600, 32
    items = [
        Item(
            i + 100,
            f"Item {i}",
            int(1950 + rng.integers(0, 50)) if i % 17 else None,
            tuple(g for g in GENRES if rng.random() < 0.3),
        )
        for i in range(n)
    ]
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = rng.normal(size=(8, dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return Catalog("synthetic", items), vectors, queries


FACTORIES = {
    "exact": lambda c, v: ExactIndex(c, v),
    "faiss-flat": lambda c, v: FaissIndex(c, v, IndexConfig(kind="flat")),
    "faiss-ivf": lambda c, v: FaissIndex(c, v, IndexConfig(kind="ivf", ivf_nprobe=10_000)),  # exhaustive probes
    "faiss-hnsw": lambda c, v: FaissIndex(c, v, IndexConfig(kind="hnsw", hnsw_ef_search=600)),
    # the filter through FAISS's bitmap selector, not the exact search over a tight filter's few rows
    "faiss-ivf-bitmap": lambda c, v: FaissIndex(c, v, IndexConfig(kind="ivf", ivf_nprobe=10_000, exact_below=0)),
    "faiss-hnsw-bitmap": lambda c, v: FaissIndex(c, v, IndexConfig(kind="hnsw", hnsw_ef_search=600, exact_below=0)),
}
FILTERS = [
    None,
    SearchFilter(exclude_ids=frozenset(range(100, 400, 3))),
    SearchFilter(require_genres=("Horror", "sci-fi")),
    SearchFilter(forbid_genres=("Comedy", "Drama")),
    SearchFilter(year_min=1970, year_max=1979),
    SearchFilter(require_genres=("Action",), forbid_genres=("Horror",), year_max=1960, exclude_ids=frozenset({105})),
]


def brute_force(catalog, vectors, query, k, flt):
    allowed = flt.mask(catalog) if flt else np.ones(len(catalog), bool)
    scores = np.where(allowed, vectors @ query, -np.inf)
    order = np.argsort(-scores, kind="stable")[:k]
    return [catalog.items[r].id for r in order if np.isfinite(scores[r])]


@pytest.mark.parametrize("kind", FACTORIES)
@pytest.mark.parametrize("flt", FILTERS, ids=lambda f: "none" if f is None else "filtered")
def test_equals_brute_force_and_honours_filters(world, kind, flt):
    catalog, vectors, queries = world
    index = FACTORIES[kind](catalog, vectors)
    results = index.search(queries, 10, flt)
    assert len(results) == len(queries)
    for query, hits in zip(queries, results):
        want = brute_force(catalog, vectors, query, 10, flt)
        got = [h.item_id for h in hits]
        assert got == want
        assert all(abs(h.score - float(vectors[h.row] @ query)) < 1e-4 for h in hits)
        for h in hits:
            item = catalog.items[h.row]
            if flt is None:
                continue
            assert item.id not in flt.exclude_ids
            if flt.require_genres and item.genres:  # an item without genre data is not a mismatch
                assert {g.lower() for g in item.genres} & {g.lower() for g in flt.require_genres}
            assert not set(item.genres) & set(flt.forbid_genres)
            if flt.year_min is not None or flt.year_max is not None:
                assert item.year is not None
                assert (flt.year_min or 0) <= item.year <= (flt.year_max or 9999)


@pytest.mark.parametrize("kind", FACTORIES)
def test_filter_that_excludes_everything(world, kind):
    catalog, vectors, queries = world
    index = FACTORIES[kind](catalog, vectors)
    no_genre = frozenset(i.id for i in catalog.items if not i.genres)  # unknown genre is not a mismatch
    assert index.search(queries[:1], 5, SearchFilter(require_genres=("Polka",), exclude_ids=no_genre)) == [[]]


@pytest.mark.parametrize("kind", FACTORIES)
def test_k_larger_than_catalog_slice(world, kind):
    catalog, vectors, queries = world
    flt = SearchFilter(year_min=1950, year_max=1950)
    want = brute_force(catalog, vectors, queries[0], 1000, flt)
    got = [h.item_id for h in FACTORIES[kind](catalog, vectors).search(queries[:1], 1000, flt)[0]]
    assert got == want and 0 < len(got) < 100


@pytest.mark.parametrize("kind", ("flat", "hnsw"))
def test_vectors_are_read_in_place_from_the_index(world, kind):
    """One copy of the item vectors in memory: the index's own storage, alive as long as a view of it."""
    import gc

    catalog, vectors, _ = world
    index = FaissIndex(catalog, vectors.copy(), IndexConfig(kind=kind))
    view = index.vectors[10:20]
    assert not index.vectors.flags.owndata
    np.testing.assert_array_equal(index.vectors, vectors)
    del index
    gc.collect()
    np.testing.assert_array_equal(view, vectors[10:20])
