"""Side data for the signals (``signals.SideData``), built from what a catalog comes with:

* ``interaction_side``: the catalog's own interactions (popularity, EASE);
* ``dialogue_side``: a corpus of recorded dialogues (how often the recommenders mention a film, how often
  anyone does, per release year, co-mention) plus, optionally, an external CF source (``external_cf``:
  MovieLens ratings joined through an id map).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

from chat_rec.catalog import Catalog, Interactions
from chat_rec.datasets.dialogues import MENTION, Dialogue
from chat_rec.models.cf import EASE
from chat_rec.recommender.signals import SideData


def interaction_side(catalog: Catalog, interactions: Interactions | None, cf: EASE | None) -> SideData:
    counts = (
        np.bincount(interactions.item_rows, minlength=len(catalog))
        if interactions is not None
        else np.zeros(len(catalog))
    )
    return SideData(popularity=np.log1p(counts), cf=cf)


def dialogue_mentions(dialogues: Sequence[Dialogue], catalog: Catalog) -> tuple[list[list[int]], list[list[int]]]:
    """Per dialogue: rows of every mentioned movie, and rows the recommender mentioned."""
    every, rec = [], []
    for d in dialogues:
        a, b = [], []
        for msg in d.messages:
            rows = [catalog.row(int(x)) for x in MENTION.findall(msg.text) if int(x) in catalog]
            a += rows
            if msg.role == "recommender":
                b += rows
        every.append(a)
        rec.append(b)
    return every, rec


def dialogue_side(catalog: Catalog, dialogues: Sequence[Dialogue], external: SideData | None = None) -> SideData:
    """Popularity from the recommenders' mentions, mentions by anyone, per-year recommendation rate and
    co-mention cosine, from ``dialogues``; CF and external popularity from ``external`` when given."""
    n = len(catalog)
    every, recd = dialogue_mentions(dialogues, catalog)
    rec_counts = np.bincount([r for rows in recd for r in rows], minlength=n).astype(np.float64)
    years = np.array([it.year or 0 for it in catalog.items])
    bucket = np.clip(years, 1900, 2030) - 1900
    per_year = np.bincount(bucket, weights=rec_counts, minlength=131)
    films = np.bincount(bucket, minlength=131)
    rows, cols = [], []
    for d, items in enumerate(every):
        for r in set(items):
            rows.append(d)
            cols.append(r)
    X = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(max(1, len(every)), n))
    C = (X.T @ X).tocsr()
    C.setdiag(0)
    C.eliminate_zeros()
    norm = np.sqrt(np.asarray(X.sum(axis=0)).ravel()) + 1e-9
    ext = external or SideData()
    return SideData(
        popularity=np.log1p(rec_counts),
        mentions=np.log1p(np.bincount([r for rows in every for r in rows], minlength=n).astype(np.float64)),
        year_popularity=np.log((per_year[bucket] + 0.5) / (films[bucket] + 1.0)),
        comention=(sparse.diags(1 / norm) @ C @ sparse.diags(1 / norm)).tocsr(),
        cf=ext.cf,
        cf_col=ext.cf_col,
        ext_popularity=ext.ext_popularity,
        ext_recent=ext.ext_recent,
    )


def external_cf(catalog: Catalog, ratings_csv, merged_csv, lam: float = 200.0) -> SideData:
    """Rating-weighted EASE over ML-latest-small, restricted to the movies that map to ``catalog``, with
    each row's log(1 + ratings) overall and in the data's last three years."""
    from chat_rec.datasets.dialogues import ml_id_map, ml_latest_rows

    to_ml = ml_id_map(merged_csv)
    ml_to_col: dict[int, int] = {}
    col = np.full(len(catalog), -1, dtype=np.int64)
    for row, item in enumerate(catalog.items):
        ml = to_ml.get(item.id)
        if ml is not None:
            col[row] = ml_to_col.setdefault(ml, len(ml_to_col))
    users: dict[str, int] = {}
    r_idx, c_idx, vals, stamps = [], [], [], []
    for rec in ml_latest_rows(ratings_csv, ("userId", "movieId", "rating", "timestamp")):
        c = ml_to_col.get(int(rec["movieId"]))
        if c is None:
            continue
        r_idx.append(users.setdefault(rec["userId"], len(users)))
        c_idx.append(c)
        vals.append(float(rec["rating"]) / 5.0)
        stamps.append(float(rec["timestamp"] or 0))
    n_cols = max(1, len(ml_to_col))
    X = sparse.csr_matrix((vals, (r_idx, c_idx)), shape=(max(1, len(users)), n_cols))
    stamps_a, c_a = np.asarray(stamps), np.asarray(c_idx, dtype=np.int64)
    counts = np.bincount(c_a, minlength=n_cols)
    cut = stamps_a.max() - 3 * 365 * 86400 if len(stamps_a) else 0
    recent = np.bincount(c_a[stamps_a >= cut], minlength=n_cols)

    def per_row(a):
        return np.where(col >= 0, np.log1p(a[np.maximum(col, 0)]), 0.0)

    return SideData(
        cf=EASE(lam, "rating").fit_matrix(X), cf_col=col, ext_popularity=per_row(counts), ext_recent=per_row(recent)
    )
