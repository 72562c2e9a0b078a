"""Retrieve and rank: hard filters, candidates, the signals of ``recommender.signals``, fused by the
learned weights of ``recommender.fusion`` -> top k. The chat, every evaluation and the fitting of the
weights rank through ``Recommender.rank`` (``Recommender.signal_matrix`` gives the fitting the same
standardised signals the chat fuses).

Candidates: every row that passes the hard filters (seen/rated, shown, 👎'd, mentioned, unwanted genres,
era) when at most ``full_rank_max`` do; beyond that, the union of the semantic, reference, CF, user-vector
and popularity neighbours (FAISS), so a large catalog is never scored in full.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from chat_rec.catalog import Catalog, Interactions, ItemTexts
from chat_rec.models.cf import EASE
from chat_rec.models.encoder import Encoder
from chat_rec.models.index import ItemIndex, SearchFilter
from chat_rec.models.reranker import IdentityReranker, Reranker
from chat_rec.recommender import signals as sig
from chat_rec.recommender.context import compose, history_text, profile_text, ui_context
from chat_rec.recommender.fusion import RERANKER, FusionModel, defaults, stage_scores
from chat_rec.recommender.intent import Intent
from chat_rec.recommender.intent import ruled_out as intent_ruled_out

log = logging.getLogger(__name__)

#: How many of the person's latest messages the ``words`` signal reads (and at most how many characters),
#: and how many latest messages of both sides the ``dialogue`` signal reads.
WORDS_MESSAGES, WORDS_CHARS, DIALOGUE_MESSAGES = 4, 500, 6
#: Encoded texts remembered (about 1.5 kB each): a replayed evaluation reads each text twice.
ENCODED_CACHE = 20_000
#: How far the films of people named in passing move up ("I really like Will Ferrell"), in spreads (standard
#: deviations) of the fused scores. Chosen on 700 held-out ReDial training dialogues (docs/redial.md).
PERSON_BOOST = 1.0


@dataclass
class UserState:
    """What the pipeline knows of the person: stored history (known user) and this session's signals."""

    history_rows: list[int] = field(default_factory=list)
    history_ratings: list[float] = field(default_factory=list)
    liked_rows: list[int] = field(default_factory=list)
    disliked_rows: list[int] = field(default_factory=list)
    shown_rows: list[int] = field(default_factory=list)
    mentioned_rows: list[int] = field(default_factory=list)  # items brought up in the conversation, in order
    ruled_out_rows: list[int] = field(default_factory=list)  # "I've seen it", "not X again": never shown again
    user_vector: np.ndarray | None = None  # learned from 👍/👎 (recommender.feedback)
    feedback_up_rows: list[int] = field(default_factory=list)  # this session's 👍 (last value per item)
    feedback_down_rows: list[int] = field(default_factory=list)  # and 👎
    request: str = ""  # the person's own recent words this session
    dialogue: str = ""  # both sides' recent words
    profile: dict = field(default_factory=dict)  # a known user's profile (age, gender, occupation)


@dataclass
class Scored:
    row: int
    score: float
    parts: dict[str, float]


@dataclass
class Ranking:
    items: list[Scored]
    query: str
    relaxed: list[str] = field(default_factory=list)  # constraints dropped because nothing matched
    head: str = "request"
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds: retrieve (candidates + signals), rerank
    notices: list[str] = field(default_factory=list)  # a part that failed this turn (the encoder)


def build_query(intent: Intent, catalog: Catalog) -> str:
    """The semantic query text built from an intent (empty when the intent has no text aspects)."""
    parts = []
    if intent.wanted_genres:
        parts.append(" ".join(intent.wanted_genres) + " movie")
    if intent.mood:
        parts.append(f"{intent.mood} mood")
    if intent.keywords:
        parts.append(" ".join(intent.keywords))
    if intent.people:
        parts.append("with " + " and ".join(intent.people))
    if intent.year_min and intent.year_max and intent.year_max - intent.year_min == 9:
        parts.append(f"from the {intent.year_min}s")
    return ". ".join(parts)


