"""The ranking signals, defined once: the chat, every evaluation and the fitting of the fusion weights
read them through ``Recommender.rank`` / ``Recommender.signal_matrix``.

Each signal is a named function ``(inputs, candidate rows) -> float array | None``; ``None`` means the
catalog or the request lacks it (no CF data, no dialogue statistics, no reference items, ...), and a
missing signal is left out (it reads as 0 after standardisation), never faked. Signals are standardised
(z-scored) over the candidate rows and fused by weights fitted on data (``recommender.fusion``).

Each signal, what it measures (higher = more recommended) and what it needs:

* ``sem``: MiniLM cosine of the item text with the query built from the intent (genres, mood, keywords, era)
  [needs: an intent with text aspects]
* ``words``: MiniLM cosine of the item text with the person's own recent words (titles as typed) [needs: messages
  in the session]
* ``dialogue``: the same with both sides' recent messages (the assistant's questions and answers too) [needs:
  messages in the session]
* ``ref_mean``: mean MiniLM item-item cosine with the referenced / liked items (liked x2) [needs: references]
* ``ref_max``: max item-item cosine with them [needs: references]
* ``ref_last``: item-item cosine with the latest one [needs: references]
* ``disliked``: max item-item cosine with the disliked items (the fitted weight sets the direction) [needs:
  dislikes]
* ``genre_profile``: cosine of the item's genres with the genre profile of the referenced / liked items [needs:
  genres, references]
* ``ref_year``: minus the distance in years from the median year of the referenced / liked items [needs: years,
  references]
* ``cf``: rating-weighted EASE (the sparse item-kNN on a large catalog, ``models.cf.make_cf``) folded in from the
  history (rating/5), likes (1.0) and references (0.6) [needs: CF data]
* ``cf_last``: EASE folded in from the latest reference alone [needs: CF data, references]
* ``cf_up``: EASE folded in from the films given 👍 in this session (1.0 each): what people who liked those also
  liked. A real person's 👍 says what they like, not only how close a film is to the one they want [needs: CF
  data, a 👍 in the session]
* ``user``: cosine of the item with the session's 👍/👎 user vector (online logistic update) [needs: feedback]
* ``pop``: log(1 + interactions), or recommender mentions in a dialogue corpus [needs: interactions]
* ``mentions``: log(1 + mentions by anyone) in a dialogue corpus [needs: dialogue statistics]
* ``year_pop``: how often films of the item's release year are recommended, per film of that year [needs: dialogue
  statistics, years]
* ``comention``: cosine co-mention with the referenced items in the training dialogues (liked x2) [needs: dialogue
  statistics]
* ``asked``: what recommenders suggested after words like these: over the ``ASKED_K`` (10) recorded seeker requests
  (the seeker's recent words just before a recommender's first mention of a film, in the dialogue corpus) most
  similar to the person's recent words (MiniLM cosine), the summed positive cosine of those whose film is the item
  [needs: a dialogue corpus, messages in the session]
* ``asked_wide``: the same over the ``ASKED_WIDE_K`` (100) most similar requests: the sharp and the broad reading,
  for the tree stage to weigh [needs: as ``asked``]
* ``ext_pop``: log(1 + ratings) in the external CF source [needs: external CF source]
* ``ext_recent``: the same over the source's last three years [needs: external CF source]
* ``year``: the release year [needs: years]
* ``genre``: share of the wanted genres the item has, minus 1 when it has an unwanted one [needs: genres in the
  intent]
* ``era``: 1 inside the requested era [needs: an era in the intent]
* ``mood``: +1 / -1 when the item's genres lean towards / away from the requested mood [needs: a mood]
* ``unwanted_keyword``: 1 when the item text contains a word the person does not want [needs: unwanted keywords]
* ``feedback``: how well the item, taken as the film the person is after, explains their 👍/👎: the log-likelihood of
  each 👍 and 👎 given it, from the learned ``JudgementModel`` (a table over the item-item cosine and the genre
  overlap, fitted on judgements by ``chat-rec train feedback``), else logistic in the cosine (threshold
  ``Request.feedback_tau``, slope ``FEEDBACK_SLOPE``) [needs: 👍/👎 in the session]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy import sparse

from chat_rec.catalog import Catalog
from chat_rec.models.cf import EASE
from chat_rec.recommender.intent import MOOD_GENRES, Intent


@dataclass
class SideData:
    """Catalog-wide statistics some signals read; each is optional.

    ``cf_col`` maps catalog rows to the CF model's columns (-1: not in the CF data); ``None`` means the CF
    model was fitted on this catalog's own interactions (row = column)."""

    popularity: np.ndarray | None = None
    mentions: np.ndarray | None = None
    year_popularity: np.ndarray | None = None
    comention: sparse.csr_matrix | None = None
    cf: EASE | None = None
    cf_col: np.ndarray | None = None
    ext_popularity: np.ndarray | None = None
    ext_recent: np.ndarray | None = None
    asked_vectors: np.ndarray | None = None  # (m, d): recorded seeker requests, encoded (``side.asked_contexts``)
    asked_rows: np.ndarray | None = None  # (m,): the film a recommender then suggested, as a catalog row


