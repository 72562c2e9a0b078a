"""Retrieve and rank: semantic FAISS candidates + EASE (history and session likes, fold-in) + item-to-item
neighbours of reference items, hard filters always applied, scores fused, then the re-ranker seam.

Fused score (each signal min-max normalised over the candidate set, DESIGN §1):

    s = w_sem·sem + w_ref·ref + w_cf·cf + w_pop·pop + w_genre·genre + w_mood·mood
        − w_kw·unwanted_keyword − w_dis·disliked_similarity + w_rr·reranker
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..catalog import Catalog, Interactions, ItemId, item_text
from ..index import ItemIndex, SearchFilter
from ..models.cf import EASE
from ..models.encoder import Encoder
from ..models.reranker import IdentityReranker, Reranker
from .context import compose, history_text, profile_text, ui_context
from .intent import MOOD_GENRES, Intent


@dataclass(frozen=True)
class FusionWeights:
    sem: float = 1.0
    ref: float = 1.0
    cf: float = 0.7
    pop: float = 0.25
    genre: float = 0.3
    mood: float = 0.25
    unwanted_keyword: float = 0.6
    disliked: float = 0.3
    user: float = 1.0       # the session user vector from 👍/👎 (issue 5)
    reranker: float = 0.0   # set by build_agent when a trained re-ranker loads (RerankerConfig.weight)


@dataclass
class UserState:
    """What the pipeline knows of the person: stored history (known user) and this session's signals."""

    history_rows: list[int] = field(default_factory=list)
    history_ratings: list[float] = field(default_factory=list)
    liked_rows: list[int] = field(default_factory=list)
    disliked_rows: list[int] = field(default_factory=list)
    shown_rows: list[int] = field(default_factory=list)
    user_vector: np.ndarray | None = None   # learned from 👍/👎 (recommender.feedback)
    request: str = ""                        # the person's own words this session (re-ranker query)
    profile: dict = field(default_factory=dict)   # a known user's profile (age, gender, occupation)


@dataclass
class Scored:
    row: int
    score: float
    parts: dict[str, float]


@dataclass
class Ranking:
    items: list[Scored]
    query: str
    relaxed: list[str] = field(default_factory=list)   # constraints dropped because nothing matched


def build_query(intent: Intent, catalog: Catalog) -> str:
    """The semantic query text built from an intent (empty when the intent has no text aspects)."""
    parts = []
    if intent.wanted_genres:
        parts.append(" ".join(intent.wanted_genres) + " movie")
    if intent.mood:
        parts.append(f"{intent.mood} mood")
    if intent.keywords:
        parts.append(" ".join(intent.keywords))
    if intent.year_min and intent.year_max and intent.year_max - intent.year_min == 9:
        parts.append(f"from the {intent.year_min}s")
    return ". ".join(parts)


def _minmax(values: np.ndarray) -> np.ndarray:
    lo, hi = float(np.min(values)), float(np.max(values))
    return np.zeros_like(values) if hi - lo < 1e-12 else (values - lo) / (hi - lo)


