"""Side data for the signals (``signals.SideData``), built from what a catalog comes with:

* ``interaction_side``: the catalog's own interactions (popularity, EASE);
* ``dialogue_side``: a corpus of recorded dialogues (how often the recommenders mention a film, how often
  anyone does, per release year, co-mention, and, given the encoder's vectors of ``asked_contexts``, what the
  seekers had said just before a recommender suggested each film) plus CF: an external source
  (``external_cf``: MovieLens ratings joined through an id map) when given, else ``dialogue_cf`` (which films
  the seekers of one dialogue liked together: redistributable, learned from the dialogues themselves).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import sparse

from chat_rec.catalog import Catalog, Interactions, display_title
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


def as_typed(text: str, catalog: Catalog) -> str:
    """``@123`` -> the movie's title as a person would type it (``The Shining (1980)``)."""

    def title(m):
        mid = int(m.group(1))
        return display_title(catalog.item(mid).title) if mid in catalog else "a movie"

    return MENTION.sub(title, text)


def asked_contexts(catalog: Catalog, dialogues: Sequence[Dialogue]) -> tuple[list[str], np.ndarray]:
    """Every recommender's first mention of a film in ``dialogues``: the seeker's words just before it, as the
    chat reads a person's recent words (their last ``WORDS_MESSAGES`` messages, titles as typed, the last
    ``WORDS_CHARS`` characters), and the film's row. Mentions before the seeker has said anything are left out."""
    from chat_rec.recommender.pipeline import WORDS_CHARS, WORDS_MESSAGES

    texts, rows = [], []
    for d in dialogues:
        said: list[str] = []
        seen: set[int] = set()
        for msg in d.messages:
            if not msg.text.strip():
                continue
            ids = [int(x) for x in MENTION.findall(msg.text) if int(x) in catalog]
            if msg.role == "recommender":
                words = " ".join(said[-WORDS_MESSAGES:]).strip()[-WORDS_CHARS:]
                for i in dict.fromkeys(ids):
                    if i not in seen and words:
                        texts.append(words)
                        rows.append(catalog.row(i))
            else:
                said.append(as_typed(msg.text, catalog).strip())
            seen.update(ids)
    return texts, np.asarray(rows, dtype=np.int64)


#: EASE's L2 weight for the dialogue CF (``dialogue_cf``), and the weight of a film the seeker did not rate.
DIALOGUE_CF_LAMBDA = 50.0
UNRATED_WEIGHT = 0.5


def dialogue_cf(catalog: Catalog, dialogues: Sequence[Dialogue], lam: float = DIALOGUE_CF_LAMBDA) -> SideData:
    """EASE over dialogues x films: each dialogue is one person, the films mentioned in it the films they
    liked (1.0 where the seeker's questionnaire says liked, ``UNRATED_WEIGHT`` where it says nothing, left out
    where it says disliked). Only films mentioned somewhere are columns (``cf_col``)."""
    col = np.full(len(catalog), -1, dtype=np.int64)
    r_idx, c_idx, vals, n_cols = [], [], [], 0
    for d, dialogue in enumerate(dialogues):
        weights: dict[int, float] = {}
        for msg in dialogue.messages:
            for x in MENTION.findall(msg.text):
                mid = int(x)
                if mid not in catalog or mid in weights:
                    continue
                liked = (dialogue.questions.get(str(mid)) or {}).get("liked")
                weights[mid] = 1.0 if liked == 1 else (0.0 if liked == 0 else UNRATED_WEIGHT)
        for mid, w in weights.items():
            if w:
                row = catalog.row(mid)
                if col[row] < 0:
                    col[row], n_cols = n_cols, n_cols + 1
                r_idx.append(d)
                c_idx.append(int(col[row]))
                vals.append(w)
    X = sparse.csr_matrix((vals, (r_idx, c_idx)), shape=(max(1, len(dialogues)), max(1, n_cols)))
    return SideData(cf=EASE(lam, "rating").fit_matrix(X), cf_col=col)


def dialogue_side(
    catalog: Catalog,
    dialogues: Sequence[Dialogue],
    external: SideData | None = None,
    encode: Callable[[list[str]], np.ndarray] | None = None,
) -> SideData:
    """Popularity from the recommenders' mentions, mentions by anyone, per-year recommendation rate and
    co-mention cosine, from ``dialogues``; the seekers' requests before each suggestion (``asked_contexts``)
    encoded by ``encode`` (unit vectors) when given; CF and external popularity from ``external`` when given,
    else CF from the dialogues (``dialogue_cf``)."""
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
    ext = external if external is not None and external.cf is not None else dialogue_cf(catalog, dialogues)
    if external is not None:
        ext = SideData(
            cf=ext.cf, cf_col=ext.cf_col, ext_popularity=external.ext_popularity, ext_recent=external.ext_recent
        )
    asked_vectors = asked_rows = None
    if encode is not None:
        texts, rows = asked_contexts(catalog, dialogues)
        if texts:
            asked_vectors, asked_rows = np.asarray(encode(texts), dtype=np.float32).reshape(len(texts), -1), rows
    return SideData(
        popularity=np.log1p(rec_counts),
        mentions=np.log1p(np.bincount([r for rows in every for r in rows], minlength=n).astype(np.float64)),
        year_popularity=np.log((per_year[bucket] + 0.5) / (films[bucket] + 1.0)),
        comention=(sparse.diags(1 / norm) @ C @ sparse.diags(1 / norm)).tocsr(),
        cf=ext.cf,
        cf_col=ext.cf_col,
        ext_popularity=ext.ext_popularity,
        ext_recent=ext.ext_recent,
        asked_vectors=asked_vectors,
        asked_rows=asked_rows,
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