@dataclass
class CatalogFeatures:
    """What the signals read about the items, computed once per catalog."""

    catalog: Catalog
    vectors: np.ndarray
    side: SideData
    lower_texts: list[str]
    years: np.ndarray  # 0 where unknown
    genre_unit: np.ndarray  # rows: unit-norm genre indicator vectors
    genre_names: list[str]

    @classmethod
    def build(cls, catalog: Catalog, vectors: np.ndarray, side: SideData, texts: list[str]) -> CatalogFeatures:
        names = sorted({g for it in catalog.items for g in it.genres if g and g.lower() != "unknown"})
        index = {g: j for j, g in enumerate(names)}
        matrix = np.zeros((len(catalog), max(1, len(names))), dtype=np.float32)
        for r, it in enumerate(catalog.items):
            for g in it.genres:
                if g in index:
                    matrix[r, index[g]] = 1.0
        unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)
        years = np.array([it.year or 0 for it in catalog.items], dtype=np.float64)
        return cls(
            catalog, np.asarray(vectors, dtype=np.float32), side, [t.lower() for t in texts], years, unit, names
        )

    @cached_property
    def genre_sets(self) -> np.ndarray:
        """Rows: 0/1 genre indicator vectors (float32)."""
        return (self.genre_unit > 0).astype(np.float32)

    @cached_property
    def genre_counts(self) -> np.ndarray:
        """How many genres each item has (float32)."""
        return self.genre_sets.sum(axis=1)

    def genre_jaccard(self, a: np.ndarray, b) -> np.ndarray:
        """``(len(a), len(b))``: the Jaccard overlap of the rows' genre sets (0 where either has none)."""
        G = self.genre_sets
        inter = G[a] @ G[b].T
        union = self.genre_counts[a][:, None] + self.genre_counts[b][None, :] - inter
        return np.where(union > 0, inter / np.maximum(union, 1.0), 0.0)

    @cached_property
    def filled_years(self) -> np.ndarray | None:
        """Release years, the catalog's median where unknown (None when no year is known); computed once."""
        known = self.years > 0
        return np.where(known, self.years, np.median(self.years[known])) if known.any() else None


