"""Collaborative filtering: EASE (Steck 2019), a sparse item-kNN for large catalogs, and a popularity baseline.

Each scores a *history vector* (one weight per catalog row), so a chat user with no stored history is
served by fold-in: the few items they liked in the conversation form the vector. EASE and the item-kNN are
both an item-item matrix ``B`` (dense n×n for EASE, sparse with ``k`` neighbours per row for the kNN), so a
fold-in is the weighted sum of the history's rows of ``B``: ``fold_in`` reads only those rows.

``make_cf`` picks the model by catalog size: EASE while its dense matrix fits (``CFConfig.ease_max``
items: 400 MB at 10,000), the item-kNN above (``k`` floats per item: 400 MB at a million items with k=100).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import sparse

from chat_rec.catalog import Interactions


def history_vector(n_items: int, rows: Iterable[int], weights: Iterable[float] | None = None) -> np.ndarray:
    """Dense history row: ``weights`` at ``rows`` (1.0 when no weights are given)."""
    x = np.zeros(n_items, dtype=np.float32)
    rows = np.asarray(list(rows), dtype=np.int64)
    x[rows] = 1.0 if weights is None else np.asarray(list(weights), dtype=np.float32)
    return x


def top_k(scores: np.ndarray, k: int, exclude: Iterable[int] = ()) -> np.ndarray:
    """Rows of the ``k`` highest scores, best first; ties go to the lower row; ``exclude`` rows never appear."""
    scores = np.asarray(scores, dtype=np.float64).copy()
    exclude = np.asarray(list(exclude), dtype=np.int64)
    if exclude.size:
        scores[exclude] = -np.inf
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    # Stable sort on -score keeps lower rows first among equal scores.
    candidates = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    threshold = scores[candidates].min()
    pool = np.flatnonzero(scores >= threshold)
    order = pool[np.argsort(-scores[pool], kind="stable")]
    return order[:k]


class _Recommend:
    n_items: int
    weighting: str = "binary"

    def fit(self, interactions: Interactions):
        return self.fit_matrix(user_item_matrix(interactions, self.weighting))

    def recommend(
        self,
        history_rows: Iterable[int],
        k: int = 10,
        exclude: Iterable[int] = (),
        weights: Iterable[float] | None = None,
        exclude_history: bool = True,
    ) -> np.ndarray:
        """Top-``k`` rows for a user known only by the rows in their history (fold-in)."""
        history_rows = list(history_rows)
        x = history_vector(self.n_items, history_rows, weights)
        skip = list(exclude) + (history_rows if exclude_history else [])
        return top_k(self.score(x), k, skip)


def user_item_matrix(interactions: Interactions, weighting: str = "binary") -> sparse.csr_matrix:
    """Users x items. ``binary``: 1 per rated item; ``rating``: rating / 5 (the rating-weighted variant)."""
    if weighting not in {"binary", "rating"}:
        raise ValueError(f"weighting {weighting!r}; accepted values are 'binary', 'rating'")
    values = np.ones(len(interactions), dtype=np.float32) if weighting == "binary" else interactions.ratings / 5.0
    shape = (interactions.n_users, len(interactions.catalog))
    matrix = sparse.csr_matrix((values, (interactions.user_rows, interactions.item_rows)), shape=shape)
    matrix.sum_duplicates()
    if weighting == "binary":
        matrix.data[:] = 1.0
    return matrix


class EASE(_Recommend):
    """Embarrassingly Shallow Autoencoder: B = I - P / diag(P), P = (XᵀX + λI)⁻¹, diag(B) = 0.

    Args:
        lam: the L2 weight λ.
        weighting: ``binary`` or ``rating`` (X = rating / 5).
    """

    def __init__(self, lam: float = 300.0, weighting: str = "rating"):
        self.lam = float(lam)
        self.weighting = weighting
        self.B: np.ndarray | None = None

    def fit_matrix(self, X: sparse.spmatrix) -> EASE:
        G = (X.T @ X).toarray().astype(np.float64)
        G[np.diag_indices_from(G)] += self.lam
        P = np.linalg.inv(G)
        B = P / (-np.diag(P))
        B[np.diag_indices_from(B)] = 0.0
        self.B = B.astype(np.float32)
        self.n_items = B.shape[0]
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        if self.B is None:
            raise RuntimeError("EASE.score called before fit()")
        return np.asarray(x, dtype=np.float32) @ self.B

    def fold_in(self, cols: list[int], weights: list[float]) -> np.ndarray:
        """Scores of every item for a history of a few columns: ``weights @ B[cols]`` (dense, n floats)."""
        return np.asarray(weights, dtype=np.float32) @ self.B[cols]

    def pair(self, cols: list[int], col: int) -> np.ndarray:
        """``B[cols, col]``: how much each history item adds to ``col``'s score."""
        return self.B[np.asarray(cols, dtype=np.int64), col]

    @property
    def nbytes(self) -> int:
        return 0 if self.B is None else self.B.nbytes


