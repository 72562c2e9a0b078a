"""Recommending from a whole dialogue (ReDial/INSPIRED): who said what, which movies came up, how the
seeker felt about them.

Two stages, both fitted on training dialogues only (``evaluation/redial.py`` cross-fits them):

1. A linear fusion of standardised signals over the whole catalog, its weights fitted by a softmax over the
   catalog (the target against every other movie; L2 0.01) -- ``fit_linear``.
2. A LambdaRank tree model (LightGBM) re-orders the linear top ``LTR_CANDIDATES``; its inputs are the
   standardised signals of each candidate, raw popularity and year, how many movies were mentioned, and the
   candidate's linear rank and score -- ``fit_ltr``. Without a fitted tree model the linear order stands.

Signals (``SIGNALS``), each computed over the catalog for one dialogue state:

* ``pop`` / ``popall``   log(1 + mentions by recommenders / by anyone in the training dialogues)
* ``yearpop``  log((recommender mentions of movies of that release year + .5) / (movies of that year + 1))
* ``mlpop`` / ``recent``  log(1 + its MovieLens ratings), overall / in the ratings' last three years
* ``year``     the release year (dialogues favour recent films)
* ``comention`` cosine co-mention with the movies mentioned so far (training dialogues), liked ones x2,
               disliked ones left out
* ``cf`` / ``cf_last``  rating-weighted EASE over ML-latest-small (joined through ``movies_merged.csv``),
               folded in from the mentioned movies (liked 1.0, unknown 0.6, disliked 0) / the last one only
* ``simitem`` / ``simmax`` / ``simlast``  MiniLM item-item cosine with the mentioned movies (not disliked):
               weighted mean (liked x2), max, the last one; ``simdis`` max cosine with the disliked ones
* ``gprof``    cosine of the item's genres with the genre profile of the mentioned movies (liked x2)
* ``sem``      MiniLM cosine between the seeker's recent words (mentions resolved to titles) and the item;
               ``sem_all`` the same for both speakers' recent messages
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

SIGNALS = ("pop", "popall", "yearpop", "mlpop", "recent", "year", "comention", "cf", "cf_last", "simitem", "simmax",
           "simlast", "simdis", "gprof", "sem", "sem_all", "genre", "era")
DEFAULT_WEIGHTS = {"pop": 0.5, "popall": 0.5, "recent": 0.25, "year": 0.5, "comention": 0.5, "cf": 0.5,
                   "simitem": 1.0, "simmax": 0.5, "gprof": 0.3, "sem": 0.5, "sem_all": 0.2, "genre": 0.5, "era": 0.3}
LTR_CANDIDATES = 300
LTR_PARAMS = dict(objective="lambdarank", learning_rate=0.02, n_estimators=500, num_leaves=15, min_child_samples=20,
                  reg_lambda=1.0, lambdarank_truncation_level=60, random_state=0, deterministic=True,
                  force_row_wise=True, n_jobs=2, verbose=-1)


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
    recent_text: str = ""                  # both speakers' last messages, mentions resolved


class _ResolvedTitles:
    """Movies in a dialogue arrive as ``@id`` mentions, already resolved: no fuzzy title search."""

    def find(self, text: str) -> list:
        return []


def _z(a: np.ndarray) -> np.ndarray:
    sd = a.std()
    return (a - a.mean()) / sd if sd > 1e-12 else np.zeros_like(a)


def signal_matrix(sig: dict[str, np.ndarray], n: int) -> np.ndarray:
    """``(len(SIGNALS), n)`` float32, each signal standardised over the catalog (absent ones zero)."""
    out = np.zeros((len(SIGNALS), n), dtype=np.float32)
    for j, name in enumerate(SIGNALS):
        if name in sig:
            out[j] = _z(np.asarray(sig[name], dtype=np.float64))
    return out


class DialogueRecommender:
    """Ranks catalog rows for a ``DialogueContext``. Fit the statistics with ``fit_dialogues``; the fusion
    weights and the tree model come from ``fit_linear`` / ``fit_ltr`` (or stay at their defaults)."""

    def __init__(self, catalog: Catalog, vectors: np.ndarray, encoder, ml_cf: MovieLensSide | None = None,
                 weights: dict[str, float] | None = None):
        self.catalog, self.vectors, self.encoder = catalog, np.asarray(vectors, dtype=np.float32), encoder
        self.parser = RuleParser(catalog, titles=_ResolvedTitles())
        self.ml_cf = ml_cf
        self.weights = {name: 0.0 for name in SIGNALS} | dict(weights or DEFAULT_WEIGHTS)
        self.ltr = None
        self._encoded: dict[str, np.ndarray] = {}
        n = len(catalog)
        self.pop = np.zeros(n)
        self.popall = np.zeros(n)
        self.yearpop = np.zeros(n)
        self.comention = sparse.csr_matrix((n, n))
        self.years = np.array([it.year or 0 for it in catalog.items])
        self.genre_sets = [set(it.genres) for it in catalog.items]
        names = sorted({g for it in catalog.items for g in it.genres})
        index = {g: j for j, g in enumerate(names)}
        self.genre_matrix = np.zeros((n, max(1, len(names))), dtype=np.float32)
        for r, it in enumerate(catalog.items):
            for g in it.genres:
                self.genre_matrix[r, index[g]] = 1.0
        norms = np.linalg.norm(self.genre_matrix, axis=1, keepdims=True)
        self.genre_unit = self.genre_matrix / np.maximum(norms, 1e-9)

    def fit_dialogues(self, mentions_per_dialogue: Sequence[Sequence[int]], recommended: Sequence[Sequence[int]]) -> "DialogueRecommender":
        """Popularity from recommenders' mentions (and everyone's); co-mention cosine from each dialogue's set."""
        n = len(self.catalog)
        rec_counts = np.bincount([r for rows in recommended for r in rows], minlength=n).astype(np.float64)
        self.pop = np.log1p(rec_counts)
        self.popall = np.log1p(np.bincount([r for rows in mentions_per_dialogue for r in rows], minlength=n).astype(np.float64))
        bucket = np.clip(self.years, 1900, 2030) - 1900
        per_year = np.bincount(bucket, weights=rec_counts, minlength=131)
        movies = np.bincount(bucket, minlength=131)
        self.yearpop = np.log((per_year[bucket] + 0.5) / (movies[bucket] + 1.0))
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
        self.comention = (sparse.diags(1 / norm) @ C @ sparse.diags(1 / norm)).tocsr()
        return self

    @staticmethod
    def _texts(ctx: DialogueContext) -> list[str]:
        return [t.strip()[-500:] for t in (ctx.seeker_text, ctx.recent_text)]

    def encode_contexts(self, contexts: Sequence[DialogueContext], max_cached: int = 50_000) -> None:
        """Encode the texts of many dialogue states in batches (much faster than one by one on CPU) and keep
        them for ``signals``. An evaluation calls this once for all its cases."""
        todo = list(dict.fromkeys(t for ctx in contexts for t in self._texts(ctx) if t and t not in self._encoded))
        if len(self._encoded) + len(todo) > max_cached:
            self._encoded.clear()
        if todo:
            self._encoded.update(zip(todo, self.encoder.encode(todo)))

    def _ml_scores(self, rows: Sequence[int], values: Sequence[float]) -> np.ndarray | None:
        """EASE fold-in from a few movies: the weighted sum of their rows of B (what ``x @ B`` computes)."""
        model, col = self.ml_cf.model, self.ml_cf.col
        picked = {int(col[r]): v for r, v in zip(rows, values) if col[r] >= 0 and v}
        if not picked:
            return None
        ml = np.asarray(list(picked.values()), dtype=np.float32) @ model.B[list(picked)]
        return np.where(col >= 0, ml[np.maximum(col, 0)], 0.0)

    def signals(self, ctx: DialogueContext) -> dict[str, np.ndarray]:
        n = len(self.catalog)
        out = {"pop": self.pop, "popall": self.popall, "yearpop": self.yearpop,
               "year": np.where(self.years > 0, self.years, np.median(self.years)).astype(np.float64)}
        if self.ml_cf is not None:
            out["mlpop"], out["recent"] = self.ml_cf.pop, self.ml_cf.recent
        liked, disliked = set(ctx.liked), set(ctx.disliked)
        positive = [r for r in ctx.mentioned if r not in disliked]
        if positive:
            weight = np.array([2.0 if r in liked else 1.0 for r in positive])
            out["comention"] = np.asarray(self.comention[positive].T @ weight).ravel()
            sims = self.vectors @ self.vectors[positive].T
            out["simitem"] = sims @ weight / weight.sum()
            out["simmax"] = sims.max(axis=1)
            out["simlast"] = sims[:, -1]
            profile = (self.genre_matrix[positive] * weight[:, None]).sum(axis=0)
            if profile.any():
                out["gprof"] = self.genre_unit @ (profile / np.linalg.norm(profile))
            if self.ml_cf is not None:
                cf = self._ml_scores(positive, [1.0 if r in liked else 0.6 for r in positive])
                if cf is not None:
                    out["cf"] = cf
                last = self._ml_scores(positive[-1:], [1.0])
                if last is not None:
                    out["cf_last"] = last
        if disliked:
            out["simdis"] = (self.vectors @ self.vectors[sorted(disliked)].T).max(axis=1)
        text, recent = self._texts(ctx)
        self.encode_contexts([ctx])                                 # no-op when already encoded
        for name, t in (("sem", text), ("sem_all", recent)):
            if t:
                out[name] = self.vectors @ self._encoded[t]
        if text:
            intent = self.parser.parse(text[-600:])
            if intent.wanted_genres or intent.unwanted_genres:
                want, unwanted = set(intent.wanted_genres), set(intent.unwanted_genres)
                out["genre"] = np.array([len(want & g) / max(1, len(want)) - float(bool(unwanted & g)) for g in self.genre_sets])
            if intent.year_min or intent.year_max:
                lo, hi = intent.year_min or 0, intent.year_max or 9999
                out["era"] = ((self.years >= lo) & (self.years <= hi)).astype(np.float64)
        return {k: np.asarray(v, dtype=np.float64) for k, v in out.items() if len(v) == n}

    def linear(self, Z: np.ndarray, weights: dict[str, float] | None = None) -> np.ndarray:
        weights = weights or self.weights
        w = np.array([weights.get(name, 0.0) for name in SIGNALS], dtype=np.float32)
        return w @ Z

    def linear_top(self, Z: np.ndarray, ctx: DialogueContext, depth: int,
                   weights: dict[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The linear score (mentioned movies at -inf) and its ``depth`` best rows, best first."""
        score = self.linear(Z, weights).astype(np.float64)
        if ctx.mentioned:
            score[np.asarray(ctx.mentioned)] = -np.inf
        return score, _top(score, depth)

    def ltr_features(self, Z: np.ndarray, sig: dict[str, np.ndarray], linear: np.ndarray, candidates: np.ndarray,
                     n_mentioned: int) -> np.ndarray:
        """Per candidate: its standardised signals, raw popularity and year, the dialogue's mention count,
        and its linear rank and score."""
        zeros = np.zeros(len(self.catalog))
        raw = [sig.get(name, zeros)[candidates] for name in ("pop", "popall", "mlpop", "recent", "year")]
        return np.column_stack([Z[:, candidates].T, *raw, np.full(len(candidates), float(n_mentioned)),
                                np.arange(len(candidates), dtype=np.float64), linear[candidates]])

    def rank(self, ctx: DialogueContext, k: int = 50, sig: dict[str, np.ndarray] | None = None,
             weights: dict[str, float] | None = None, use_ltr: bool = True) -> np.ndarray:
        sig = sig if sig is not None else self.signals(ctx)
        Z = signal_matrix(sig, len(self.catalog))
        score, top = self.linear_top(Z, ctx, LTR_CANDIDATES if (self.ltr is not None and use_ltr) else k, weights)
        if self.ltr is not None and use_ltr and len(top):
            tree = self.ltr.predict(self.ltr_features(Z, sig, score, top, len(ctx.mentioned)))
            order = np.lexsort((np.arange(len(top)), -tree))        # ties keep the linear order
            top = top[order]
        return top[:k]


def _top(score: np.ndarray, depth: int) -> np.ndarray:
    """The ``depth`` best rows by ``score`` (excluded rows, at -inf, never), best first."""
    depth = min(depth, int(np.isfinite(score).sum()))
    if depth <= 0:
        return np.zeros(0, dtype=np.int64)
    top = np.argpartition(-score, depth - 1)[:depth] if depth < len(score) else np.arange(len(score))
    return top[np.argsort(-score[top], kind="stable")]


def fit_linear(prepared: Sequence[tuple[np.ndarray, np.ndarray, int]], l2: float = 0.01,
               max_iter: int = 100) -> dict[str, float]:
    """Weights of the linear stage: softmax over the catalog of ``w @ Z`` with the target as the label.

    ``prepared``: per case ``(Z, excluded rows, target row)``. Deterministic (full-batch L-BFGS from zero)."""
    import torch

    if not prepared:
        return dict(DEFAULT_WEIGHTS)
    Z = torch.from_numpy(np.stack([z for z, _, _ in prepared]))
    mask = torch.zeros(Z.shape[0], Z.shape[2], dtype=torch.bool)
    for i, (_, excluded, _) in enumerate(prepared):
        if len(excluded):
            mask[i, torch.as_tensor(np.asarray(excluded), dtype=torch.long)] = True
    y = torch.tensor([t for _, _, t in prepared], dtype=torch.long)
    w = torch.zeros(len(SIGNALS), requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        s = torch.einsum("cfn,f->cn", Z, w).masked_fill(mask, -1e9)
        loss = torch.nn.functional.cross_entropy(s, y) + l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return {name: round(float(v), 4) for name, v in zip(SIGNALS, w.detach().numpy())}


def fit_ltr(rec: DialogueRecommender, cases: Sequence[tuple[dict, DialogueContext, int]]):
    """The LambdaRank stage, trained on the linear top ``LTR_CANDIDATES`` of each case (``(signals, context,
    target)``) whose target is among them. Returns ``None`` when too few cases qualify."""
    import lightgbm

    X, labels, groups = [], [], []
    for sig, ctx, target in cases:
        Z = signal_matrix(sig, len(rec.catalog))
        score, top = rec.linear_top(Z, ctx, LTR_CANDIDATES)
        if target not in top:
            continue
        X.append(rec.ltr_features(Z, sig, score, top, len(ctx.mentioned)))
        labels.append((top == target).astype(int))
        groups.append(len(top))
    if len(groups) < 20:
        return None
    return lightgbm.LGBMRanker(**LTR_PARAMS).fit(np.vstack(X), np.concatenate(labels), group=groups)