@dataclass(frozen=True)
class JudgementModel:
    """P(👍 | a judged item, the film the person is after), learned from judgements: a table over the two
    items' MiniLM cosine (bins of ``COS_STEP``) and the Jaccard overlap of their genres (tenths), each cell
    smoothed towards its cosine bin's rate. A catalog without genres has overlap 0 throughout: the table is
    then a function of the cosine alone."""

    p_up: np.ndarray  # (len(cos_edges) + 1, JACCARD_BINS)
    cos_edges: np.ndarray

    COS_STEP = 0.05
    JACCARD_BINS = 11
    #: pseudo-judgements pulling a cell towards its cosine bin's rate (and a bin towards the overall rate)
    PRIOR = 5.0
    #: no judgement is certain: the probabilities stay within [CLIP, 1 - CLIP]
    CLIP = 0.02

    def prob(self, cos: np.ndarray, jaccard: np.ndarray) -> np.ndarray:
        return self.p_up[self._cells(self.cos_edges, cos, jaccard)]

    @classmethod
    def _cells(cls, edges: np.ndarray, cos, jaccard) -> tuple[np.ndarray, np.ndarray]:
        """The table cells (cosine bin, overlap tenth) of pairs: one binning for fitting and reading."""
        j = np.clip(np.rint(np.asarray(jaccard) * (cls.JACCARD_BINS - 1)).astype(np.int64), 0, cls.JACCARD_BINS - 1)
        return np.digitize(cos, edges), j

    @classmethod
    def fit(cls, cos: np.ndarray, jaccard: np.ndarray, up: np.ndarray) -> JudgementModel:
        """From judgements: the pair's cosine and genre overlap, and whether it got a 👍. The rate never falls
        as the cosine rises (isotonic in each overlap column): a closer film is never a less likely 👍, and a
        cosine bin without judgements takes the rate of the nearest one below it."""
        edges = np.round(np.arange(-0.2, 1.0 + 1e-9, cls.COS_STEP), 4)
        up = np.asarray(up, dtype=np.float64)
        if not len(up):
            raise ValueError("no judgements to fit a judgement model on")
        cells = cls._cells(edges, cos, jaccard)
        shape = (len(edges) + 1, cls.JACCARD_BINS)
        n, k = np.zeros(shape), np.zeros(shape)
        np.add.at(n, cells, 1.0)
        np.add.at(k, cells, up)
        rows = n.sum(1)
        row_rate = _increasing(
            _carried(np.divide(k.sum(1), rows, out=np.zeros(len(rows)), where=rows > 0), rows), rows
        )
        p = (k + cls.PRIOR * row_rate[:, None]) / (n + cls.PRIOR)
        p = np.column_stack([_increasing(p[:, c], n[:, c] + cls.PRIOR) for c in range(shape[1])])
        return cls(np.clip(p, cls.CLIP, 1 - cls.CLIP), edges)

    def to_json(self) -> dict:
        return {
            "cos_edges": [float(x) for x in self.cos_edges],
            "p_up": [[round(float(x), 4) for x in row] for row in self.p_up],
        }

    @classmethod
    def from_json(cls, data: dict) -> JudgementModel:
        """Raises ValueError on a malformed table (edges not a finite increasing list, a table not of
        their shape, probabilities outside [CLIP, 1 - CLIP])."""
        try:
            edges = np.asarray(data["cos_edges"], dtype=np.float64)
            p = np.asarray(data["p_up"], dtype=np.float64)
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"judgement table unreadable: {exc}") from None
        if edges.ndim != 1 or not len(edges) or not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
            raise ValueError("judgement table: cos_edges must be a finite, strictly increasing list")
        if p.shape != (len(edges) + 1, cls.JACCARD_BINS) or not np.all(
            (p >= cls.CLIP - 1e-9) & (p <= 1 - cls.CLIP + 1e-9)
        ):
            raise ValueError(
                f"judgement table of shape {p.shape}, expected ({len(edges) + 1}, {cls.JACCARD_BINS}) "
                f"with probabilities in [{cls.CLIP}, {1 - cls.CLIP}]"
            )
        return cls(p, edges)


def _carried(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Entries of weight 0 take the value of the nearest weighted entry before them (after them at the start)."""
    out, have = np.array(values, dtype=np.float64), np.flatnonzero(weights > 0)
    if not len(have):
        return out
    for x in range(len(out)):
        before = have[have <= x]
        out[x] = out[before[-1]] if len(before) else out[have[0]]
    return out


def _increasing(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted least-squares non-decreasing fit (pool adjacent violators); weight-0 entries count as tiny."""
    blocks: list[list[float]] = []  # [mean, weight, length]
    for v, w in zip(np.asarray(values, dtype=np.float64), np.maximum(np.asarray(weights, dtype=np.float64), 1e-9)):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (m2, w2, l2), (m1, w1, l1) = blocks.pop(), blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, l1 + l2])
    return np.concatenate([np.full(length, mean) for mean, _, length in blocks])


@dataclass
class Request:
    """One ranking request, as the signals see it."""

    intent: Intent
    query_vector: np.ndarray | None = None  # the intent's semantic query, encoded
    words_vector: np.ndarray | None = None  # the person's recent words, encoded
    references: list[int] = field(default_factory=list)  # rows, in the order they came up (liked included)
    liked: set[int] = field(default_factory=set)
    disliked: list[int] = field(default_factory=list)
    history_rows: list[int] = field(default_factory=list)
    history_ratings: list[float] = field(default_factory=list)
    user_vector: np.ndarray | None = None
    dialogue_vector: np.ndarray | None = None  # both sides' recent words, encoded (None: same as words)
    feedback_up: list[int] = field(default_factory=list)  # rows given 👍 in this session (effective value)
    feedback_down: list[int] = field(default_factory=list)  # rows given 👎
    feedback_tau: float = 0.4  # the cosine at which a 👍 and a 👎 are equally likely (fitted)
    feedback_model: JudgementModel | None = None  # the learned P(👍 | item, wanted film); None: logistic in tau


