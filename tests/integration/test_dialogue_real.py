"""The dialogue layer as served: the facts table against the team's IMDb details, the real conversation turns
(``tests/data/dialogue_real.yaml``) replayed through ``Agent.turn``, and people on the packaged catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import require_shared

from chat_rec.evaluation.dialogue import ACTS, load_dialogue_set, score_dialogue
from chat_rec.evaluation.facts import check_facts, same_person

DEV_SET = Path(__file__).resolve().parents[1] / "data" / "dialogue_real.yaml"


def test_same_person_reads_name_orders_and_spellings():
    assert same_person("Chen Kaige", "Kaige Chen") and same_person("Marcus De Leon", "Marcus DeLeon")
    assert same_person("Gustavo Graef-Marino", "Gustavo Graef Marino")
    assert not same_person("Mimi Leder", "John Schlesinger")


@pytest.mark.shared_data
def test_packaged_directors_agree_with_the_imdb_details():
    details = require_shared("ml-100k-imdb-details", "movielens100k_details.csv")
    r = check_facts(details)
    assert r["covered"] > 1400 and r["agreement"] >= 0.98, r["disagreements"]
    assert r["with_director"] >= 1650


def test_dev_set_is_well_formed_and_covers_the_acts():
    cases = load_dialogue_set(DEV_SET)
    assert len(cases) >= 150 and len({c["id"] for c in cases}) == len(cases)
    assert {c["act"] for c in cases} >= set(ACTS) - {"compare"}  # no real two-film comparison within the catalog


@pytest.mark.shared_data
@pytest.mark.slow
def test_real_turns_pass_on_the_served_agent(served_agent, ml_parts):
    if ml_parts["source"] != "ml-100k":
        pytest.skip("the dev set's films are MovieLens-100K titles: needs the team data folder")
    r = score_dialogue(served_agent(), load_dialogue_set(DEV_SET), progress=False)
    worst = {a: v["pass_rate"] for a, v in r["per_act"].items()}
    assert r["pass_rate"] >= 0.90 and min(worst.values()) >= 0.80, (worst, r["failures"][:5])
    assert r["new_list_for_question"] == 0 and r["ruled_out_returned"] == 0


@pytest.mark.parametrize("name", ["Alfred Hitchcock", "Tom Hanks", "Steven Spielberg", "Harrison Ford", "Woody Allen"])
def test_people_on_the_packaged_catalog(served_agent, name):
    from chat_rec.people import fold
    from chat_rec.session import Session

    agent = served_agent()
    n = len(agent.rec.people.of(name))
    reply = agent.turn(f"anything with {name}?", Session())
    have = sum(
        any(fold(p) == fold(name) for p in agent.catalog.item(r.item_id).director + agent.catalog.item(r.item_id).cast)
        for r in reply.items
    )
    assert n and have >= min(4, n), [r.title for r in reply.items]