class ItemKNN(_Recommend):
    """Sparse item-item cosine neighbours: for each item its ``k`` most similar items by the users who
    rated both (``implicit.nearest_neighbours.CosineRecommender``, C++, all cores). Memory and a fold-in
    grow with ``k``, not with the catalog: the cost of a turn follows its candidates.

    Args:
        k: neighbours kept per item.
        weighting: ``binary`` or ``rating`` (X = rating / 5), as for EASE.
    """

    def __init__(self, k: int = 100, weighting: str = "rating"):
        self.k = int(k)
        self.weighting = weighting
        self.B: sparse.csr_matrix | None = None

    def fit_matrix(self, X: sparse.spmatrix) -> ItemKNN:
        import warnings

        from implicit.nearest_neighbours import CosineRecommender

        model = CosineRecommender(K=self.k)
        with warnings.catch_warnings():  # implicit converts its own transposed copy and warns about it
            warnings.simplefilter("ignore")
            model.fit(sparse.csr_matrix(X, dtype=np.float32), show_progress=False)
        B = sparse.csr_matrix(model.similarity, dtype=np.float32)
        B.setdiag(0.0)  # an item is not its own neighbour (as EASE's zero diagonal)
        B.eliminate_zeros()
        self.B, self.n_items = B, X.shape[1]
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        if self.B is None:
            raise RuntimeError("ItemKNN.score called before fit()")
        return np.asarray(self.B.T @ np.asarray(x, dtype=np.float32).T).T

    def fold_in(self, cols: list[int], weights: list[float]) -> np.ndarray:
        """Scores of every item for a history of a few columns (dense, n floats; 0 beyond the neighbours)."""
        out = np.zeros(self.n_items, dtype=np.float32)
        found, scores = self.neighbours(cols, weights)
        out[found] = scores
        return out

    def neighbours(self, cols: list[int], weights: list[float]) -> tuple[np.ndarray, np.ndarray]:
        """(columns, scores) of the items a fold-in scores above 0: the union of the history's neighbours."""
        rows = self.B[cols]
        if not rows.nnz:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        w = np.repeat(np.asarray(weights, dtype=np.float32), np.diff(rows.indptr))
        found, inverse = np.unique(rows.indices, return_inverse=True)
        scores = np.zeros(len(found), dtype=np.float32)
        np.add.at(scores, inverse, rows.data * w)
        return found.astype(np.int64), scores

    def pair(self, cols: list[int], col: int) -> np.ndarray:
        return np.asarray(self.B[np.asarray(cols, dtype=np.int64)][:, [col]].toarray()).ravel()

    @property
    def nbytes(self) -> int:
        return 0 if self.B is None else self.B.data.nbytes + self.B.indices.nbytes + self.B.indptr.nbytes


def make_cf(interactions: Interactions | None, cfg=None) -> EASE | ItemKNN | None:
    """The CF model for a catalog (``CFConfig``): EASE up to ``ease_max`` items, the sparse item-kNN above;
    None without interactions or with ``kind="none"``."""
    from chat_rec.config import CFConfig

    cfg = cfg or CFConfig()
    if interactions is None or cfg.kind == "none":
        return None
    kind = cfg.kind if cfg.kind != "auto" else ("ease" if len(interactions.catalog) <= cfg.ease_max else "knn")
    if kind == "ease":
        return EASE(lam=cfg.ease_lambda, weighting="rating").fit(interactions)
    return ItemKNN(k=cfg.knn_neighbours, weighting="rating").fit(interactions)


class Popularity(_Recommend):
    """Number of users who interacted with each item."""

    def fit(self, interactions: Interactions) -> Popularity:
        self.n_items = len(interactions.catalog)
        self.counts = np.bincount(interactions.item_rows, minlength=self.n_items).astype(np.float32)
        return self

    def fit_matrix(self, X: sparse.spmatrix) -> Popularity:
        self.n_items = X.shape[1]
        self.counts = np.asarray((X > 0).sum(axis=0)).ravel().astype(np.float32)
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        return np.broadcast_to(self.counts, x.shape).copy() if x.ndim == 2 else self.counts.copy()