#: How sharply the ``feedback`` signal's likelihood turns around ``Request.feedback_tau`` (cosine units).
FEEDBACK_SLOPE = 10.0
#: ``Request.feedback_tau`` when no fitted threshold is at hand.
FEEDBACK_TAU = Request.feedback_tau


Signal = Callable[[CatalogFeatures, Request, np.ndarray], "np.ndarray | None"]


def sem(f: CatalogFeatures, r: Request, cand: np.ndarray):
    return None if r.query_vector is None else f.vectors[cand] @ r.query_vector


def words(f: CatalogFeatures, r: Request, cand: np.ndarray):
    return None if r.words_vector is None else f.vectors[cand] @ r.words_vector


def dialogue(f: CatalogFeatures, r: Request, cand: np.ndarray):
    vec = r.dialogue_vector if r.dialogue_vector is not None else r.words_vector
    return None if vec is None else f.vectors[cand] @ vec


def _positive_refs(r: Request) -> tuple[list[int], np.ndarray]:
    bad = set(r.disliked)
    refs = [x for x in dict.fromkeys(r.references) if x not in bad]
    return refs, np.array([2.0 if x in r.liked else 1.0 for x in refs])


def _ref_sims(f: CatalogFeatures, r: Request, cand: np.ndarray):
    refs, weight = _positive_refs(r)
    if not refs:
        return None, None
    return f.vectors[cand] @ f.vectors[refs].T, weight


def ref_mean(f, r, cand):
    sims, weight = _ref_sims(f, r, cand)
    return None if sims is None else sims @ weight / weight.sum()


def ref_max(f, r, cand):
    sims, _ = _ref_sims(f, r, cand)
    return None if sims is None else sims.max(axis=1)


def ref_last(f, r, cand):
    sims, _ = _ref_sims(f, r, cand)
    return None if sims is None else sims[:, -1]


def disliked(f, r, cand):
    if not r.disliked:
        return None
    return (f.vectors[cand] @ f.vectors[list(dict.fromkeys(r.disliked))].T).max(axis=1)


def genre_profile(f, r, cand):
    refs, weight = _positive_refs(r)
    if not refs or not f.genre_names:
        return None
    profile = (f.genre_unit[refs] * weight[:, None]).sum(axis=0)
    norm = float(np.linalg.norm(profile))
    return None if norm < 1e-9 else f.genre_unit[cand] @ (profile / norm)


def ref_year(f, r, cand):
    refs, _ = _positive_refs(r)
    years = [f.years[x] for x in refs if f.years[x] > 0]
    filled = f.filled_years
    return None if not years or filled is None else -np.abs(filled[cand] - float(np.median(years)))


def _picked(f: CatalogFeatures, rows: list[int], values: list[float]) -> dict[int, float]:
    """CF columns and summed weights of a few weighted catalog rows (rows outside the CF data dropped)."""
    col = f.side.cf_col
    picked: dict[int, float] = {}
    for row, v in zip(rows, values):
        c = int(row if col is None else col[row])
        if c >= 0 and v:
            picked[c] = picked.get(c, 0.0) + float(v)
    return picked


def fold_in(f: CatalogFeatures, rows: list[int], values: list[float], cand: np.ndarray) -> np.ndarray | None:
    """CF scores of the candidates from a few weighted rows: the weighted sum of their rows of the item-item
    matrix (EASE's dense ``B`` or the item-kNN's sparse one; ``models.cf``)."""
    side = f.side
    if side.cf is None:
        return None
    picked = _picked(f, rows, values)
    if not picked:
        return None
    scores = side.cf.fold_in(list(picked), list(picked.values()))
    col = side.cf_col
    if col is None:
        return scores[cand].astype(np.float64)
    cc = col[cand]
    return np.where(cc >= 0, scores[np.maximum(cc, 0)], 0.0).astype(np.float64)


