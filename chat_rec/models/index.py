"""The item index: nearest items to a query vector, with filters.

``FaissIndex`` is the real backend (inner product on unit vectors = cosine; flat for small catalogs,
IVF or HNSW for large ones); ``ExactIndex`` is the numpy brute force it must agree with.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from chat_rec.catalog import Catalog, ItemId
from chat_rec.config import DataConfig, IndexConfig
from chat_rec.errors import ChatRecError, QueryError
from chat_rec.files import atomic_write
from chat_rec.models.encoder import Encoder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchFilter:
    """Hard constraints on results. Genres match case-insensitively; a year bound drops unknown years.

    Args:
        exclude_ids: external item ids never returned.
        require_genres: keep items with at least one of these genres. An item with no genre data is kept
            (unknown is not a mismatch; the ``genre`` signal still ranks matching items above it).
        forbid_genres: drop items with any of these genres.
        year_min, year_max: inclusive bounds on the item's year.
    """

    exclude_ids: frozenset = field(default_factory=frozenset)
    require_genres: tuple[str, ...] = ()
    forbid_genres: tuple[str, ...] = ()
    all_genres: bool = False  # require every one of ``require_genres`` ("romantic comedy")
    year_min: int | None = None
    year_max: int | None = None

    def mask(self, catalog: Catalog) -> np.ndarray:
        """Boolean array over catalog rows: True where the item passes."""
        keep = np.ones(len(catalog), dtype=bool)
        if self.exclude_ids:
            keep[catalog.rows(self.exclude_ids, skip_unknown=True)] = False
        if self.require_genres:
            keep &= catalog.genre_mask(self.require_genres, any_of=not self.all_genres) | ~catalog.genre_matrix.any(
                axis=1
            )
        if self.forbid_genres:
            keep &= ~catalog.genre_mask(self.forbid_genres)
        if self.year_min is not None:
            keep &= catalog.years >= self.year_min
        if self.year_max is not None:
            keep &= (catalog.years <= self.year_max) & (catalog.years >= 0)
        return keep

    @property
    def is_empty(self) -> bool:
        return self == SearchFilter()


@dataclass(frozen=True)
class Hit:
    item_id: ItemId
    row: int
    score: float


class ItemIndex(Protocol):
    """Nearest catalog items to query vectors.

    Example:
        >>> index = ExactIndex(catalog, vectors)
        >>> hits = index.search(query_vectors, k=10, filters=SearchFilter(forbid_genres=("Horror",)))
        >>> hits[0][0].item_id
    """

    catalog: Catalog

    def search(self, vectors: np.ndarray, k: int, filters: SearchFilter | None = None) -> list[list[Hit]]:
        """For each query row, up to ``k`` hits passing ``filters``, best first (score = inner product)."""
        ...


def _hits(catalog: Catalog, rows: Iterable[int], scores: Iterable[float]) -> list[Hit]:
    return [Hit(catalog.items[r].id, int(r), float(s)) for r, s in zip(rows, scores) if r >= 0]


class ExactIndex:
    """Brute-force numpy search: the reference (and the deterministic double)."""

    def __init__(self, catalog: Catalog, vectors: np.ndarray):
        if len(vectors) != len(catalog):
            raise ValueError(f"{len(vectors)} vectors for {len(catalog)} items")
        self.catalog, self.vectors = catalog, np.asarray(vectors, dtype=np.float32)

    def search(self, vectors: np.ndarray, k: int, filters: SearchFilter | None = None) -> list[list[Hit]]:
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        allowed = np.flatnonzero(filters.mask(self.catalog)) if filters else np.arange(len(self.catalog))
        scores = vectors @ self.vectors[allowed].T
        out = []
        for row_scores in scores:
            order = np.argsort(-row_scores, kind="stable")[:k]
            out.append(_hits(self.catalog, allowed[order], row_scores[order]))
        return out


class FaissIndex:
    """FAISS inner-product index over unit vectors.

    Args:
        kind: ``flat`` (exact), ``ivf`` (IndexIVFFlat, nlist ≈ 4·√n) or ``hnsw`` (IndexHNSWFlat).

    Filters run inside FAISS through an ID selector; if an approximate index returns fewer than ``k``
    hits under a tight filter, the query falls back to exact search over the allowed rows.
    """

    def __init__(self, catalog: Catalog, vectors: np.ndarray, cfg: IndexConfig = IndexConfig(), index=None):
        import faiss

        self.catalog, self.cfg = catalog, cfg
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(self.vectors) != len(catalog):
            raise ValueError(f"{len(self.vectors)} vectors for {len(catalog)} items")
        self.kind = resolve_kind(cfg, len(catalog))
        self.index = index if index is not None else self._build(faiss)

    def _build(self, faiss):
        n, dim = self.vectors.shape
        if self.kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif self.kind == "ivf":
            nlist = max(1, min(int(4 * np.sqrt(n)), n // 39 or 1))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(self.vectors)
            index.nprobe = min(self.cfg.ivf_nprobe, nlist)
        else:
            index = faiss.IndexHNSWFlat(dim, self.cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = self.cfg.hnsw_ef_search
        index.add(self.vectors)
        return index

    def _params(self, faiss, selector):
        if self.kind == "ivf":
            return faiss.SearchParametersIVF(sel=selector, nprobe=self.index.nprobe)
        if self.kind == "hnsw":
            return faiss.SearchParametersHNSW(sel=selector, efSearch=self.index.hnsw.efSearch)
        return faiss.SearchParameters(sel=selector)

    def search(self, vectors: np.ndarray, k: int, filters: SearchFilter | None = None) -> list[list[Hit]]:
        import faiss

        vectors = np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)
        k = min(k, len(self.catalog))
        if k <= 0:
            return [[] for _ in vectors]
        if filters is None or filters.is_empty:
            scores, rows = self.index.search(vectors, k)
            return [_hits(self.catalog, r, s) for r, s in zip(rows, scores)]
        allowed = np.flatnonzero(filters.mask(self.catalog)).astype(np.int64)
        if allowed.size == 0:
            return [[] for _ in vectors]
        selector = faiss.IDSelectorBatch(allowed)
        scores, rows = self.index.search(vectors, k, params=self._params(faiss, selector))
        out = []
        for q, (r, s) in enumerate(zip(rows, scores)):
            hits = _hits(self.catalog, r, s)
            if len(hits) < min(k, allowed.size):  # approximate index starved by the filter
                hits = ExactIndex(self.catalog, self.vectors).search(vectors[q : q + 1], k, filters)[0]
            out.append(hits)
        return out


def resolve_kind(cfg: IndexConfig, n_items: int) -> str:
    kinds = ("auto", "flat", "ivf", "hnsw")
    if cfg.kind not in kinds:
        raise ChatRecError(f"unknown index kind {cfg.kind!r}; accepted values are {', '.join(kinds)}")
    if cfg.kind == "auto":
        return "flat" if n_items <= cfg.flat_max else "hnsw"
    return cfg.kind


# ----------------------------------------------------------------------------- building with a cache


@dataclass
class BuiltIndex:
    index: FaissIndex
    encoder: Encoder
    embeddings_cached: bool
    embed_seconds: float
    path: Path

    def search_text(self, query: str, k: int = 10, filters: SearchFilter | None = None) -> list[Hit]:
        return self.index.search(self.encoder.encode([query]), k, filters)[0]


def embed_catalog(
    catalog: Catalog, encoder: Encoder, data: DataConfig, *, show_progress: bool = True
) -> tuple[np.ndarray, bool, float]:
    """Item-text embeddings, cached on disk keyed by catalog fingerprint and encoder name.

    Returns (vectors, came_from_cache, seconds spent embedding).
    """
    path = data.cache_dir / f"{catalog.name}-{catalog.fingerprint()}-{encoder.name}.npy"
    if path.is_file():
        try:
            vectors = np.load(path)
            if vectors.ndim == 2 and len(vectors) == len(catalog):  # the key already names catalog and model
                return vectors, True, 0.0
        except (OSError, ValueError):
            pass
        log.warning("embedding cache %s is unreadable or stale; re-embedding", path)
    start = time.perf_counter()
    vectors = encoder.encode(catalog.texts(), show_progress=show_progress)
    seconds = time.perf_counter() - start

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.save(fh, vectors)

    atomic_write(path, save)
    return vectors, False, seconds


def build_item_index(
    catalog: Catalog,
    encoder: Encoder,
    data: DataConfig,
    cfg: IndexConfig = IndexConfig(),
    *,
    show_progress: bool = True,
) -> BuiltIndex:
    """Embed (or load cached vectors), then load or build and save the FAISS index."""
    import faiss

    vectors, cached, seconds = embed_catalog(catalog, encoder, data, show_progress=show_progress)
    kind = resolve_kind(cfg, len(catalog))
    path = data.index_dir / f"{catalog.name}-{catalog.fingerprint()}-{encoder.name}-{kind}.faiss"
    index = None
    if path.is_file() and cached:
        try:
            index = faiss.read_index(str(path))
            if index.ntotal != len(catalog):
                index = None
        except RuntimeError:
            log.warning("index file %s is unreadable; rebuilding", path)
            index = None
    faiss_index = FaissIndex(catalog, vectors, cfg, index=index)
    if index is None:
        atomic_write(path, lambda p: faiss.write_index(faiss_index.index, str(p)))
    return BuiltIndex(faiss_index, encoder, cached, seconds, path)


def check_query(query: str, max_chars: int) -> tuple[str, list[str]]:
    """Validate a free-text query: strip it, refuse it when empty, truncate it when too long.

    Returns (query, notices). Raises QueryError for an empty query.
    """
    query = "".join(ch if ch.isprintable() else " " for ch in (query or "")).strip()
    if not query:
        raise QueryError("the query is empty; type a few words, e.g. 'space survival horror'")
    notices = []
    if len(query) > max_chars:
        notices.append(f"query truncated from {len(query):,} to {max_chars:,} characters")
        query = query[:max_chars]
    return query, notices


__all__ = (
    "ExactIndex",
    "FaissIndex",
    "Hit",
    "ItemIndex",
    "SearchFilter",
    "build_item_index",
    "check_query",
    "embed_catalog",
)
