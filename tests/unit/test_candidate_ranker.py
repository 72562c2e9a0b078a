"""The interaction-side candidate ranker on synthetic data where the signal beyond CF is known."""

from __future__ import annotations

import numpy as np
import pytest

from chat_rec.catalog import Catalog, Item, build_interactions
from chat_rec.datasets.splits import relevant_sets, split_per_user
from chat_rec.evaluation.metrics import ndcg_at_k
from chat_rec.models.candidate_ranker import FEATURES, CandidateRanker, CandidateRankerConfig

SMALL = CandidateRankerConfig(n_candidates=10, cf_lambda=10.0, binary_lambda=10.0, n_folds=4, n_estimators=150,
                              num_leaves=4, min_child_samples=20, learning_rate=0.05)


def synthetic(seed: int = 0, with_metadata: bool = True):
    """Three taste blocks of 20 items; every user watches mostly in their block, but only the "good"
    half of the items gets 4-5 stars (the rest 1-2), and the bad half is watched more often. CF ranks
    by what is watched together, so it puts the bad items first; the item's mean rating knows better."""
    rng = np.random.default_rng(seed)
    items = [Item(i, f"Item {i}", 1970 + i % 30 if with_metadata else None,
                  (("Drama", "Comedy", "Horror")[i // 20],) if with_metadata else ()) for i in range(60)]
    good = rng.random(60) < 0.5
    rows, users = [], {}
    for u in range(240):
        block = u % 3
        watched = [i for i in range(60) if rng.random() < ((0.35 if good[i] else 0.75) if i // 20 == block else 0.04)]
        for i in watched:
            rating = rng.choice([4.0, 5.0]) if good[i] else rng.choice([1.0, 2.0])
            rows.append((u, i, float(rating), 880_000_000 + int(rng.integers(0, 200 * 86400))))
        if with_metadata:
            users[u] = {"age": int(rng.integers(15, 70)), "gender": "MF"[u % 2], "occupation": ("a", "b")[u % 2]}
    return build_interactions(Catalog("synthetic", items), rows, users=users or None)


def ordered_ndcg(groups, score, relevant):
    out = []
    for u, (cand, feats) in groups.items():
        order = cand[np.argsort(-score(feats), kind="stable")] if score else cand
        out.append(ndcg_at_k(order.tolist(), relevant[u], 5))
    return float(np.mean(out))


def test_learns_what_cf_misses_and_is_deterministic():
    inter = synthetic()
    test = split_per_user(inter, 0)
    train, relevant = inter.subset(~test), relevant_sets(inter, test)
    ranker = CandidateRanker(SMALL).fit(train)
    groups = ranker.candidates(train, sorted(relevant))
    (cand, feats), = [groups[sorted(relevant)[0]]]
    assert feats.shape == (len(cand), len(FEATURES)) and len(cand) == SMALL.n_candidates
    assert not set(cand.tolist()) & set(train.item_rows[train.user_rows == sorted(relevant)[0]].tolist())
    plain, learned = ordered_ndcg(groups, None, relevant), ordered_ndcg(groups, ranker.score, relevant)
    assert learned > plain + 0.05, (plain, learned)
    assert max(ranker.report["gain_share"], key=ranker.report["gain_share"].get) in {
        "item_mean_rating", "item_share_high", "item_rating_std"}
    again = CandidateRanker(SMALL).fit(train)
    assert np.array_equal(again.score(feats), ranker.score(feats))


def test_given_candidates_and_a_bare_catalog():
    inter = synthetic(1, with_metadata=False)      # no genres, years or user profiles
    ranker = CandidateRanker(SMALL).fit(inter)
    given = {0: np.array([59, 3, 40]), 1: np.array([7])}
    groups = ranker.candidates(inter, [0, 1], given=given)
    assert groups[0][0].tolist() == [59, 3, 40] and groups[1][0].tolist() == [7]
    feats = groups[0][1]
    assert np.isfinite(feats).all()
    for name in ("demographic_popularity", "occupation_popularity", "genre_overlap", "year", "year_vs_history"):
        assert np.ptp(feats[:, FEATURES.index(name)]) == 0, name      # constant columns, no crash
    assert ranker.score(feats).shape == (3,)


def test_too_little_data_says_so():
    inter = synthetic()
    few = inter.subset(inter.ratings < 3)           # no event rated >= 4 anywhere
    with pytest.raises(ValueError, match="rated >= 4"):
        CandidateRanker(SMALL).fit(few)
    with pytest.raises(RuntimeError, match="before fit"):
        CandidateRanker(SMALL).score(np.zeros((2, len(FEATURES))))