class Recommender:
    """The ranking core used by the agent and by offline evaluation."""

    def __init__(self, catalog: Catalog, index: ItemIndex, vectors: np.ndarray, encoder: Encoder,
                 cf: EASE | None = None, interactions: Interactions | None = None,
                 reranker: Reranker | None = None, weights: FusionWeights = FusionWeights(), n_candidates: int = 100,
                 rerank_top: int = 50):
        self.catalog, self.index, self.vectors, self.encoder = catalog, index, vectors, encoder
        self.cf, self.reranker, self.weights, self.n_candidates = cf, reranker or IdentityReranker(), weights, n_candidates
        self.rerank_top = rerank_top
        counts = np.bincount(interactions.item_rows, minlength=len(catalog)) if interactions is not None else np.zeros(len(catalog))
        self.popularity = np.log1p(counts).astype(np.float32)
        self.texts = [item_text(item) for item in catalog.items]
        self._lower_texts = [t.lower() for t in self.texts]

    # ------------------------------------------------------------------------------------ filters
    def filters(self, intent: Intent, state: UserState, *, genres: bool = True, era: bool = True) -> SearchFilter:
        rows = set(state.history_rows) | set(state.disliked_rows) | set(state.liked_rows)
        if not intent.show_again:
            rows |= set(state.shown_rows)
        exclude = {self.catalog.items[r].id for r in rows} | set(intent.reference_items) | set(intent.disliked_items) \
            | set(intent.liked_items)
        return SearchFilter(exclude_ids=frozenset(exclude),
                            require_genres=tuple(intent.wanted_genres) if genres else (),
                            forbid_genres=tuple(intent.unwanted_genres),
                            year_min=intent.year_min if era else None, year_max=intent.year_max if era else None)

    # ------------------------------------------------------------------------------------ ranking
    def rank(self, intent: Intent, state: UserState, k: int = 5, restrict: list[int] | None = None) -> Ranking:
        """Top ``k`` for the intent; ``restrict`` (catalog rows) re-scores just those rows, e.g. the cards
        on screen after a 👍."""
        query = build_query(intent, self.catalog)
        relaxed: list[str] = []
        flt = self.filters(intent, state)
        allowed = flt.mask(self.catalog)
        if restrict is not None:
            only = np.zeros(len(self.catalog), dtype=bool)
            only[np.asarray(restrict, dtype=np.int64)] = True
            flt = SearchFilter(exclude_ids=frozenset(self.catalog.items[r].id for r in np.flatnonzero(~only)))
            allowed = only
        if allowed.sum() < k and intent.wanted_genres:
            relaxed.append("genres")
            flt = self.filters(intent, state, genres=False)
            allowed = flt.mask(self.catalog)
        if allowed.sum() < k and (intent.year_min or intent.year_max):
            relaxed.append("era")
            flt = self.filters(intent, state, genres=not relaxed, era=False)
            allowed = flt.mask(self.catalog)
        if not allowed.any():
            return Ranking([], query, relaxed)
        cand, signals = self._candidates(intent, state, query, flt, allowed, restrict is not None)
        fused = self._fuse(cand, signals, intent, state, query)
        order = np.argsort(-fused, kind="stable")[:k]
        items = [Scored(int(cand[i]), float(fused[i]), {name: float(v[i]) for name, v in signals.items()}) for i in order]
        return Ranking(items, query, relaxed)

    def _history_vector(self, intent: Intent, state: UserState) -> np.ndarray:
        x = np.zeros(len(self.catalog), dtype=np.float32)
        if state.history_rows:
            x[np.asarray(state.history_rows)] = np.asarray(state.history_ratings, dtype=np.float32) / 5.0
        liked = list(state.liked_rows) + [self.catalog.row(i) for i in intent.liked_items + intent.reference_items if i in self.catalog]
        if liked:
            x[np.asarray(liked)] = 1.0
        return x

    def _candidates(self, intent: Intent, state: UserState, query: str, flt: SearchFilter, allowed: np.ndarray,
                    restricted: bool = False):
        n = self.n_candidates
        pool: set[int] = set()
        signals: dict[str, np.ndarray] = {}
        if query:
            qv = self.encoder.encode([query])[0]
            pool |= {h.row for h in self.index.search(qv[None, :], n, flt)[0]}
            signals["sem"] = self.vectors @ qv
        refs = [self.catalog.row(i) for i in intent.reference_items if i in self.catalog]
        if refs:
            ref_vecs = self.vectors[refs]
            for hits in self.index.search(ref_vecs, n, flt):
                pool |= {h.row for h in hits}
            signals["ref"] = (self.vectors @ ref_vecs.T).max(axis=1)
        x = self._history_vector(intent, state)
        if self.cf is not None and x.any():
            cf = self.cf.score(x)
            signals["cf"] = cf
            pool |= set(np.flatnonzero(allowed)[np.argsort(-cf[allowed])[:n]].tolist())
        u = state.user_vector
        if u is not None and float(np.linalg.norm(u)) > 1e-6:
            u = (u / np.linalg.norm(u)).astype(np.float32)
            pool |= {h.row for h in self.index.search(u[None, :], n, flt)[0]}
            signals["user"] = self.vectors @ u
        signals["pop"] = self.popularity
        if not pool or len(pool) < n // 2:  # cold start with no text: popular items that pass the filters
            pool |= set(np.flatnonzero(allowed)[np.argsort(-self.popularity[allowed], kind="stable")[:n]].tolist())
        if restricted:
            pool = set(np.flatnonzero(allowed).tolist())
        cand = np.asarray(sorted(r for r in pool if allowed[r]), dtype=np.int64)
        return cand, {name: v[cand] for name, v in signals.items()}

    def _fuse(self, cand: np.ndarray, signals: dict[str, np.ndarray], intent: Intent, state: UserState, query: str) -> np.ndarray:
        w = self.weights
        weight = {"sem": w.sem, "ref": w.ref, "cf": w.cf, "pop": w.pop, "user": w.user}
        if "cf" in signals and "sem" not in signals and "ref" not in signals:
            weight["cf"] = 1.5  # a known user asking for "anything": collaborative signal leads
        fused = np.zeros(len(cand), dtype=np.float64)
        for name, values in signals.items():
            fused += weight[name] * _minmax(values.astype(np.float64))
        extra: dict[str, np.ndarray] = {}
        items = [self.catalog.items[r] for r in cand]
        if intent.wanted_genres:
            wanted = set(intent.wanted_genres)
            extra["genre"] = np.array([len(wanted & set(it.genres)) / len(wanted) for it in items])
            fused += w.genre * extra["genre"]
        if intent.mood in MOOD_GENRES:
            plus, minus = MOOD_GENRES[intent.mood]
            extra["mood"] = np.array([float(bool(set(plus) & set(it.genres))) - float(bool(set(minus) & set(it.genres))) for it in items])
            fused += w.mood * extra["mood"]
        if intent.unwanted_keywords:
            extra["unwanted_keyword"] = np.array([float(any(kw in self._lower_texts[r] for kw in intent.unwanted_keywords)) for r in cand])
            fused -= w.unwanted_keyword * extra["unwanted_keyword"]
        disliked = list(state.disliked_rows) + [self.catalog.row(i) for i in intent.disliked_items if i in self.catalog]
        if disliked:
            extra["disliked"] = np.clip((self.vectors[cand] @ self.vectors[disliked].T).max(axis=1), 0, 1)
            fused -= w.disliked * extra["disliked"]
        if w.reranker and not isinstance(self.reranker, IdentityReranker) and len(cand) > 1:
            top = np.argsort(-fused, kind="stable")[:self.rerank_top]
            scores = self.reranker.score(self.reranker_query(intent, state), [self.texts[r] for r in cand[top]])
            extra["reranker"] = np.zeros(len(cand))
            extra["reranker"][top] = _minmax(np.asarray(scores, dtype=np.float64))
            fused += w.reranker * extra["reranker"]
        signals.update(extra)
        return fused

    def reranker_query(self, intent: Intent, state: UserState, request: str | None = None) -> str:
        """The re-ranker's query text in chat: profile, UI context, the person's words, their likes."""
        rows = list(state.history_rows) + list(state.liked_rows)
        ratings = list(state.history_ratings) + [5.0] * len(state.liked_rows)
        liked = [self.catalog.row(i) for i in intent.liked_items + intent.reference_items if i in self.catalog]
        rows, ratings = rows + liked, ratings + [5.0] * len(liked)
        return compose(profile_text(state.profile), ui_context(intent.context),
                       state.request if request is None else request, history_text(self.catalog, rows, ratings))

    def similar_items(self, row: int, k: int = 5, exclude: set[ItemId] = frozenset()) -> list[int]:
        hits = self.index.search(self.vectors[row][None, :], k + 1, SearchFilter(exclude_ids=frozenset(exclude)))[0]
        return [h.row for h in hits if h.row != row][:k]


def decade_label(year_min: int | None, year_max: int | None) -> str:
    if year_min and year_max:
        if year_max - year_min == 9 and year_min % 10 == 0:
            return f"the {year_min}s"
        return f"{year_min}–{year_max}" if year_min != year_max else str(year_min)
    if year_min:
        return f"{year_min} or later"
    if year_max:
        return f"{year_max} or earlier"
    return ""


__all__ = ["Recommender", "UserState", "Ranking", "Scored", "FusionWeights", "build_query", "decade_label"]
