"""The simulated-user benchmark: it never says the title, is deterministic, and feedback acts only after turn 1."""

import re

import numpy as np

from chat_rec.agent import Agent
from chat_rec.catalog import display_title
from chat_rec.config import AgentConfig
from chat_rec.evaluation.simulate import choose_targets, description_words, make_user, simulate, utterances
from chat_rec.recommender.feedback import MemoryStore
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
    rec, interactions = ml_parts["recommender"], ml_parts["interactions"]
    agent = Agent(rec, interactions, config=AgentConfig(k=10), store=MemoryStore())
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
    agent = Agent(rec, interactions, config=AgentConfig(k=5), store=MemoryStore())
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
    from chat_rec.recommender.fusion import load_fusion
    from chat_rec.recommender.pipeline import Recommender

    base = ml_parts["recommender"]
    fusion, _ = load_fusion("auto", ml_parts["data"].root / "models")
    rec = Recommender(
        base.catalog, base.index, base.vectors, base.encoder, base.cf, ml_parts["interactions"], fusion=fusion
    )
    agent = Agent(rec, ml_parts["interactions"], config=AgentConfig(k=5), store=MemoryStore())
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
        progress=False,
    )
    assert log[0]["try"].startswith("request head")  # the baseline is always run
    learned = any("learned from" in row["try"] for row in log)  # when the people gave both 👍 and 👎
    assert len(log) - 1 - (head is not None) == 1 + learned
    assert likelihood["tau"] == 0.4 and (likelihood["judgements"] is None or learned)
    if head is not None:  # the likelihood served is the one that won the grid
        grid = log[1 : 2 + learned]
        winner = max(range(len(grid)), key=lambda g: (grid[g]["success@3turns"], grid[g]["success@5turns"]))
        assert (likelihood["judgements"] is not None) == ("learned from" in grid[winner]["try"])
    if head is not None:
        assert head["feedback"] == 0.6 and "user" not in head
        grid = log[1 : 2 + learned]
        assert (
            max(r["success@3turns"] for r in grid) >= log[0]["success@3turns"] + 0.01
        )  # kept only when it beats the baseline
    assert fusion.heads == heads and fusion.meta == meta
