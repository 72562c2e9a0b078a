"""Re-ranker query texts, the fusion formula, LIME on a known function, the paired bootstrap, cf+llm."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from chat_rec.recommender.context import age_band, compose, history_text, profile_text, request_text, time_context
from chat_rec.recommender.intent import Intent
from chat_rec.recommender.lime_words import explain_lime, remove_words
from chat_rec.training.reranker import FUSION_GRID, UserCase, fit_fusion, fuse


def test_profile_and_time_words():
    assert profile_text({"age": 24, "gender": "M", "occupation": "technician"}) == "man 18-24 technician"
    assert profile_text({"age": 61, "gender": "F", "occupation": "none"}) == "woman 56+"
    assert profile_text({}) == "" and age_band("?") == ""
    assert time_context(datetime(2026, 11, 28, 20, 0)) == "weekend evening"  # a Saturday
    assert time_context(datetime(2026, 11, 25, 8, 0)) == "weekday morning"
    assert time_context(None) == ""


def test_history_and_compose_order(tiny_catalog):
    rows = [0, 1, 2, 5]
    text = history_text(tiny_catalog, rows, [5, 4, 1, 5])
    assert text == (
        "likes horror, sci-fi, action; dislikes animation, children's; "
        "loved the shining (1980), alien (1979), aliens (1986)"
    )
    q = compose("man 18-24", "weekday evening", "something funny", text)
    assert q.index("man") < q.index("weekday") < q.index("asks: something funny") < q.index("likes")
    assert "weekday" not in compose("man", "weekday evening", "", text, drop=("context",))
    assert compose() == ""


def test_request_text_from_intent():
    intent = Intent(
        keywords=["space"], wanted_genres=["Horror"], unwanted_keywords=["gory"], year_min=1980, year_max=1989
    )
    assert request_text(intent) == "space, horror, 1980-1989, not gory"


def test_fusion_formula_and_weight_choice():
    cf = np.array([3.0, 2.0, 1.0, 0.0])
    ce = np.array([0.0, 0.0, 0.0, 10.0])
    assert np.argmax(fuse(cf, ce, 0.0)) == 0
    assert np.argmax(fuse(cf, ce, 3.0)) == 3
    # The held-out positive is item 13 (last by CF, first by the cross-encoder): a larger weight wins.
    case = UserCase(0, "", "", "", np.array([10, 11, 12, 13]), np.zeros(4, np.float32), cf, {13})
    weight, table = fit_fusion([case], [ce])
    assert weight == min(w for w in FUSION_GRID if table["grid"][str(w)] == max(table["grid"].values()))
    assert weight > 0 and table["cross_encoder_alone"] == 1.0


def test_lime_finds_the_words_a_known_function_uses():
    def score(requests):
        return np.array(
            [2.0 * ("scary" in r.split()) + 1.0 * ("80s" in r.split()) - 0.5 * ("gory" in r.split()) for r in requests]
        )

    weights = explain_lime(score, "something scary from the 80s but not gory", num_samples=300, seed=0)
    assert weights.top(2) == ["scary", "80s"]
    assert dict(weights.weights)["gory"] < 0
    assert weights.score == pytest.approx(2.5)
    again = explain_lime(score, "something scary from the 80s but not gory", num_samples=300, seed=0)
    assert again.weights == weights.weights  # seeded
    assert remove_words("a scary, scary 80s film", ["scary"]) == "a , 80s film"


def test_paired_bootstrap():
    from chat_rec.evaluation.rerank import paired_bootstrap

    up = paired_bootstrap([0.2, 0.0, 0.1, 0.3, 0.0, 0.2] * 20, seed=0)
    assert up["ci95"][0] > 0 and up["ci95"][0] <= up["mean_diff"] <= up["ci95"][1]
    flat = paired_bootstrap([0.0] * 50)
    assert flat["ci95"] == [0.0, 0.0]


def test_cf_llm_counts_invalid_answers(block_interactions):
    from chat_rec.evaluation.rerank import llm_prompt, llm_rankings
    from chat_rec.models.llm import ScriptedChatModel

    cand = {0: np.array([5, 4, 3, 2, 1, 0]), 1: np.array([0, 1, 2, 3, 4, 5])}
    model = ScriptedChatModel(replies=['{"picks": [6, 5, 4, 3, 2]}', "not json"])
    ranked, invalid = llm_rankings(model, block_interactions, cand, [0, 1], progress=False)
    assert ranked[0][:5].tolist() == [0, 1, 2, 3, 4] and invalid == 1
    assert ranked[1].tolist() == [0, 1, 2, 3, 4, 5]  # the CF order stands in
    assert "Candidates:\n1. " in llm_prompt(block_interactions, 0, cand[0])
