"""The fusion artifact (load, fallbacks with a notice), the heads, and that unweighted signals are not computed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chat_rec.agent import Agent
from chat_rec.catalog import Catalog, Item
from chat_rec.config import AgentConfig
from chat_rec.recommender import signals as sig
from chat_rec.recommender.fusion import DEFAULT_WEIGHTS, PACKAGED, FusionModel, load_fusion
from chat_rec.recommender.intent import Intent
from chat_rec.recommender.pipeline import UserState, head_for
from chat_rec.session import Session


def test_the_packaged_artifact_is_fitted_and_versioned():
    from chat_rec.evaluation.simulate import FIT_HALF

    fusion, notice = load_fusion("auto", models_dir=PACKAGED.parent / "no-such-dir")
    assert notice is None and fusion.fitted and fusion.path == str(PACKAGED)
    assert {"request", "history"} <= set(fusion.heads) <= {"request", "history", "feedback"}
    fb = fusion.meta["fitting"]["feedback"]  # fitted by the same command, on people of the fitting half only
    assert fb["kept"] == ("feedback" in fusion.heads) and fb["people"]["user_model"] == "ratings"
    assert fb["people"]["half"] == FIT_HALF and len(fb["people"]["users"]) == fb["users"]
    if fb["judgements"] is not None:
        table = sig.JudgementModel.from_json(fb["judgements"])
        assert table.p_up.shape[1] == sig.JudgementModel.JACCARD_BINS and np.all(np.diff(table.p_up, axis=0) >= 0)
    meta = fusion.meta
    assert meta["version"] == 1 and "chat-rec train ranker --all" in meta["command"] and meta["files"]
    assert all(len(f["sha256"]) == 64 for f in meta["files"])
    assert fusion.heads["request"] != DEFAULT_WEIGHTS["request"]  # fitted, not the hand-set ones


@pytest.mark.parametrize(
    "content",
    [
        None,
        b"{not json",
        b"\xff\xfe",
        json.dumps({"version": 99, "heads": {}}).encode(),
        json.dumps({"version": 1, "heads": {"request": {"telepathy": 1.0}}}).encode(),
        json.dumps({"version": 1, "heads": {"request": {"pop": "high"}}}).encode(),
        json.dumps({"version": 1, "heads": {"request": {"pop": float("nan")}}}).encode(),
    ],
)
def test_a_missing_or_broken_artifact_falls_back_to_the_defaults_with_a_notice(tmp_path, content):
    path = tmp_path / "ranker.json"
    if content is not None:
        path.write_bytes(content)
    fusion, notice = load_fusion(str(path))
    assert not fusion.fitted and fusion.heads == DEFAULT_WEIGHTS
    assert "hand-set default weights" in notice and "chat-rec train ranker" in notice and "\n" not in notice


def test_round_trip_and_the_defaults_on_purpose(tmp_path):
    model = FusionModel({"request": {"pop": 0.5, "sem": 0.0}, "history": {"cf": 1.0}}, {"fitted": True})
    back = FusionModel.load(model.save(tmp_path / "r.json"))
    assert back.heads == {"request": {"pop": 0.5}, "history": {"cf": 1.0}} and back.fitted
    assert back.active("request") == ("pop",)
    assert load_fusion("defaults") == (load_fusion("defaults")[0], None)


def test_heads():
    assert head_for(Intent(), UserState(history_rows=[1, 2])) == "history"
    assert head_for(Intent(wanted_genres=["Horror"]), UserState(history_rows=[1])) == "request"
    assert head_for(Intent(), UserState()) == "request"  # a new person: popular picks
    assert head_for(Intent(), UserState(history_rows=[1], liked_rows=[3])) == "request"
    heads = {"request": {}, "history": {}, "feedback": {}}
    assert head_for(Intent(), UserState(feedback_down_rows=[3]), heads) == "feedback"  # after a 👍/👎
    assert head_for(Intent(), UserState(feedback_down_rows=[3])) == "request"  # no such head fitted
    assert head_for(Intent(), UserState(history_rows=[1]), heads) == "history"


def test_the_feedback_signal_favours_what_explains_the_thumbs():
    # four items on a circle: 0 and 1 are close, 2 is opposite 0, 3 is orthogonal to both
    V = np.array([[1, 0, 0], [0.9, 0.436, 0], [-1, 0, 0], [0, 0, 1]], dtype=np.float32)
    f = sig.CatalogFeatures.build(Catalog("c", [Item(i, str(i)) for i in range(4)]), V, sig.SideData(), list("abcd"))
    cand = np.arange(4)
    assert sig.feedback(f, sig.Request(Intent()), cand) is None  # no 👍/👎: absent
    up = sig.feedback(f, sig.Request(Intent(), feedback_up=[0]), cand)
    assert up[0] > up[1] > up[3] > up[2]  # closer to the 👍'd one first
    both = sig.feedback(f, sig.Request(Intent(), feedback_up=[0], feedback_down=[1]), cand)
    cost = both - up  # what the 👎 on item 1 costs
    assert cost[1] < cost[0] < cost[3] < 0 and cost[2] > -1e-3  # most near item 1, ~0 far away
    assert np.all(both <= 0)  # a log-likelihood


def test_the_judgement_model_learns_p_up_from_judgements_and_round_trips():
    rng = np.random.default_rng(0)
    cos, jac = rng.uniform(-0.2, 1.0, 4000), rng.choice([0.0, 0.25, 0.5, 1.0], 4000)
    up = (cos >= 0.6) | ((jac >= 0.5) & (cos >= 0.35))  # a rule the table must recover
    model = sig.JudgementModel.fit(cos, jac, up)
    p = model.prob(np.array([0.8, 0.45, 0.45, 0.1]), np.array([0.0, 1.0, 0.0, 1.0]))
    assert p[0] > 0.9 and p[1] > 0.9 and p[2] < 0.1 and p[3] < 0.1
    assert np.all((model.p_up >= model.CLIP) & (model.p_up <= 1 - model.CLIP))  # never certain
    back = sig.JudgementModel.from_json(json.loads(json.dumps(model.to_json())))
    assert np.allclose(back.prob(np.array([0.8, 0.45]), np.array([0.0, 1.0])), p[:2], atol=1e-4)
    assert np.all(np.diff(model.p_up, axis=0) >= -1e-12)  # closer is never less likely
    few = cos < 0.7  # no judgement above 0.7
    sparse = sig.JudgementModel.fit(cos[few], jac[few], up[few])
    assert sparse.prob(np.array([0.95]), np.array([0.0]))[0] > 0.9  # carried up, not the mean rate
    with pytest.raises(ValueError):
        sig.JudgementModel.fit(cos[:0], jac[:0], up[:0])
    assert np.allclose(
        model.prob(np.array([-0.9, 1.0, 1.3]), np.zeros(3)), model.p_up[[0, -1, -1], 0]
    )  # off the edges


@pytest.mark.parametrize(
    "broken",
    [
        {"cos_edges": [0.0, 0.5], "p_up": [[0.5] * 11] * 2},  # a row short
        {"cos_edges": [0.0], "p_up": [[1.0] * 11] * 2},  # certain
        {"cos_edges": [0.0], "p_up": [[1e-300] * 11] * 2},  # would swamp the ranking
        {"cos_edges": [0.5, 0.1, 0.9], "p_up": [[0.5] * 11] * 4},  # not increasing: digitize would raise mid-turn
        {"cos_edges": [[0.1, 0.2]], "p_up": [[0.5] * 11] * 2},
        {"cos_edges": [10**400], "p_up": [[0.5] * 11] * 2},
        {"cos_edges": [float("nan")], "p_up": [[0.5] * 11] * 2},
        {"cos_edges": "x", "p_up": 1},
        {"p_up": []},
    ],
)
def test_a_hostile_judgement_table_is_refused(broken):
    with pytest.raises(ValueError):
        sig.JudgementModel.from_json(broken)


def test_the_learned_likelihood_reads_genres_as_well_as_the_cosine():
    # 0 is the 👍'd item; 1 and 2 are equally close to it, but only 1 shares its genres
    V = np.array([[1, 0, 0], [0.8, 0.6, 0], [0.8, 0, 0.6], [0, 0, 1]], dtype=np.float32)
    items = [
        Item(0, "a", genres=("Horror", "Sci-Fi")),
        Item(1, "b", genres=("Horror", "Sci-Fi")),
        Item(2, "c", genres=("Comedy",)),
        Item(3, "d", genres=("Comedy",)),
    ]
    f = sig.CatalogFeatures.build(Catalog("c", items), V, sig.SideData(), list("abcd"))
    assert np.allclose(f.genre_jaccard(np.arange(4), [0])[:, 0], [1, 1, 0, 0])
    cos = np.array([0.8, 0.8, 0.1, 0.1, 0.5, 0.5] * 50)
    jac = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0] * 50)
    model = sig.JudgementModel.fit(cos, jac, (jac > 0) & (cos > 0.3))
    cand = np.arange(4)
    learned = sig.feedback(f, sig.Request(Intent(), feedback_up=[0], feedback_model=model), cand)
    assert learned[1] > learned[2] and learned[1] > learned[3]
    cosine_only = sig.feedback(f, sig.Request(Intent(), feedback_up=[0]), cand)
    assert abs(cosine_only[1] - cosine_only[2]) < 1e-6  # the logistic cannot tell them apart


def test_a_malformed_judgement_table_falls_back_to_the_cosine_threshold(tiny_recommender, caplog):
    rec = tiny_recommender
    rec.fusion = FusionModel(
        {"request": {"pop": 1.0}, "feedback": {"pop": 1.0, "feedback": 1.0}},
        {
            "fitted": True,
            "fitting": {"feedback": {"tau": 0.35, "judgements": {"cos_edges": [0.5, 0.1], "p_up": "high"}}},
        },
    )
    assert rec.feedback_model is None and rec.feedback_tau == 0.35 and "malformed" in caplog.text
    agent = Agent(rec, config=AgentConfig(k=3))
    session = Session()
    first = agent.turn("recommend me something", session)
    agent.record_feedback(session, first.items[0].item_id, "down")
    ranking = agent.rank(session)  # the logistic stands in
    assert ranking.items and ranking.head == "feedback" and all("feedback" in x.parts for x in ranking.items)
    fitted = sig.JudgementModel.fit(np.linspace(-0.2, 1, 50), np.zeros(50), np.linspace(-0.2, 1, 50) > 0.5)
    rec.fusion = FusionModel(
        rec.fusion.heads, {"fitted": True, "fitting": {"feedback": {"judgements": fitted.to_json()}}}
    )
    assert rec.feedback_model is not None  # a swapped artifact is read anew


def test_a_thumb_switches_the_agent_to_the_feedback_head(tiny_recommender):
    rec = tiny_recommender
    rec.fusion = FusionModel(
        {"request": {"pop": 1.0}, "feedback": {"pop": 1.0, "feedback": 2.0}},
        {"fitted": True, "fitting": {"feedback": {"tau": 0.35}}},
    )
    assert rec.feedback_tau == 0.35
    agent = Agent(rec, config=AgentConfig(k=3))
    session = Session()
    first = agent.turn("recommend me something", session)
    assert first.items and agent.rank(session).head == "request"
    agent.record_feedback(session, first.items[0].item_id, "up")
    ranking = agent.rank(session)
    assert ranking.head == "feedback" and all("feedback" in s.parts for s in ranking.items)
    agent.record_feedback(session, first.items[0].item_id, "retract")
    assert agent.rank(session).head == "request"  # retracted: as before


def test_only_weighted_signals_are_computed_and_missing_ones_are_absent(tiny_recommender, monkeypatch):
    rec = tiny_recommender
    rec.fusion = FusionModel({"request": {"pop": 1.0, "genre": 0.5}}, {"fitted": True})
    called = []
    original = sig.SIGNALS["sem"]
    monkeypatch.setitem(sig.SIGNALS, "sem", lambda *a: called.append(1) or original(*a))
    ranking = rec.rank(Intent(wanted_genres=["Comedy"], keywords=["spoof"]), UserState(), 2)
    assert not called  # weight 0: not computed
    assert all(set(s.parts) == {"pop", "genre"} for s in ranking.items)
    # a catalog without years or genres lacks those signals: absent, never faked
    bare = Catalog("bare", [Item(1, "A"), Item(2, "B")])
    f = sig.CatalogFeatures.build(bare, np.eye(2, 4, dtype=np.float32), sig.SideData(), ["a", "b"])
    raw = sig.compute(f, sig.Request(Intent(wanted_genres=["Horror"], year_min=1980)), np.arange(2))
    assert not {"year", "era", "genre", "pop", "cf"} & set(raw)


def test_the_agent_shows_the_fallback_notice_once(tiny_recommender):
    agent = Agent(tiny_recommender, config=AgentConfig(k=3), reranker_notice="ranking on hand-set default weights (x)")
    session = Session()
    first = agent.turn("something scary", session)
    second = agent.turn("something funny", Session())
    assert first.notices == ["ranking on hand-set default weights (x)"] and first.items
    assert not any("hand-set" in n for n in agent.turn("hi", session).notices)
    assert "ranking on hand-set default weights (x)" in second.notices  # once per conversation


def test_the_rerankers_weight_is_fitted_on_held_out_recall_and_zero_when_it_does_not_help():
    """``fit_weight``: linear + w * z(re-ranker) over each case's linear top list, w chosen by Recall@10."""
    from chat_rec.training.reranker_dialogues import DialogueCase, fit_weight, fused_recall

    rng = np.random.default_rng(0)
    cases, helpful, useless = [], [], []
    for k in range(60):
        linear = np.sort(rng.normal(size=50))[::-1].copy()
        labels = np.zeros(50, dtype=np.float32)
        labels[10 + k % 30] = 1.0  # the target sits just below the linear top 10
        cases.append(DialogueCase("q", np.arange(50), labels, linear))
        helpful.append(labels * 3.0 + rng.normal(scale=0.1, size=50))  # a score that finds the target
        useless.append(-labels * 3.0)  # one that buries it
    assert fused_recall(cases, helpful, 0.0) == 0.0
    w, table = fit_weight(cases, helpful)
    assert w > 0 and table["fused"]["recall@10"] == 1.0 and table["linear_alone"]["recall@10"] == 0.0
    w, table = fit_weight(cases, useless)
    assert w == 0.0 and table["fused"] == table["linear_alone"]  # not served