def cf_inputs(r: Request) -> tuple[list[int], list[float]]:
    """The rows and weights the ``cf`` signal folds in: the history (rating / 5), likes (1.0), references (0.6)."""
    rows = list(r.history_rows)
    values = [x / 5.0 for x in r.history_ratings]
    refs, _ = _positive_refs(r)
    for x in refs:
        rows.append(x)
        values.append(1.0 if x in r.liked else 0.6)
    return rows, values


def cf_top(f: CatalogFeatures, r: Request, allowed: np.ndarray, n: int) -> np.ndarray:
    """Up to ``n`` allowed rows with the highest ``cf`` score, for retrieval. A sparse model (the item-kNN on
    the catalog's own data) reads only the history's neighbours; EASE scores every allowed row."""
    cf_model = f.side.cf
    if cf_model is None:
        return np.zeros(0, dtype=np.int64)
    rows, values = cf_inputs(r)
    picked = _picked(f, rows, values)
    if not picked:
        return np.zeros(0, dtype=np.int64)
    if f.side.cf_col is None and hasattr(cf_model, "neighbours"):
        found, scores = cf_model.neighbours(list(picked), list(picked.values()))
        keep = allowed[found] & (scores > 0)
        found, scores = found[keep], scores[keep]
        return found[np.argsort(-scores, kind="stable")[:n]]
    rows_ok = np.flatnonzero(allowed)
    scores = fold_in(f, rows, values, rows_ok)
    if len(rows_ok) > n:
        top = np.argpartition(-scores, n - 1)[:n]
        return rows_ok[top[np.argsort(-scores[top], kind="stable")]]
    return rows_ok[np.argsort(-scores, kind="stable")]


def cf(f, r, cand):
    rows, values = cf_inputs(r)
    return fold_in(f, rows, values, cand)


def cf_last(f, r, cand):
    refs, _ = _positive_refs(r)
    return fold_in(f, refs[-1:], [1.0], cand) if refs else None


def cf_up(f, r, cand):
    return fold_in(f, list(r.feedback_up), [1.0] * len(r.feedback_up), cand) if r.feedback_up else None


def user(f, r, cand):
    u = r.user_vector
    if u is None or float(np.linalg.norm(u)) < 1e-6:
        return None
    return f.vectors[cand] @ (u / np.linalg.norm(u)).astype(np.float32)


def feedback(f, r, cand):
    """Sum over the session's 👍 rows of log P(👍 | the item is what they want), and likewise for the 👎 rows,
    with P(👍) from the learned ``Request.feedback_model`` (cosine and genre overlap), else
    sigmoid(FEEDBACK_SLOPE * (cosine - feedback_tau)): a film close to every 👍'd one and far from every 👎'd
    one explains the person's judgements best."""
    up, down = r.feedback_up, r.feedback_down
    if not up and not down:
        return None
    items = f.vectors[cand].astype(np.float64)
    out = np.zeros(len(cand))
    if r.feedback_model is not None:
        for rows, liked in ((up, True), (down, False)):
            if rows:
                p = r.feedback_model.prob(items @ f.vectors[rows].T.astype(np.float64), f.genre_jaccard(cand, rows))
                out += np.log(p if liked else 1.0 - p).sum(axis=1)
        return out
    if up:
        out -= np.logaddexp(0.0, -FEEDBACK_SLOPE * (items @ f.vectors[up].T.astype(np.float64) - r.feedback_tau)).sum(
            axis=1
        )
    if down:
        out -= np.logaddexp(0.0, FEEDBACK_SLOPE * (items @ f.vectors[down].T.astype(np.float64) - r.feedback_tau)).sum(
            axis=1
        )
    return out


def _side(name: str) -> Signal:
    def signal(f, r, cand):
        values = getattr(f.side, name)
        return None if values is None else values[cand]

    return signal


pop, mentions, year_pop = _side("popularity"), _side("mentions"), _side("year_popularity")
ext_pop, ext_recent = _side("ext_popularity"), _side("ext_recent")


def comention(f, r, cand):
    refs, weight = _positive_refs(r)
    if f.side.comention is None or not refs:
        return None
    return np.asarray(f.side.comention[refs].T @ weight).ravel()[cand]


#: How many of the most similar recorded requests the ``asked`` and ``asked_wide`` signals read.
ASKED_K, ASKED_WIDE_K = 10, 100


