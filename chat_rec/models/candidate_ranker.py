"""A gradient-boosted re-ranker of a CF model's top candidates from interaction-side evidence.

For each (user, candidate) it reads what the interactions say beyond the CF score: the CF scores of
three models (rating-weighted EASE, the candidates' own order; binary EASE; item-kNN cosine), the
item's popularity and rating statistics, how the item fared in the weeks the user was active, in the
user's age band and gender and in their occupation, the overlap of its genres with the user's history,
its release year against the user's usual years, and the user's mean rating. Users without a profile
or catalogs without genres, years or timestamps simply give constant columns.

Training (``CandidateRanker.fit``) reads one ``Interactions`` only (the train part of an evaluation
split): ``n_folds`` seeded 90/10 splits of it give (features from the 90 %, label = the held-out event
rated >= 4) groups over the rating-weighted EASE top ``n_candidates``, and a LightGBM binary model is fit
on them. Ninety per cent keeps the statistics close to what the model meets when scoring from the whole
part (an 80/20 fold shifted them enough to lose to plain EASE on the validation slice).

    >>> ranker = CandidateRanker().fit(train)                                   # doctest: +SKIP
    >>> groups = ranker.candidates(train, users)  # {user row: (candidate rows, features)}  # doctest: +SKIP
    >>> ranker.score(groups[u][1])                                              # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from ..catalog import Interactions
from ..datasets.splits import relevant_sets, split_per_user
from .cf import EASE, top_k, user_item_matrix

FEATURES = ("cf_z", "cf_rank", "ease_binary_z", "knn_z", "log_popularity", "item_mean_rating", "item_rating_std",
            "item_share_high", "user_mean_rating", "days_since_item_first", "days_from_item_median",
            "weeks_popularity", "demographic_popularity", "occupation_popularity", "genre_overlap", "year",
            "year_vs_history")
DAY = 86400.0
WINDOW_DAYS = 14


@dataclass(frozen=True)
class CandidateRankerConfig:
    n_candidates: int = 20
    cf_lambda: float = 100.0          # rating-weighted EASE (the candidate generator)
    binary_lambda: float = 500.0
    n_folds: int = 10
    fold_fraction: float = 0.1
    seed: int = 100
    learning_rate: float = 0.02
    n_estimators: int = 600
    num_leaves: int = 7
    min_child_samples: int = 1000
    reg_lambda: float = 10.0


def _zscore(a: np.ndarray) -> np.ndarray:
    return (a - a.mean()) / (a.std() + 1e-9)


def _group_median(keys: np.ndarray, values: np.ndarray, n: int, default: float) -> np.ndarray:
    out = np.full(n, default, dtype=np.float64)
    order = np.lexsort((values, keys))
    k, v = keys[order], values[order]
    starts = np.searchsorted(k, np.arange(n))
    ends = np.searchsorted(k, np.arange(n), side="right")
    has = ends > starts
    lo = (starts + (ends - starts - 1) // 2)[has]
    hi = (starts + (ends - starts) // 2)[has]
    out[has] = (v[lo] + v[hi]) / 2.0
    return out


def _user_groups(interactions: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """(age band x gender, occupation) index per user row; one group when profiles are missing."""
    profiles = [interactions.users.get(uid, {}) or {} for uid in interactions.user_ids]
    ages = []
    for p in profiles:
        try:
            ages.append(int(p.get("age")))
        except (TypeError, ValueError):
            ages.append(-1)
    band = np.digitize(np.asarray(ages), [0, 18, 25, 35, 45, 56])
    gender = np.array([{"F": 1, "M": 2}.get(str(p.get("gender", "")).upper(), 0) for p in profiles])
    occupations = [str(p.get("occupation", "")) for p in profiles]
    names = sorted(set(occupations))
    return band * 3 + gender, np.array([names.index(o) for o in occupations], dtype=np.int64)


class _Statistics:
    """Everything the features need from one ``Interactions`` (fitted once, then per-user lookups)."""

    def __init__(self, interactions: Interactions, cfg: CandidateRankerConfig):
        catalog = interactions.catalog
        n = len(catalog)
        self.X_rating = user_item_matrix(interactions, "rating")
        self.X_binary = user_item_matrix(interactions, "binary")
        self.ease = EASE(cfg.cf_lambda, "rating").fit_matrix(self.X_rating)
        self.ease_binary = EASE(cfg.binary_lambda, "binary").fit_matrix(self.X_binary)
        count = np.asarray(self.X_binary.sum(0)).ravel().astype(np.float64)
        users, items = interactions.user_rows, interactions.item_rows
        ratings = interactions.ratings.astype(np.float64)
        total = np.bincount(items, weights=ratings, minlength=n)
        mean = ratings.mean() if len(ratings) else 0.0
        self.count = count
        self.item_mean = (total + 10 * mean) / (count + 10)
        squares = np.bincount(items, weights=ratings ** 2, minlength=n)
        seen = np.maximum(count, 1)
        self.item_std = np.sqrt(np.maximum(squares / seen - (total / seen) ** 2, 0.0))
        high_share = float((ratings >= 4).mean()) if len(ratings) else 0.0
        self.item_high = (np.bincount(items, weights=(ratings >= 4).astype(float), minlength=n) + 5 * high_share) / (count + 5)
        user_count = np.bincount(users, minlength=interactions.n_users)
        self.user_mean = np.bincount(users, weights=ratings, minlength=interactions.n_users) / np.maximum(user_count, 1)
        ts = interactions.timestamps.astype(np.float64)
        t_mean = float(ts.mean()) if len(ts) else 0.0
        self.user_median_time = _group_median(users, ts, interactions.n_users, t_mean)
        self.item_first = np.full(n, t_mean)
        if len(ts):
            first = np.full(n, np.inf)
            np.minimum.at(first, items, ts)
            self.item_first = np.where(np.isfinite(first), first, t_mean)
        self.item_median_time = _group_median(items, ts, n, t_mean)
        self.t0 = float(ts.min()) if len(ts) else 0.0
        window = ((ts - self.t0) // (WINDOW_DAYS * DAY)).astype(np.int64) if len(ts) else np.zeros(0, np.int64)
        self.n_windows = int(window.max()) + 1 if len(window) else 1
        W = np.zeros((self.n_windows, n))
        np.add.at(W, (window, items), 1.0)
        W /= np.maximum(W.sum(1, keepdims=True), 1.0)
        self.log_window_lift = np.log(W + 1e-4) - np.log(W.mean(0) + 1e-4)
        share = count / max(interactions.n_users, 1)
        self.group, self.occupation = _user_groups(interactions)
        self.log_group_lift = self._lift(self.group[users], items, self.group, share, n)
        self.log_occupation_lift = self._lift(self.occupation[users], items, self.occupation, share, n)
        genres = sorted({g for it in catalog.items for g in it.genres})
        self.genres = np.zeros((n, max(len(genres), 1)), dtype=np.float64)
        for r, it in enumerate(catalog.items):
            for g in it.genres:
                self.genres[r, genres.index(g)] = 1.0
        years = np.array([it.year or 0 for it in catalog.items], dtype=np.float64)
        self.year = np.where(years > 0, years, np.median(years[years > 0]) if (years > 0).any() else 0.0)
        norm = 1.0 / np.sqrt(np.maximum(count, 1.0))
        Xn = self.X_binary.multiply(norm[None, :]).tocsr()
        self.knn = (Xn.T @ Xn).toarray()
        np.fill_diagonal(self.knn, 0.0)

    @staticmethod
    def _lift(event_groups: np.ndarray, items: np.ndarray, user_groups: np.ndarray, share: np.ndarray, n: int) -> np.ndarray:
        k = int(user_groups.max()) + 1 if len(user_groups) else 1
        M = np.zeros((k, n))
        np.add.at(M, (event_groups, items), 1.0)
        M /= np.maximum(np.bincount(user_groups, minlength=k), 1)[:, None]
        return np.log(M + 1e-3) - np.log(share + 1e-3)[None, :]

    def groups(self, users: Sequence[int], k: int, given: dict[int, np.ndarray] | None = None
               ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        out = {}
        for start in range(0, len(users), 256):
            chunk = list(users[start:start + 256])
            cf = self.ease.score(self.X_rating[chunk].toarray())
            binary = self.ease_binary.score(self.X_binary[chunk].toarray())
            knn = np.asarray(self.X_binary[chunk] @ self.knn)
            for j, u in enumerate(chunk):
                seen = self.X_binary[u].indices
                cand = np.asarray(given[u], dtype=np.int64) if given is not None else top_k(cf[j], k, exclude=seen)
                out[u] = (cand, self.features(u, cand, seen, cf[j, cand], binary[j, cand], knn[j, cand]))
        return out

    def features(self, u: int, cand: np.ndarray, seen: np.ndarray, cf: np.ndarray, binary: np.ndarray,
                 knn: np.ndarray) -> np.ndarray:
        m = len(cand)
        profile = self.genres[seen].mean(0) if len(seen) else np.zeros(self.genres.shape[1])
        overlap = self.genres[cand] @ profile / np.maximum(self.genres[cand].sum(1), 1.0)
        when = self.user_median_time[u]
        window = int(np.clip((when - self.t0) // (WINDOW_DAYS * DAY), 0, self.n_windows - 1))
        usual_year = self.year[seen].mean() if len(seen) else self.year.mean()
        return np.stack([
            _zscore(cf.astype(np.float64)), np.arange(m, dtype=np.float64), _zscore(binary.astype(np.float64)),
            _zscore(knn.astype(np.float64)), np.log1p(self.count[cand]), self.item_mean[cand], self.item_std[cand],
            self.item_high[cand], np.full(m, self.user_mean[u]), (when - self.item_first[cand]) / DAY,
            (when - self.item_median_time[cand]) / DAY, self.log_window_lift[window, cand],
            self.log_group_lift[self.group[u], cand], self.log_occupation_lift[self.occupation[u], cand],
            overlap, self.year[cand], self.year[cand] - usual_year,
        ], axis=1)


class CandidateRanker:
    """Re-orders the rating-weighted EASE top ``n_candidates`` with a LightGBM model (see the module doc)."""

    def __init__(self, cfg: CandidateRankerConfig = CandidateRankerConfig()):
        self.cfg = cfg
        self.model = None
        self.report: dict = {}

    def candidates(self, interactions: Interactions, users: Sequence[int], given: dict[int, np.ndarray] | None = None
                   ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """User row -> (candidate rows, best first; their feature matrix), statistics from ``interactions``.

        The candidates are the rating-weighted EASE top ``n_candidates`` unless ``given`` (user row -> rows)."""
        return _Statistics(interactions, self.cfg).groups(list(users), self.cfg.n_candidates, given)

    def fit(self, interactions: Interactions, progress: bool = False) -> "CandidateRanker":
        import lightgbm as lgb

        cfg = self.cfg
        X, y = [], []
        for fold in tqdm(range(cfg.n_folds), desc="candidate ranker folds", disable=not progress):
            held = split_per_user(interactions, cfg.seed + fold, cfg.fold_fraction)
            relevant = relevant_sets(interactions, held)
            groups = self.candidates(interactions.subset(~held), sorted(relevant))
            for u, (cand, feats) in groups.items():
                X.append(feats)
                y.append(np.fromiter((r in relevant[u] for r in cand.tolist()), dtype=np.float64, count=len(cand)))
        if not X:
            raise ValueError("no user has a held-out event rated >= 4: too few interactions to fit the candidate ranker")
        X, y = np.vstack(X), np.concatenate(y)
        if y.min() == y.max():
            raise ValueError("the folds' candidates are all positive or all negative: nothing to learn")
        self.model = lgb.LGBMClassifier(learning_rate=cfg.learning_rate, n_estimators=cfg.n_estimators,
                                        num_leaves=cfg.num_leaves, min_child_samples=cfg.min_child_samples,
                                        reg_lambda=cfg.reg_lambda, subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
                                        random_state=0, deterministic=True, force_row_wise=True, n_jobs=2, verbose=-1)
        self.model.fit(X, y)
        importance = dict(zip(FEATURES, self.model.booster_.feature_importance("gain").tolist()))
        total = sum(importance.values()) or 1.0
        self.report = {"config": asdict(cfg), "n_rows": int(len(y)), "positive_share": round(float(y.mean()), 4),
                       "gain_share": {k: round(v / total, 3) for k, v in sorted(importance.items(), key=lambda kv: -kv[1])}}
        return self

    def score(self, features: np.ndarray) -> np.ndarray:
        """Probability-like scores of one group's candidates (higher first)."""
        if self.model is None:
            raise RuntimeError("CandidateRanker.score called before fit()")
        return self.model.predict_proba(np.asarray(features, dtype=np.float64))[:, 1]