def test_a_reranker_checkpoint_other_than_the_fitted_one_is_not_used(tmp_path):
    from chat_rec.assemble import load_fusion_reranker
    from chat_rec.config import RerankerConfig

    fusion = FusionModel(
        {"request": {"sem": 1.0, "reranker": 0.5}},
        {"fitting": {"reranker": {"checkpoint": "rr.pt", "sha256": "0" * 16}}},
        str(tmp_path / "ranker.json"),
    )
    rr, notice = load_fusion_reranker(fusion, RerankerConfig(models_dir=tmp_path / "models"))
    assert rr is None and "re-ranker off" in notice and "train ranker" in notice  # missing
    (tmp_path / "rr.pt").write_bytes(b"not a checkpoint")
    rr, notice = load_fusion_reranker(fusion, RerankerConfig(models_dir=tmp_path / "models"))
    assert rr is None and "re-ranker off" in notice  # unreadable
    assert load_fusion_reranker(fusion, RerankerConfig(path="none")) == (None, None)


def test_ref_year_prefers_films_from_the_references_years():
    items = [Item(1, "A (1979)", 1979), Item(2, "B (1986)", 1986), Item(3, "C (2015)", 2015), Item(4, "D")]
    f = sig.CatalogFeatures.build(Catalog("c", items), np.eye(4, 4, dtype=np.float32), sig.SideData(), list("abcd"))
    cand = np.arange(4)
    assert sig.ref_year(f, sig.Request(Intent()), cand) is None  # no references: absent
    v = sig.ref_year(f, sig.Request(Intent(), references=[0, 1], disliked=[1]), cand)  # a disliked one does not count
    assert v[0] == 0 and v[1] == -7 and v[2] == -36  # distance from 1979
    assert v[3] == -(1986 - 1979)  # unknown year: the catalog median
    bare = sig.CatalogFeatures.build(
        Catalog("b", [Item(1, "A"), Item(2, "B")]), np.eye(2, 4, dtype=np.float32), sig.SideData(), ["a", "b"]
    )
    assert sig.ref_year(bare, sig.Request(Intent(), references=[0]), np.arange(2)) is None  # no years: absent
