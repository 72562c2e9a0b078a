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
            keep &= catalog.genre_mask(self.require_genres, any_of=not self.all_genres) | ~catalog.has_genre
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
        stored = _stored_vectors(faiss, self.index)
        if stored is not None and stored.shape == self.vectors.shape:
            # the vectors the index keeps, read in place: one copy in memory, not two (1.5 GB at a million)
            self.vectors = np.asarray(stored)  # a plain view; its base keeps the index's memory alive

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
            index.hnsw.efConstruction = self.cfg.hnsw_ef_construction
            index.hnsw.efSearch = self.cfg.hnsw_ef_search
        index.add(self.vectors)
        return index

    def _params(self, faiss, selector, k: int, widen: int = 1):
        """Search parameters under a filter: an HNSW walk keeps at least ``2k`` candidates (``widen`` times more
        on a retry), so a filter that rejects most of a neighbourhood still leaves ``k`` hits."""
        if self.kind == "ivf":
            return faiss.SearchParametersIVF(sel=selector, nprobe=min(self.index.nlist, self.index.nprobe * widen))
        if self.kind == "hnsw":
            return faiss.SearchParametersHNSW(sel=selector, efSearch=max(self.index.hnsw.efSearch, 2 * k) * widen)
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
        mask = filters.mask(self.catalog)
        n_allowed = int(mask.sum())
        if n_allowed == 0:
            return [[] for _ in vectors]
        if self.kind != "flat" and n_allowed <= self.cfg.exact_below:
            # a tight filter: exact search over the few allowed rows is cheaper than a starved graph walk
            return self._exact(vectors, k, np.flatnonzero(mask))
        # the allowed rows as a bitmap (one bit per row, n / 8 bytes), not a hash set of up to n ids
        bitmap = np.packbits(mask, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
        scores, rows = self.index.search(vectors, k, params=self._params(faiss, selector, k))
        out = []
        for q, (r, s) in enumerate(zip(rows, scores)):
            hits = _hits(self.catalog, r, s)
            if len(hits) < min(k, n_allowed):  # an approximate index starved by the filter: look wider
                if n_allowed <= 4 * self.cfg.exact_below:
                    hits = self._exact(vectors[q : q + 1], k, np.flatnonzero(mask))[0]
                else:  # copying most of the vectors for an exact pass would cost seconds at a million items
                    wide = self.index.search(vectors[q : q + 1], k, params=self._params(faiss, selector, k, widen=8))
                    hits = max(hits, _hits(self.catalog, wide[1][0], wide[0][0]), key=len)
            out.append(hits)
        return out

    def _exact(self, vectors: np.ndarray, k: int, allowed: np.ndarray) -> list[list[Hit]]:
        """Exact top ``k`` over a few allowed rows (a tight filter: at most a few times ``exact_below``)."""
        out = []
        for row_scores in vectors @ self.vectors[allowed].T:
            top = np.argpartition(-row_scores, k - 1)[:k] if k < len(allowed) else np.arange(len(allowed))
            top = top[np.argsort(-row_scores[top], kind="stable")]
            out.append(_hits(self.catalog, allowed[top], row_scores[top]))
        return out


def _stored_vectors(faiss, index) -> np.ndarray | None:
    """A numpy view of the vectors a flat or HNSW-flat index stores (valid while ``index`` lives), else None."""
    storage = faiss.downcast_index(index.storage) if isinstance(index, faiss.IndexHNSW) else index
    if not isinstance(storage, faiss.IndexFlat) or storage.ntotal == 0:
        return None
    n, d = storage.ntotal, storage.d
    view = faiss.rev_swig_ptr(storage.get_xb(), n * d).reshape(n, d).view(_IndexMemory)
    view.owner = index  # the index's memory stays alive as long as any view of it
    return view


class _IndexMemory(np.ndarray):
    """A numpy view of memory a FAISS index owns, holding a reference to that index."""

    owner = None


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
    #: what went wrong with the files on disk (a damaged cache rebuilt, a cache that could not be saved), one
    #: line each, for the app to show; the index itself is complete and served either way
    notices: list[str] = field(default_factory=list)

    def search_text(self, query: str, k: int = 10, filters: SearchFilter | None = None) -> list[Hit]:
        return self.index.search(self.encoder.encode([query]), k, filters)[0]


def _reason(exc: BaseException) -> str:
    """One line for an exception: the OS reason (``No space left on device``) or the last line FAISS gives."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = (str(exc).strip().splitlines() or [""])[-1].strip()
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


def _notify(notices: list[str] | None, message: str) -> None:
    log.warning("%s", message)
    if notices is not None:
        notices.append(message)


def _save_failed(what: str, path: Path, exc: Exception, notices: list[str] | None) -> None:
    _notify(
        notices,
        f"could not save the {what} to {path} ({_reason(exc)}); it is rebuilt at the next start: free disk space "
        f"or make {path.parent} writable",
    )


class _WriteOnly:
    """A file seen by numpy as a plain writer, so a failed write raises the OS error (ENOSPC, ...)."""

    def __init__(self, fh):
        self.write = fh.write


def _load_vectors(path: Path, n_items: int) -> np.ndarray:
    """The cached embeddings, or an exception saying what is wrong with the file."""
    vectors = np.load(path, allow_pickle=False)
    if not isinstance(vectors, np.ndarray) or vectors.ndim != 2 or vectors.shape[1] == 0:
        raise ValueError(f"shape {getattr(vectors, 'shape', None)}, expected ({n_items}, dim)")
    if len(vectors) != n_items:  # the key already names catalog and model: another length is damage
        raise ValueError(f"{len(vectors)} rows for {n_items} items")
    if not np.issubdtype(vectors.dtype, np.floating):
        raise ValueError(f"dtype {vectors.dtype}")
    if not np.isfinite(vectors).all():
        raise ValueError("non-finite values")
    return vectors


def embedding_cache_path(catalog: Catalog, encoder: Encoder, data: DataConfig) -> Path:
    """Where the item embeddings are cached: keyed by catalog fingerprint and encoder name."""
    return data.cache_dir / f"{catalog.name}-{catalog.fingerprint()}-{encoder.name}.npy"


def embed_catalog(
    catalog: Catalog,
    encoder: Encoder,
    data: DataConfig,
    *,
    show_progress: bool = True,
    notices: list[str] | None = None,
) -> tuple[np.ndarray, bool, float]:
    """Item-text embeddings, cached on disk keyed by catalog fingerprint and encoder name.

    A damaged cache (unreadable, wrong shape, non-finite values) is re-embedded and saved again; a cache that
    cannot be saved (read-only folder, full disk) leaves the vectors in memory. Both are logged as warnings
    and appended to ``notices``.

    Returns (vectors, came_from_cache, seconds spent embedding).
    """
    path = embedding_cache_path(catalog, encoder, data)
    if path.is_file():
        try:
            return _load_vectors(path, len(catalog)), True, 0.0
        except Exception as exc:  # np.load raises EOFError, ValueError, UnpicklingError ... on a damaged file
            _notify(notices, f"embedding cache {path} was damaged ({_reason(exc)}); the catalog was embedded again")
    start = time.perf_counter()
    vectors = encoder.encode(catalog.texts(), show_progress=show_progress)
    seconds = time.perf_counter() - start

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            # through ``write`` only (numpy's ``tofile`` on a real file loses the errno of a full disk)
            np.save(_WriteOnly(fh), vectors)

    try:
        atomic_write(path, save)
    except OSError as exc:
        _save_failed("embedding cache", path, exc, notices)
    return vectors, False, seconds


def _load_index(path: Path, vectors: np.ndarray, kind: str):
    """The saved FAISS index, or an exception saying why it does not fit ``vectors`` and ``kind``."""
    import faiss

    index = faiss.read_index(str(path))
    want = {"flat": faiss.IndexFlat, "ivf": faiss.IndexIVF, "hnsw": faiss.IndexHNSW}[kind]
    if not isinstance(index, want) or index.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise ValueError(f"a {type(index).__name__} (metric {index.metric_type}), not a {kind} inner-product index")
    n, dim = vectors.shape
    if index.ntotal != n or index.d != dim:
        raise ValueError(f"{index.ntotal} vectors of dimension {index.d}, expected {n} of dimension {dim}")
    if not index.is_trained:
        raise ValueError("untrained index")
    for row in sorted({0, n // 2, n - 1}) if n else ():  # a few stored vectors against the embeddings
        try:
            stored = index.reconstruct(row)
        except RuntimeError:  # an index kind that keeps no vectors to read back (IVF without a direct map)
            break
        if not np.allclose(stored, vectors[row], atol=1e-4):
            raise ValueError(f"vector {row} differs from the embeddings")
    return index


def _write_index(index, tmp: Path) -> None:
    import faiss

    # through a Python file: a full disk raises OSError here, also for the last flush at close (FAISS's own
    # writer only prints a failed close)
    with open(tmp, "wb") as fh:
        faiss.write_index(index, faiss.PyCallbackIOWriter(fh.write))


def build_item_index(
    catalog: Catalog,
    encoder: Encoder,
    data: DataConfig,
    cfg: IndexConfig = IndexConfig(),
    *,
    show_progress: bool = True,
) -> BuiltIndex:
    """Embed (or load cached vectors), then load or build and save the FAISS index.

    Damaged files are rebuilt and files that cannot be saved are skipped: the index is served from memory
    either way, and ``BuiltIndex.notices`` says what happened (also logged as warnings)."""
    notices: list[str] = []
    kind = resolve_kind(cfg, len(catalog))
    path = data.index_dir / f"{catalog.name}-{catalog.fingerprint()}-{encoder.name}-{kind}.faiss"
    fast = _load_stored(catalog, encoder, data, cfg, kind, path)
    if fast is not None:
        return BuiltIndex(fast, encoder, True, 0.0, path, notices)
    vectors, cached, seconds = embed_catalog(catalog, encoder, data, show_progress=show_progress, notices=notices)
    index = None
    if path.is_file() and cached:
        try:
            index = _load_index(path, np.asarray(vectors, dtype=np.float32), kind)
        except Exception as exc:  # FAISS raises RuntimeError on a damaged file; a wrong size is a ValueError
            _notify(notices, f"item index {path} was damaged ({_reason(exc)}); it was rebuilt")
            index = None
    faiss_index = FaissIndex(catalog, vectors, cfg, index=index)
    if index is None:
        try:
            atomic_write(path, lambda tmp: _write_index(faiss_index.index, tmp))
        except (OSError, RuntimeError) as exc:
            _save_failed("item index cache", path, exc, notices)
    return BuiltIndex(faiss_index, encoder, cached, seconds, path, notices)


def _load_stored(catalog, encoder, data, cfg, kind: str, path: Path) -> FaissIndex | None:
    """A saved flat or HNSW index whose stored vectors equal the embedding cache, checked by streaming the cache
    in blocks: one copy of the vectors in memory, never two (3 GB at start for a million items otherwise). None
    when anything does not match; the full path then says what is wrong and rebuilds it."""
    cache = embedding_cache_path(catalog, encoder, data)
    if kind not in ("flat", "hnsw") or not (path.is_file() and cache.is_file()):
        return None
    import faiss

    try:
        with open(cache, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(fh)
            if fortran or len(shape) != 2 or shape[0] != len(catalog) or not np.issubdtype(dtype, np.floating):
                return None
            index = _load_index(path, np.lib.format.open_memmap(cache, mode="r"), kind)
            stored = _stored_vectors(faiss, index)
            if stored is None or stored.shape != tuple(shape):
                return None
            step = max(1, (64 << 20) // max(1, shape[1] * dtype.itemsize))  # blocks of 64 MB
            for a in range(0, shape[0], step):
                rows = min(step, shape[0] - a)
                block = np.frombuffer(fh.read(rows * shape[1] * dtype.itemsize), dtype=dtype)
                if block.size != rows * shape[1]:
                    return None
                block = block.reshape(rows, shape[1])
                if not np.isfinite(block).all() or not np.allclose(block, stored[a : a + rows], atol=1e-6):
                    return None
    except Exception:  # a damaged file of either kind: the full path reports it
        return None
    return FaissIndex(catalog, stored, cfg, index=index)


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
    "embedding_cache_path",
)
