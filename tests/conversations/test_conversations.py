"""Every YAML script in this folder, run through Agent.turn with rules only, with a scripted LLM
double, and (marked ``llm_local``) with the real embedded local LLM."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from chat_rec.agent import Agent
from chat_rec.config import AgentConfig
from chat_rec.models.llm import ScriptedChatModel
from chat_rec.recommender.intent.llm_reader import LLMHelper
from chat_rec.scripting import new_session, run_script

SCRIPTS = sorted(Path(__file__).parent.glob("*.yaml"))
EMPTY_LLM = (
    '{"kind": "recommend", "genres": [], "avoid_genres": [], "keywords": [], "avoid_keywords": [], '
    '"liked_titles": [], "disliked_titles": [], "similar_to_titles": [], "year_min": null, "year_max": null, '
    '"mood": null}'
)


def check(expect: dict, record: dict, previous: list | None, agent: Agent, session, mode: str, where: str) -> None:
    catalog = agent.catalog
    items = record.get("items", [])
    ids = [i["id"] for i in items]
    genres = [set(i["genres"]) for i in items]
    reply = record.get("reply", "")
    notices = " ".join(record.get("notices", []))
    for key, want in expect.items():
        msg = (
            f"{where}: {key}={want!r}; got items {[(i['title'], i['genres']) for i in items]}, reply {reply!r}, "
            f"notices {notices!r}"
        )
        if key == "min_items":
            assert len(items) >= want, msg
        elif key == "max_items":
            assert len(items) <= want, msg
        elif key == "all_genre":
            assert all(want in g for g in genres), msg
        elif key == "any_genre":
            assert all(g & set(want) for g in genres), msg
        elif key == "refers_to_pick":
            # the pick the person named by its place in the previous list is the reference: it is said so
            assert previous is not None and 0 < want <= len(previous), msg
            named = catalog.item(previous[want - 1])
            assert (
                previous[want - 1] not in ids
                and named.title.split(" (")[0].lower()
                in reply.lower() + " " + " ".join(str(i.get("explanation", "")) for i in items).lower()
            ), msg
        elif key == "some_genre":
            assert any(want in g for g in genres), msg
        elif key == "no_genre":
            assert not any(want in g for g in genres), msg
        elif key == "no_genres":
            assert not any(set(want) & g for g in genres), msg
        elif key == "years":
            assert all(i["year"] is not None and want[0] <= i["year"] <= want[1] for i in items), msg
        elif key in ("older_than_before", "newer_than_before"):
            # a relative refinement moves from the list on screen: past its oldest / newest film
            assert previous is not None and items, msg
            before = [catalog.item(i).year for i in previous if catalog.item(i).year]
            years = [i["year"] for i in items]
            if key == "older_than_before":
                assert all(y is not None and y < min(before) for y in years), msg
            else:
                assert all(y is not None and y > max(before) for y in years) or all(
                    y is not None
                    and y >= max(y for y in (catalog.items[r].year or 0 for r in range(len(catalog)))) - 2
                    for y in years
                ), msg
        elif key == "distinct_films":
            # one film, one card: MovieLens lists a few films under two ids
            titles = [i["title"].lower() for i in items]
            assert len(set(titles)) == len(titles), msg
        elif key == "not_titles":
            assert not any(w.lower() in i["title"].lower() for w in want for i in items), msg
        elif key == "no_text_words":
            # content ruled out ("not gory"): no pick's text has the words, unless a notice says they were relaxed
            if "ruled out" not in notices:
                texts = [agent.rec.texts[catalog.row(i)].lower() for i in ids]
                assert not [w for w in want for t in texts if re.search(r"(?<![a-z])" + re.escape(w), t)], msg
        elif key == "not_items":
            assert not set(ids) & set(want), msg
        elif key == "items_changed":
            assert previous is not None and ids != previous, msg
        elif key == "reply_contains":
            assert all(w.lower() in reply.lower() for w in want), msg
        elif key == "reply_not_contains":
            assert not any(w.lower() in reply.lower() for w in want), msg
        elif key == "notice_contains":
            assert want.lower() in notices.lower(), msg
        elif key == "notice_contains_scripted":
            if mode == "scripted":
                assert want.lower() in notices.lower(), msg
        elif key == "kind":
            assert record.get("kind") == want, msg
        elif key == "reply_mentions_item_genres":
            assert items, msg
            assert any(g.lower() in reply.lower() for g in items[0]["genres"]), msg
        elif key == "reply_mentions_genres_of":
            assert any(g.lower() in reply.lower() for g in catalog.item(want).genres), msg
        elif key == "not_rated":
            rated = {catalog.items[r].id for r in agent.interactions.history(session.user_id)[0]}
            assert not set(ids) & rated, msg
        else:
            raise AssertionError(f"{where}: unknown expectation {key!r}")


def run_checked(agent: Agent, path: Path, mode: str, scripted: ScriptedChatModel | None = None) -> None:
    script = yaml.safe_load(path.read_text())
    session = new_session(script)
    previous = None
    turns = script["turns"]
    for record, turn in zip(run_script(_with_llm(agent, turns, scripted), script, session), turns):
        if "say" in turn:
            check(turn.get("expect", {}), record, previous, agent, session, mode, f"{path.name} turn {record['turn']}")
            assert record["reply"], f"{path.name}: empty reply"
            previous = [i["id"] for i in record["items"]]


def _with_llm(agent: Agent, turns: list, scripted: ScriptedChatModel | None) -> Agent:
    """Point the scripted double at each say-turn's ``llm`` reply, in order."""
    if scripted is not None:
        replies = [t.get("llm", EMPTY_LLM) for t in turns if "say" in t]
        scripted.replies, scripted.calls = replies, 0
    return agent


@pytest.fixture(scope="module")
def rules_agent(ml_parts):
    return Agent(ml_parts["recommender"], ml_parts["interactions"])


@pytest.fixture(scope="module")
def scripted_agent(ml_parts):
    model = ScriptedChatModel()
    rec = ml_parts["recommender"]
    # the merge reader (not the served default, which keeps the LLM to writing): its path stays tested
    agent = Agent(rec, ml_parts["interactions"], config=AgentConfig(reader="merge"))
    agent.llm = LLMHelper(model, rec.catalog, agent.titles, timeout=5)
    return agent, model


def test_there_are_enough_scripts():
    assert len(SCRIPTS) >= 15


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_rules_only(rules_agent, path):
    run_checked(rules_agent, path, "rules")


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_scripted_llm(scripted_agent, path):
    agent, model = scripted_agent
    run_checked(agent, path, "scripted", model)