def head_for(intent: Intent, state: UserState, heads=("request", "history")) -> str:
    """``history`` for a known user who gives nothing to rank by; ``feedback`` (when the fusion has that head)
    once the person has given 👍/👎 in the session; else ``request``."""
    asked = not intent.is_empty() or state.liked_rows or state.mentioned_rows or state.disliked_rows
    if state.history_rows and not asked:
        return "history"
    if "feedback" in heads and (state.feedback_up_rows or state.feedback_down_rows):
        return "feedback"
    return "request"


class Recommender:
    """The ranking core used by the agent, the evaluations and the fitting of the fusion weights.

    Args:
        side: catalog-wide statistics (``signals.SideData``); by default popularity from ``interactions``
            and ``cf`` as the CF model.
        fusion: the fitted weights (``fusion.load_fusion``); the hand-set defaults when None.
    """

    def __init__(
        self,
        catalog: Catalog,
        index: ItemIndex,
        vectors: np.ndarray,
        encoder: Encoder,
        cf: EASE | None = None,
        interactions: Interactions | None = None,
        reranker: Reranker | None = None,
        fusion: FusionModel | None = None,
        n_candidates: int = 100,
        rerank_top: int = 50,
        side: sig.SideData | None = None,
        full_rank_max: int = 20_000,
    ):
        self.catalog, self.index, self.vectors, self.encoder = catalog, index, vectors, encoder
        self.cf, self.reranker, self.n_candidates = cf, reranker or IdentityReranker(), n_candidates
        self.fusion = fusion or defaults()
        #: films of the nearest recorded requests (``signals.asked``) a genre request admits though their labels
        #: lack the genre: the genre wall bent into the signals where people meant more than the labels say. The
        #: fitted ranker says whether it was fitted so (``meta["candidates"]["bend_genres"]``); 0 is a wall.
        self.bend_genres = int(((self.fusion.meta or {}).get("candidates") or {}).get("bend_genres") or 0)
        self.rerank_top, self.full_rank_max = rerank_top, full_rank_max
        self.person_boost = PERSON_BOOST
        if side is None:
            counts = (
                np.bincount(interactions.item_rows, minlength=len(catalog))
                if interactions is not None
                else np.zeros(len(catalog))
            )
            side = sig.SideData(popularity=np.log1p(counts), cf=cf)
        self.side = side
        self.popularity = (side.popularity if side.popularity is not None else np.zeros(len(catalog))).astype(
            np.float32
        )
        self.texts = ItemTexts(catalog)  # made when read (a re-ranked candidate, a "why"): no second copy
        self.features = sig.CatalogFeatures.build(catalog, vectors, side, self.texts)
        self._lower_texts = self.features.lower_texts
        #: rows by popularity (most first) and the 90th percentile, once: no turn sorts the catalog
        self._by_popularity = np.argsort(-self.popularity, kind="stable")
        self.popular_cut = float(np.percentile(self.popularity, 90))
        self._encoded: OrderedDict[str, np.ndarray] = OrderedDict()
        self._encode_lock = threading.Lock()
        self._local = threading.local()  # per turn (thread): the encoder's failure, for Ranking.notices
        self._judgements: tuple[dict | None, sig.JudgementModel | None] = (None, None)
        self._content_masks: dict[tuple[str, ...], np.ndarray] = {}
        self._people = None

    @property
    def _feedback_fitting(self) -> dict:
        """What ``chat-rec train feedback`` wrote beside the feedback head (``meta.fitting.feedback``)."""
        return (self.fusion.meta.get("fitting") or {}).get("feedback") or {}

    @property
    def feedback_tau(self) -> float:
        """The ``feedback`` signal's threshold fitted with its head (``chat-rec train feedback``), else 0.4."""
        fitted = self._feedback_fitting.get("tau")
        return float(fitted) if isinstance(fitted, (int, float)) else sig.FEEDBACK_TAU

    @property
    def feedback_model(self) -> sig.JudgementModel | None:
        """The learned P(👍 | item, wanted film) fitted with the feedback head, else None (the logistic in
        ``feedback_tau``); a malformed table is logged and ignored."""
        data = self._feedback_fitting.get("judgements")
        if not isinstance(data, dict):
            return None
        if self._judgements[0] is not data:
            try:
                model = sig.JudgementModel.from_json(data)
            except ValueError as exc:
                log.warning("the fitted judgement table is malformed (%s): feedback uses the cosine threshold", exc)
                model = None
            self._judgements = (data, model)
        return self._judgements[1]

    # ------------------------------------------------------------------------------------ filters
    def filters(self, intent: Intent, state: UserState, *, genres: bool = True, era: bool = True) -> SearchFilter:
        rows = (
            set(state.history_rows)
            | set(state.disliked_rows)
            | set(state.liked_rows)
            | set(state.mentioned_rows)
            | set(state.ruled_out_rows)
        )
        if not intent.show_again:
            rows |= set(state.shown_rows)
        named = set(intent.reference_items) | set(intent.disliked_items) | set(intent.liked_items)
        rows = self.catalog.with_twins(rows | {self.catalog.row(i) for i in named if i in self.catalog})
        exclude = {self.catalog.items[r].id for r in rows} | named
        return SearchFilter(
            exclude_ids=frozenset(exclude),
            require_genres=tuple(intent.wanted_genres) if genres else (),
            forbid_genres=tuple(intent.unwanted_genres),
            all_genres=intent.all_genres and genres,
            year_min=intent.year_min if era else None,
            year_max=intent.year_max if era else None,
        )

    @property
    def people(self):
        """Who directed and who plays in which item (``chat_rec.people.People``), built on first use."""
        if self._people is None:
            from chat_rec.people import People

            self._people = People(self.catalog)
        return self._people

    def people_mask(self, names: list[str]) -> np.ndarray:
        """Rows with any of the ``names`` as director or in the cast."""
        mask = np.zeros(len(self.catalog), dtype=bool)
        for name in names:
            rows = self.people.of(name)
            if rows:
                mask[np.asarray(rows, dtype=np.int64)] = True
        return mask

    def content_mask(self, words: tuple[str, ...]) -> np.ndarray:
        """Rows whose text has one of ``words`` at the start of a word ("gore" finds "gore" and "gory", not
        "category"): the films ruled out by "not gory", "no violence" (``RULED_OUT_WORDS``). One scan of the
        item texts per set of words, remembered."""
        with self._encode_lock:
            hit = self._content_masks.get(words)
        if hit is None:
            pattern = re.compile(r"(?<![a-z])(?:" + "|".join(re.escape(w) for w in words) + ")")
            hit = np.fromiter(
                (pattern.search(t) is not None for t in self._lower_texts), dtype=bool, count=len(self.catalog)
            )
            with self._encode_lock:
                self._content_masks[words] = hit
                while len(self._content_masks) > 16:
                    self._content_masks.pop(next(iter(self._content_masks)))
        return hit

    # ------------------------------------------------------------------------------------ ranking
    def rank(self, intent: Intent, state: UserState, k: int = 5, restrict: list[int] | None = None) -> Ranking:
        """Top ``k`` for the intent; ``restrict`` (catalog rows) re-scores just those rows, e.g. the cards
        on screen after a 👍."""
        start = time.perf_counter()
        self._local.encoder_error = None
        head = head_for(intent, state, self.fusion.heads)
        active = self.fusion.active(head)
        cand, request, query, relaxed = self.candidates(intent, state, restrict, k, active)
        failed = self._local.encoder_error
        notices = [f"the text encoder failed ({failed}); these picks use ratings, genres and eras only"] * bool(failed)
        if not len(cand):
            return Ranking([], query, relaxed, head, {"retrieve": (time.perf_counter() - start) * 1000}, notices)
        raw = sig.compute(self.features, request, cand, active)
        Z = sig.matrix(raw, len(cand))
        fused = stage_scores(self.fusion, head, Z, self.catalog.name)
        if intent.liked_people and self.person_boost and restrict is None:
            # "I really like Will Ferrell": his films move up by ``person_boost`` spreads of the fused scores
            fused = fused + self.person_boost * float(np.std(fused)) * self.people_mask(intent.liked_people)[cand]
        middle = time.perf_counter()
        fused = self._rerank(fused, cand, intent, state, head, raw)
        order = self._distinct_films(cand, np.argsort(-fused, kind="stable"), k)
        items = [Scored(int(cand[i]), float(fused[i]), {name: float(v[i]) for name, v in raw.items()}) for i in order]
        timings = {"retrieve": (middle - start) * 1000, "rerank": (time.perf_counter() - middle) * 1000}
        return Ranking(items, query, relaxed, head, timings, notices)

    def _distinct_films(self, cand: np.ndarray, order: np.ndarray, k: int) -> list[int]:
        """The first ``k`` of ``order`` with one id per film (a film listed under two ids shows once)."""
        seen, out = set(), []
        for i in order:
            key = int(self.catalog.film_key[cand[i]])
            if key not in seen:
                seen.add(key)
                out.append(int(i))
                if len(out) == k:
                    break
        return out

    def signal_matrix(self, intent: Intent, state: UserState) -> tuple[np.ndarray, np.ndarray, str]:
        """Candidate rows, their standardised signal matrix (every signal, ``signals.NAMES`` order) and the
        head: what ``rank`` fuses, for fitting and ablations."""
        cand, request, _, _ = self.candidates(intent, state)
        raw = sig.compute(self.features, request, cand) if len(cand) else {}
        return cand, sig.matrix(raw, len(cand)), head_for(intent, state, self.fusion.heads)

    def candidates(
        self,
        intent: Intent,
        state: UserState,
        restrict: list[int] | None = None,
        k: int = 5,
        names: tuple[str, ...] = sig.NAMES,
    ):
        """The candidate rows (sorted), the signals' view of the request, the query text and the relaxed
        constraints (a genre or era constraint is dropped when fewer than ``min(k, 5)`` rows pass it: the
        chat shows 5, so a longer list, as an evaluation asks, relaxes no sooner)."""
        need = min(k, 5)
        query = build_query(intent, self.catalog)
        relaxed: list[str] = []
        flt = self.filters(intent, state)
        allowed = flt.mask(self.catalog)
        request = self.request(intent, state, query, names)
        if self.bend_genres and intent.wanted_genres and restrict is None:
            allowed = allowed | self._bent(request, self.filters(intent, state, genres=False).mask(self.catalog))
        if restrict is not None:
            allowed = np.zeros(len(self.catalog), dtype=bool)
            allowed[np.asarray(restrict, dtype=np.int64)] = True
            flt = SearchFilter(exclude_ids=frozenset(self.catalog.items[r].id for r in np.flatnonzero(~allowed)))
        if allowed.sum() < need and intent.wanted_genres and restrict is None:
            relaxed.append("genres")
            flt = self.filters(intent, state, genres=False)
            allowed = flt.mask(self.catalog)
        if allowed.sum() < need and (intent.year_min or intent.year_max) and restrict is None:
            relaxed.append("era")
            flt = self.filters(intent, state, genres=not relaxed, era=False)
            allowed = flt.mask(self.catalog)
        if intent.people and restrict is None:
            # "by Hitchcock", "with Tom Hanks": only their films, however few (the reply says how many)
            person = self.people_mask(intent.people)
            kept = allowed & person
            if kept.sum() < need and (intent.wanted_genres or intent.year_min or intent.year_max):
                # their films come first: a genre or era asked for before gives way when too few are left
                wider = self.filters(intent, state, genres=False, era=False).mask(self.catalog) & person
                if wider.sum() > kept.sum():
                    kept = wider
                    asked = [
                        w
                        for w, on in (("genres", intent.wanted_genres), ("era", intent.year_min or intent.year_max))
                        if on
                    ]
                    relaxed += [w for w in asked if w not in relaxed]
            if kept.any():
                allowed = kept
            else:
                relaxed.append("people")
        if intent.unwanted_people and restrict is None:
            # "I don't like Adam Sandler": their films are left out while enough others remain
            kept = allowed & ~self.people_mask(intent.unwanted_people)
            if kept.sum() >= need:
                allowed = kept
        ruled_out = intent_ruled_out(intent.unwanted_keywords)
        if ruled_out and restrict is None:
            kept = allowed & ~self.content_mask(ruled_out)
            if kept.sum() >= need:
                allowed = kept  # retrieval (large catalogs) drops the ruled-out rows from its pool
            else:
                relaxed.append("content")
        if not allowed.any():
            return np.zeros(0, dtype=np.int64), request, query, relaxed
        if restrict is not None or allowed.sum() <= self.full_rank_max:
            return np.flatnonzero(allowed).astype(np.int64), request, query, relaxed
        return self._retrieve(request, state, flt, allowed), request, query, relaxed

    def _bent(self, request: sig.Request, passing: np.ndarray) -> np.ndarray:
        """Rows the bent genre filter admits: the films recommenders suggested after the ``bend_genres`` recorded
        requests nearest the person's words, among the rows passing every other filter (a genre ruled out, the
        era, the films already seen or ruled out stay walls)."""
        out = np.zeros(len(self.catalog), dtype=bool)
        V, films = self.side.asked_vectors, self.side.asked_rows
        if V is None or films is None or not len(V) or request.words_vector is None:
            return out
        s = V @ np.asarray(request.words_vector, dtype=V.dtype)
        k = min(self.bend_genres, len(s))
        out[films[np.argpartition(-s, k - 1)[:k]]] = True
        return out & passing

    def request(
        self, intent: Intent, state: UserState, query: str | None = None, names: tuple[str, ...] = sig.NAMES
    ) -> sig.Request:
        """The signals' view of the request. Only the texts the ``names`` signals read are encoded, in one
        batch (the encoder is most of a turn's time on a CPU)."""
        query = build_query(intent, self.catalog) if query is None else query
        refs = (
            list(state.mentioned_rows)
            + list(state.liked_rows)
            + [self.catalog.row(i) for i in intent.reference_items + intent.liked_items if i in self.catalog]
        )
        liked = set(state.liked_rows) | {self.catalog.row(i) for i in intent.liked_items if i in self.catalog}
        disliked = list(state.disliked_rows) + [
            self.catalog.row(i) for i in intent.disliked_items if i in self.catalog
        ]
        words = state.request.strip()[-WORDS_CHARS:] if {"words", "dialogue"} & set(names) else ""
        dialogue = state.dialogue.strip()[-WORDS_CHARS:] if "dialogue" in names else ""
        query = query if "sem" in names else ""
        vec = self.encode_all([query, words, dialogue])
        return sig.Request(
            intent,
            vec.get(query),
            vec.get(words),
            list(dict.fromkeys(refs)),
            liked,
            disliked,
            list(state.history_rows),
            list(state.history_ratings),
            state.user_vector,
            vec.get(dialogue) if dialogue != words else None,
            list(state.feedback_up_rows),
            list(state.feedback_down_rows),
            self.feedback_tau,
            self.feedback_model if state.feedback_up_rows or state.feedback_down_rows else None,
        )

    def encode_all(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Vectors of the non-empty ``texts``: the remembered ones, the rest encoded in one batch. When the
        encoder fails, the texts it could not encode are left out (the signals that read them sit this turn
        out; retrieval falls back to the ratings, genres and eras) and ``rank`` says so in ``Ranking.notices``."""
        with self._encode_lock:
            todo = [t for t in dict.fromkeys(texts) if t and t not in self._encoded]
        if todo:
            try:
                vectors = self.encoder.encode(todo)
            except Exception as exc:  # a broken encoder must not take the turn down
                log.exception("the text encoder failed")
                self._local.encoder_error = f"{type(exc).__name__}: {exc}"[:120]
                vectors = []
            with self._encode_lock:
                for t, v in zip(todo, vectors):
                    self._encoded[t] = np.asarray(v, dtype=np.float32)
                while len(self._encoded) > ENCODED_CACHE:
                    self._encoded.popitem(last=False)
        with self._encode_lock:
            out = {}
            for t in texts:
                if t and t in self._encoded:
                    self._encoded.move_to_end(t)
                    out[t] = self._encoded[t]
            return out

    def _retrieve(self, r: sig.Request, state: UserState, flt: SearchFilter, allowed: np.ndarray) -> np.ndarray:
        """The union of the index's neighbours of the query, the words, the 👍/👎 vector and each reference,
        the CF neighbours and the most popular allowed rows: ``n_candidates`` of each. Its cost follows the
        candidates: the index searches are approximate above ``IndexConfig.flat_max`` items, the sparse CF
        reads only the history's neighbours, and popularity is sorted once."""
        n = self.n_candidates
        queries = [
            np.asarray(vec, dtype=np.float32)
            for vec in (r.query_vector, r.words_vector, r.user_vector)
            if vec is not None and float(np.linalg.norm(vec)) > 1e-6
        ]
        if r.references:
            queries.extend(self.vectors[r.references])
        pool: set[int] = set()
        if queries:  # one batched search (one filter bitmap) for every query vector
            for hits in self.index.search(np.stack(queries), n, flt):
                pool |= {h.row for h in hits}
        pool |= set(sig.cf_top(self.features, r, allowed, n).tolist())
        by_pop = self._by_popularity
        pool |= set(by_pop[allowed[by_pop]][:n].tolist())
        return np.asarray(sorted(x for x in pool if allowed[x]), dtype=np.int64)

    def _rerank(
        self,
        fused: np.ndarray,
        cand: np.ndarray,
        intent: Intent,
        state: UserState,
        head: str,
        raw: dict[str, np.ndarray],
    ) -> np.ndarray:
        """The re-ranker's standardised score, with its fitted weight, over the top ``rerank_top`` of the
        linear (and tree) stage."""
        w = self.fusion.weight(head, RERANKER)
        if not w or isinstance(self.reranker, IdentityReranker) or len(cand) < 2:
            return fused
        top = np.argsort(-fused, kind="stable")[: self.rerank_top]
        scores = self.reranker.score(self.reranker_query(intent, state), [self.texts[r] for r in cand[top]])
        fused = fused.copy()
        fused[top] += w * sig.zscore(np.asarray(scores, dtype=np.float64))
        raw[RERANKER] = np.full(len(cand), np.nan)
        raw[RERANKER][top] = scores
        return fused

    def reranker_query(self, intent: Intent, state: UserState, request: str | None = None) -> str:
        """The re-ranker's query text in chat: profile, UI context, the person's words, their likes."""
        rows = list(state.history_rows) + list(state.liked_rows)
        ratings = list(state.history_ratings) + [5.0] * len(state.liked_rows)
        liked = [self.catalog.row(i) for i in intent.liked_items + intent.reference_items if i in self.catalog]
        rows, ratings = rows + liked, ratings + [5.0] * len(liked)
        return compose(
            profile_text(state.profile),
            ui_context(intent.context),
            state.request if request is None else request,
            history_text(self.catalog, rows, ratings),
        )


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


__all__ = ["Ranking", "Recommender", "Scored", "UserState", "build_query", "decade_label", "head_for"]
