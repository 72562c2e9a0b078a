"""The simulated-user benchmark: it never says the title, is deterministic, and feedback acts only after turn 1."""

import re

import numpy as np
import pytest

from chat_rec.agent import Agent, Session
from chat_rec.catalog import display_title
from chat_rec.config import AgentConfig
from chat_rec.evaluation.simulate import choose_targets, description_words, make_user, simulate, utterances
from chat_rec.recommender.feedback import MemoryStore

pytestmark = pytest.mark.shared_data


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
