"""The simulated-user benchmark: it never says the title, is deterministic, and feedback acts only after turn 1."""

import re

import numpy as np

from chat_rec.catalog import display_title
from chat_rec.config import AgentConfig
from chat_rec.evaluation.simulate import choose_targets, description_words, make_user, simulate, utterances
from chat_rec.session import Session


def test_no_utterance_contains_the_target_title(ml_parts):
    catalog, interactions = ml_parts["catalog"], ml_parts["interactions"]
    targets = choose_targets(interactions, 200, 0)
    assert targets == choose_targets(interactions, 200, 0) and len(targets) == 200
    words, df = description_words(catalog)
    for uid, row in targets:
        item = catalog.items[row]
        user = make_user(catalog, uid, row, words, df)
        title = re.sub(r"\s*\(.*?\)", "", display_title(item.title)).strip().lower()
        names = {w.lower().strip(".") for n in item.director + item.cast for w in n.split() if len(w.strip(".")) >= 4}
        for text in utterances(user, 5):
            low = text.lower()
            assert title not in low, (title, text)
            assert not names & set(user.keywords), (names, user.keywords)  # no person's name as a keyword
        assert all(df[k] >= 2 for k in user.keywords)  # never a word unique to the target


def test_small_run_shape_and_turn_one_is_the_same(ml_parts):
    interactions = ml_parts["interactions"]
    agent = ml_parts["served_agent"](AgentConfig(k=10))  # the served chat: build_agent, the packaged fusion
    rec = agent.rec
    targets = choose_targets(interactions, 12, 3)
    result = simulate(agent, lambda uid: Session(), rec.catalog, rec.vectors, targets, turns=3, progress=False)
    with_fb, without = result["rows"]
    assert with_fb["feedback"] and not without["feedback"]
    assert with_fb["hit@10_by_turn"][0] == without["hit@10_by_turn"][0]  # feedback acts only after turn 1
    for row in result["rows"]:
        assert len(row["hit@10_by_turn"]) == 3 and row["n_users"] == 12
        assert all(a <= b for a, b in zip(row["hit@10_by_turn"], row["hit@10_by_turn"][1:]))
        assert row["hit@1_by_turn"][-1] <= row["hit@5_by_turn"][-1] <= row["hit@10_by_turn"][-1]
        assert 0 <= row["success@3turns"] <= 1
    again = simulate(agent, lambda uid: Session(), rec.catalog, rec.vectors, targets, turns=3, progress=False)
    assert again["rows"] == result["rows"]  # deterministic given the seed
    assert np.isfinite(with_fb["success@3turns"])


def test_talkers_speak_everyday_words_see_five_picks_and_critique(ml_parts):
    """The second simulated person: everyday words, never the target's title, 5 picks a turn, a critique
    of the list after each miss; deterministic; feedback acts only after turn 1."""
    from chat_rec.evaluation.simulate import GENRE_PHRASES, critique, make_talker, opening, simulate_talkers

    rec, interactions, catalog = ml_parts["recommender"], ml_parts["interactions"], ml_parts["catalog"]
    targets = choose_targets(interactions, 40, 0)
    words, df = description_words(catalog)
    rng = np.random.default_rng(0)
    people = [make_talker(catalog, rec.vectors, interactions, uid, row, words, df, rng) for uid, row in targets]
    assert any(p.liked_title for p in people) and any(not p.liked_title for p in people)
    for p in people:
        said = opening(p).lower()
        title = re.sub(r"\s*\(.*?\)", "", display_title(catalog.items[p.target_row].title)).strip().lower()
        assert title not in said and (not p.genres or GENRE_PHRASES[p.genres[0]] in said)
    p = next(p for p in people if p.year and p.year < 1990)
    newer = [r for r, it in enumerate(catalog.items) if it.year and it.year >= p.year + 10][:5]
    assert critique(catalog, p, newer, 0, set()) in (
        "Something older?",
        "Can you go further back?",
        "These are all too recent. Something older?",
    )
    agent = ml_parts["served_agent"](AgentConfig(k=5))
    result = simulate_talkers(
        agent, lambda uid: Session(), catalog, rec.vectors, targets[:10], interactions, turns=3, progress=False
    )
    with_fb, without = result["rows"]
    assert with_fb["success@1turn"] == without["success@1turn"]
    again = simulate_talkers(
        agent, lambda uid: Session(), catalog, rec.vectors, targets[:10], interactions, turns=3, progress=False
    )
    assert again["rows"] == result["rows"]