def asked(f, r, cand, k: int = ASKED_K):
    V, films = f.side.asked_vectors, f.side.asked_rows
    if V is None or films is None or not len(V) or r.words_vector is None:
        return None
    s = V @ np.asarray(r.words_vector, dtype=V.dtype)
    k = min(k, len(s))
    top = np.argpartition(-s, k - 1)[:k]
    rows, inverse = np.unique(films[top], return_inverse=True)
    sums = np.bincount(inverse, weights=np.maximum(s[top], 0.0).astype(np.float64), minlength=len(rows))
    at = np.minimum(np.searchsorted(rows, cand), len(rows) - 1)
    return np.where(rows[at] == cand, sums[at], 0.0)


def asked_wide(f, r, cand):
    return asked(f, r, cand, ASKED_WIDE_K)


#: The signals that read the encoded recorded requests (``SideData.asked_vectors``).
ASKED_SIGNALS = ("asked", "asked_wide")


def year(f, r, cand):
    return None if f.filled_years is None else f.filled_years[cand]


def _genre_columns(f: CatalogFeatures, names) -> list[int]:
    index = {g: j for j, g in enumerate(f.genre_names)}
    return [index[g] for g in names if g in index]


def genre(f, r, cand):
    want, unwanted = set(r.intent.wanted_genres), set(r.intent.unwanted_genres)
    if (not want and not unwanted) or not f.genre_names:
        return None
    G = f.genre_sets[cand]
    has = G[:, _genre_columns(f, want)].sum(axis=1) / max(1, len(want))
    bad = G[:, _genre_columns(f, unwanted)].any(axis=1)
    return has.astype(np.float64) - bad


def era(f, r, cand):
    lo, hi = r.intent.year_min, r.intent.year_max
    if (lo is None and hi is None) or not (f.years > 0).any():
        return None
    y = f.years[cand]
    return ((y >= (lo or 0)) & (y <= (hi or 9999)) & (y > 0)).astype(np.float64)


def mood(f, r, cand):
    if r.intent.mood not in MOOD_GENRES or not f.genre_names:
        return None
    plus, minus = MOOD_GENRES[r.intent.mood]
    G = f.genre_sets[cand]
    return G[:, _genre_columns(f, plus)].any(axis=1).astype(np.float64) - G[:, _genre_columns(f, minus)].any(axis=1)


def unwanted_keyword(f, r, cand):
    kws = r.intent.unwanted_keywords
    if not kws:
        return None
    return np.array([float(any(kw in f.lower_texts[x] for kw in kws)) for x in cand])


#: Every signal, in the fixed order of the signal matrix and the weight vectors.
SIGNALS: dict[str, Signal] = {
    "sem": sem,
    "words": words,
    "dialogue": dialogue,
    "ref_mean": ref_mean,
    "ref_max": ref_max,
    "ref_last": ref_last,
    "disliked": disliked,
    "genre_profile": genre_profile,
    "ref_year": ref_year,
    "cf": cf,
    "cf_last": cf_last,
    "cf_up": cf_up,
    "user": user,
    "pop": pop,
    "mentions": mentions,
    "year_pop": year_pop,
    "comention": comention,
    "asked": asked,
    "asked_wide": asked_wide,
    "ext_pop": ext_pop,
    "ext_recent": ext_recent,
    "year": year,
    "genre": genre,
    "era": era,
    "mood": mood,
    "unwanted_keyword": unwanted_keyword,
    "feedback": feedback,
}
NAMES: tuple[str, ...] = tuple(SIGNALS)


def zscore(a: np.ndarray) -> np.ndarray:
    """Standardised to mean 0 and standard deviation 1 (all zeros when constant)."""
    a = np.asarray(a, dtype=np.float64)
    sd = a.std()
    return (a - a.mean()) / sd if sd > 1e-12 else np.zeros_like(a)


def compute(f: CatalogFeatures, r: Request, cand: np.ndarray, names=NAMES) -> dict[str, np.ndarray]:
    """The raw values of the signals this request and catalog have, over the candidate rows."""
    out = {}
    for name in names:
        values = SIGNALS[name](f, r, cand)
        if values is not None:
            out[name] = np.asarray(values, dtype=np.float64)
    return out


def matrix(raw: dict[str, np.ndarray], n: int) -> np.ndarray:
    """``(len(NAMES), n)`` float32: each present signal standardised over the candidates, absent ones 0."""
    out = np.zeros((len(NAMES), n), dtype=np.float32)
    for j, name in enumerate(NAMES):
        if name in raw:
            out[j] = zscore(raw[name])
    return out
