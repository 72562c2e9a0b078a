"""Embedding cache, saved FAISS index, and query validation."""

import numpy as np
import pytest

from chat_rec.config import DataConfig, IndexConfig
from chat_rec.errors import QueryError
from chat_rec.models.encoder import HashEncoder
from chat_rec.models.index import build_item_index, check_query, embed_catalog


class CountingEncoder(HashEncoder):
    calls = 0

    def encode(self, texts, *, show_progress=False):
        CountingEncoder.calls += 1
        return super().encode(texts)


def test_second_build_reuses_the_cache(tmp_path, tiny_catalog):
    data = DataConfig(root=tmp_path)
    enc = CountingEncoder(32)
    first = build_item_index(tiny_catalog, enc, data, show_progress=False)
    assert not first.embeddings_cached and first.path.is_file()
    second = build_item_index(tiny_catalog, enc, data, show_progress=False)
    assert second.embeddings_cached and CountingEncoder.calls == 1
    q = enc.encode(["writer mad hotel horror"])
    assert [h.item_id for h in second.index.search(q, 3)[0]] == [h.item_id for h in first.index.search(q, 3)[0]]
    assert not list(tmp_path.rglob("*.tmp"))


def test_corrupt_cache_is_rebuilt(tmp_path, tiny_catalog):
    data = DataConfig(root=tmp_path)
    enc = HashEncoder(32)
    vectors, _, _ = embed_catalog(tiny_catalog, enc, data, show_progress=False)
    cache = next((tmp_path / "cache").glob("*.npy"))
    cache.write_bytes(b"not numpy")
    again, cached, _ = embed_catalog(tiny_catalog, enc, data, show_progress=False)
    assert not cached
    np.testing.assert_allclose(again, vectors)
    built = build_item_index(tiny_catalog, enc, data, IndexConfig(kind="hnsw"), show_progress=False)
    built.path.write_bytes(b"garbage")
    rebuilt = build_item_index(tiny_catalog, enc, data, IndexConfig(kind="hnsw"), show_progress=False)
    assert rebuilt.index.index.ntotal == len(tiny_catalog)


def test_check_query():
    with pytest.raises(QueryError, match="empty"):
        check_query("  \n\t ", 100)
    with pytest.raises(QueryError):
        check_query("\x00\x01", 100)
    query, notices = check_query("x" * 100_000, 2_000)
    assert len(query) == 2_000 and "truncated from 100,000 to 2,000" in notices[0]
    assert check_query(" alien 👽 ", 100) == ("alien 👽", [])
