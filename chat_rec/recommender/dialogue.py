"""Recommending from a whole dialogue (ReDial/INSPIRED): who said what, which movies came up, how the
seeker felt about them.

Signals, each standardised over the catalog and fused with weights fitted on training dialogues only:

* ``pop``      log(1 + how often recommenders mentioned the movie in the training dialogues)
* ``mlpop`` / ``recent``  log(1 + its MovieLens ratings), overall / in the ratings' last three years
* ``year``     the release year (dialogues favour recent films)
* ``comention`` cosine co-mention with the movies mentioned so far (training dialogues), liked ones x2,
               disliked ones left out
* ``cf``       rating-weighted EASE over ML-latest-small (joined through ``movies_merged.csv``), folded in
               from the mentioned movies (liked 1.0, unknown 0.6, disliked 0)
* ``sem``      MiniLM cosine between the seeker's recent words (mentions resolved to titles) and the item
* ``genre``    share of the genres the rule parser read in the seeker's words that the item has, minus
               unwanted ones; ``era`` 1 when the item's year is inside a stated era
Movies mentioned earlier in the dialogue are never recommended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy import sparse

from ..catalog import Catalog
from ..models.cf import EASE
from .intent import RuleParser

SIGNALS = ("pop", "mlpop", "recent", "year", "comention", "cf", "sem", "genre", "era")


@dataclass
class MovieLensSide:
    """CF data joined from MovieLens: EASE over its items, the catalog-row -> EASE-column map (-1: none),
    and per catalog row log(1 + ratings) overall and in the data's last three years."""

    model: EASE
    col: np.ndarray
    pop: np.ndarray
    recent: np.ndarray


@dataclass
class DialogueContext:
    """What the recommender knows before its message."""

    seeker_text: str                       # the seeker's messages so far, mentions resolved
    mentioned: list[int]                   # catalog rows mentioned so far (both speakers), in order
    liked: list[int] = field(default_factory=list)
    disliked: list[int] = field(default_factory=list)


class _ResolvedTitles:
    """Movies in a dialogue arrive as ``@id`` mentions, already resolved: no fuzzy title search."""

    def find(self, text: str) -> list:
        return []


def _z(a: np.ndarray) -> np.ndarray:
    sd = a.std()
    return (a - a.mean()) / sd if sd > 1e-12 else np.zeros_like(a)


class DialogueRecommender:
    """Ranks catalog rows for a ``DialogueContext``. Fit the statistics with ``fit_dialogues``."""

    def __init__(self, catalog: Catalog, vectors: np.ndarray, encoder, ml_cf: MovieLensSide | None = None,
                 weights: dict[str, float] | None = None):
        self.catalog, self.vectors, self.encoder = catalog, vectors, encoder
        self.parser = RuleParser(catalog, titles=_ResolvedTitles())
        self.ml_cf = ml_cf
        self.weights = dict(weights or {"pop": 1.0, "mlpop": 0.0, "recent": 0.0, "year": 0.0, "comention": 1.0,
                                        "cf": 1.0, "sem": 0.5, "genre": 0.5, "era": 0.3})
        n = len(catalog)
        self.pop = np.zeros(n)
        self.comention = sparse.csr_matrix((n, n))
        self.years = np.array([it.year or 0 for it in catalog.items])
        self.genre_sets = [set(it.genres) for it in catalog.items]

    def fit_dialogues(self, mentions_per_dialogue: Sequence[Sequence[int]], recommended: Sequence[Sequence[int]]) -> "DialogueRecommender":
        """Popularity from recommenders' mentions; co-mention cosine from each dialogue's set of movies."""
        n = len(self.catalog)
        self.pop = np.log1p(np.bincount([r for rows in recommended for r in rows], minlength=n).astype(np.float64))
        rows, cols = [], []
        for d, items in enumerate(mentions_per_dialogue):
            for r in set(items):
                rows.append(d)
                cols.append(r)
        X = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(max(1, len(mentions_per_dialogue)), n))
        C = (X.T @ X).tocsr()
        C.setdiag(0)
        C.eliminate_zeros()
        norm = np.sqrt(np.asarray(X.sum(axis=0)).ravel()) + 1e-9
        self.comention = sparse.diags(1 / norm) @ C @ sparse.diags(1 / norm)
        self.comention = self.comention.tocsr()
        return self

    def signals(self, ctx: DialogueContext) -> dict[str, np.ndarray]:
        n = len(self.catalog)
        out = {"pop": self.pop, "year": np.where(self.years > 0, self.years, np.median(self.years)).astype(np.float64)}
        if self.ml_cf is not None:
            out["mlpop"], out["recent"] = self.ml_cf.pop, self.ml_cf.recent
        liked, disliked = set(ctx.liked), set(ctx.disliked)
        positive = [r for r in ctx.mentioned if r not in disliked]
        weight = np.array([2.0 if r in liked else 1.0 for r in positive])
        if positive:
            out["comention"] = np.asarray(self.comention[positive].T @ weight).ravel()
        if self.ml_cf is not None and positive:
            model, col = self.ml_cf.model, self.ml_cf.col
            x = np.zeros(model.B.shape[0], dtype=np.float32)
            for r in positive:
                if col[r] >= 0:
                    x[col[r]] = 1.0 if r in liked else 0.6
            if x.any():
                ml = model.score(x)
                out["cf"] = np.where(col >= 0, ml[np.maximum(col, 0)], 0.0)
        text = ctx.seeker_text.strip()
        if text:
            q = self.encoder.encode([text[-500:]])[0]
            out["sem"] = self.vectors @ q
            intent = self.parser.parse(text[-600:])
            if intent.wanted_genres or intent.unwanted_genres:
                want, unwanted = set(intent.wanted_genres), set(intent.unwanted_genres)
                out["genre"] = np.array([len(want & g) / max(1, len(want)) - float(bool(unwanted & g)) for g in self.genre_sets])
            if intent.year_min or intent.year_max:
                lo, hi = intent.year_min or 0, intent.year_max or 9999
                out["era"] = ((self.years >= lo) & (self.years <= hi)).astype(np.float64)
        return {k: v.astype(np.float64) for k, v in out.items() if len(v) == n}

    def fuse(self, sig: dict[str, np.ndarray], weights: dict[str, float] | None = None) -> np.ndarray:
        weights = weights or self.weights
        total = np.zeros(len(self.catalog))
        for name, values in sig.items():
            w = weights.get(name, 0.0)
            if w:
                total += w * _z(values)
        return total

    def rank(self, ctx: DialogueContext, k: int = 50, sig: dict[str, np.ndarray] | None = None,
             weights: dict[str, float] | None = None) -> np.ndarray:
        score = self.fuse(sig if sig is not None else self.signals(ctx), weights)
        if ctx.mentioned:
            score[np.asarray(ctx.mentioned)] = -np.inf
        top = np.argpartition(-score, min(k, len(score) - 1))[:k]
        return top[np.argsort(-score[top], kind="stable")]