def test_the_feedback_head_is_fitted_against_its_baseline_and_the_fusion_is_left_as_it_was(ml_parts):
    from chat_rec.evaluation.simulate import description_words, fit_feedback_head, make_talker

    agent = ml_parts["served_agent"](AgentConfig(k=5), fresh=True)  # the served chat, a ranking core of its own
    rec, fusion = agent.rec, agent.rec.fusion
    words, df = description_words(rec.catalog)
    rng = np.random.default_rng(1)
    people = [
        make_talker(rec.catalog, rec.vectors, ml_parts["interactions"], uid, row, words, df, rng)
        for uid, row in choose_targets(ml_parts["interactions"], 8, 1)
    ]
    heads, meta = {h: dict(w) for h, w in fusion.heads.items()}, dict(fusion.meta)
    head, likelihood, log = fit_feedback_head(
        agent,
        rec.catalog,
        rec.vectors,
        people,
        turns=2,
        taus=(0.4,),
        weights=(0.6,),
        scaled=("pop",),
        scales=(0.5,),
        values={},
        groups={},
        progress=False,
    )
    assert log[0]["try"].startswith("request head")  # the baseline is always run
    assert log[1]["try"].startswith("no 👍/👎 at all")  # and the run without feedback, for reference
    learned = any("learned from" in row["try"] for row in log)  # when the people gave both 👍 and 👎
    grid = log[2 : 3 + learned]
    assert len(log) == 2 + len(grid) + 1  # the grid, then the one move (pop x0.5)
    assert likelihood["tau"] == 0.4 and (likelihood["judgements"] is None or learned)
    if head is not None:  # the likelihood served is the one that won the grid
        winner = max(range(len(grid)), key=lambda g: (grid[g]["success@3turns"], grid[g]["success@5turns"]))
        assert (likelihood["judgements"] is not None) == ("learned from" in grid[winner]["try"])
        assert head["feedback"] == 0.6 and "user" not in head
        # kept only when it beats the baseline
        assert max(r["success@3turns"] for r in log[2:]) >= log[0]["success@3turns"] + 0.01
    else:
        assert max(r["success@3turns"] for r in log[2:]) < log[0]["success@3turns"] + 0.01
    assert fusion.heads == heads and fusion.meta == meta


def test_rating_people_are_reported_on_the_half_the_head_was_not_fitted_on(ml_parts, tmp_path, monkeypatch):
    """`eval simulate --user-model ratings`: people of the reporting half judge by their own ratings; a served
    head fitted on any of them is refused."""
    import json

    from chat_rec.cli import main
    from chat_rec.evaluation.simulate import FIT_HALF, REPORT_HALF, rating_halves
    from chat_rec.recommender.fusion import PACKAGED, FusionModel

    monkeypatch.setenv("CHATREC_DATA_DIR", str(ml_parts["data"].root))
    if ml_parts["source"] == "slice":
        monkeypatch.setenv("CHATREC_SHARED_DATA", str(tmp_path / "absent"))
    out = tmp_path / "sim.json"
    assert main(["eval", "simulate", "--user-model", "ratings", "--users", "6", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    reported = result["reported"]
    assert result["user_model"] == "ratings" and reported["half"] == REPORT_HALF and reported["n_users"] == 6
    with_fb, without = reported["rows"]
    assert with_fb["feedback"] and not without["feedback"]
    assert with_fb["hit@5_by_turn"][0] == without["hit@5_by_turn"][0]  # feedback acts only after turn 1
    assert set(reported["judged"]) == {"up", "down", "none"}

    halves = rating_halves(ml_parts["interactions"])
    fitted = FusionModel.load(PACKAGED)
    inter = ml_parts["interactions"]
    fitted.meta["fitting"]["feedback"]["people"] = {
        "user_model": "ratings",
        "users": halves[REPORT_HALF][:3],
        "ratings": len(inter),
        "rated_by": inter.n_users,
    }
    monkeypatch.setenv("CHATREC_RANKER", str(fitted.save(tmp_path / "overlapping.json")))
    assert main(["eval", "simulate", "--user-model", "ratings", "--users", "6"]) == 2
    fitted.meta["fitting"]["feedback"]["people"]["users"] = halves[FIT_HALF][:3]
    monkeypatch.setenv("CHATREC_RANKER", str(fitted.save(tmp_path / "other-half.json")))
    assert main(["eval", "simulate", "--user-model", "ratings", "--users", "2", "--turns", "1"]) == 0
