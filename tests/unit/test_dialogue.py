"""The dialogue layer on a tiny catalog: people found in messages, answers from records, acts read from words."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chat_rec.catalog import Catalog, build_interactions
from chat_rec.dialogue.acts import is_vague, read_act
from chat_rec.dialogue.answers import Answers, first_sentence
from chat_rec.people import People

PEOPLE = {
    1: (("Ridley Scott",), ("Sigourney Weaver", "Tom Skerritt"), 117, "R"),
    2: (("James Cameron",), ("Sigourney Weaver", "Michael Biehn"), 137, "R"),
    3: (("John Lasseter",), ("Tom Hanks", "Tim Allen"), 81, "G"),
    4: (("Joel Coen",), ("Frances McDormand", "William H. Macy"), 98, "R"),
    6: (("Stanley Kubrick",), ("Jack Nicholson", "Shelley Duvall"), None, ""),
    7: (("Jim Abrahams", "David Zucker"), ("Robert Hays", "Julie Hagerty"), 88, "PG"),
}


@pytest.fixture
def catalog(tiny_catalog):
    items = [
        replace(
            it, director=PEOPLE[it.id][0], cast=PEOPLE[it.id][1], runtime=PEOPLE[it.id][2], age_rating=PEOPLE[it.id][3]
        )
        if it.id in PEOPLE
        else it
        for it in tiny_catalog.items
    ]
    return Catalog("tiny", items)


class Mention:
    def __init__(self, item_id, surface="", start=0, end=0):
        self.item_id, self.surface, self.start, self.end = item_id, surface, start, end


def test_people_full_names_surnames_and_misspellings(catalog):
    people = People(catalog)
    assert [m.name for m in people.find("movies with Tom Hanks")] == ["Tom Hanks"]
    assert [m.name for m in people.find("anything by Kubrick?")] == ["Stanley Kubrick"]
    assert [m.name for m in people.find("something with sigourney weaver")] == ["Sigourney Weaver"]
    assert [m.name for m in people.find("with Sigourny Weaver please")] == ["Sigourney Weaver"]
    assert people.of("Sigourney Weaver") == (0, 1)
    # everyday words and lowercase surnames without a cue are not people
    assert people.find("a scott free comedy") == []
    assert people.find("something scary, hanks") == []
    assert people.find("a title", skip=[(0, 7)]) == []


def test_a_surname_alone_needs_two_films_or_a_strong_cue(catalog):
    people = People(catalog)
    # Weaver plays in two films here; Kubrick directed one: capitalised alone is not enough, "by" is
    assert [m.name for m in people.find("Weaver was great")] == ["Sigourney Weaver"]
    assert people.find("Kubrick was great") == []
    assert [m.name for m in people.find("anything by Kubrick?")] == ["Stanley Kubrick"]


@pytest.mark.parametrize(
    "text, asked",
    [
        ("movies with Tom Hanks", True),
        ("a good Tom Hanks movie", True),
        ("anything by Tom Hanks from the 90s?", True),
        ("more Tom Hanks please", True),
        ("Tom Hanks?", True),
        ("a comedy with Tom Hanks", True),
        ("Isn't that with Tom Hanks? I like him.", False),
        ("Forrest Gump is an epic classic. Tom Hanks killed that role", False),
        ("I loved that movie with Tom Hanks", False),
        ("I really like Tom Hanks, I think he is a great actor", False),
    ],
)
def test_a_person_is_asked_for_only_with_a_cue(text, asked):
    from chat_rec.dialogue.tracker import asks_for

    start = text.index("Tom Hanks")
    assert asks_for(text, start, start + len("Tom Hanks")) is asked


def test_people_empty_catalog_has_nobody(tiny_catalog):
    people = People(tiny_catalog)
    assert not people and people.find("anything by Hitchcock") == []


def test_answers_state_record_facts_or_say_they_do_not_know(catalog):
    inter = build_interactions(catalog, [(1, 1, 5.0, 0), (2, 1, 4.0, 0), (1, 3, 3.0, 0)])
    answers = Answers(catalog, inter)
    alien, shining, music = catalog.item(1), catalog.item(6), catalog.item(5)
    assert answers.answer(alien, "director") == "Alien (1979) was directed by Ridley Scott."
    assert "Sigourney Weaver" in answers.answer(alien, "cast")
    assert "4.5 out of 5" in answers.answer(alien, "rating") and "2 people" in answers.answer(alien, "rating")
    assert "nobody has rated" in answers.answer(shining, "rating")
    assert "don't know how long" in answers.answer(shining, "runtime")
    assert "117 minutes" in answers.answer(alien, "runtime")
    assert "don't know who directed" in answers.answer(music, "director")
    assert "not for young kids" in answers.answer(alien, "kids") and "rated R" in answers.answer(alien, "kids")
    assert "fine for kids" in answers.answer(catalog.item(3), "kids")
    assert answers.answer(shining, "scary").startswith("The Shining (1980): yes")
    side = answers.compare([catalog.item(3), catalog.item(7)], "funny")
    assert "Toy Story (1995)" in side and "Airplane! (1980)" in side and "Both are listed as a comedy" in side
    with pytest.raises(ValueError):
        answers.answer(alien, "budget")


def test_first_sentence_reads_past_abbreviations():
    assert first_sentence("Dr. Arroway hears a signal. She goes.") == "Dr. Arroway hears a signal."
    assert first_sentence("No end") == "No end"


@pytest.mark.parametrize(
    "text, name, items, fact",
    [
        ("who directed the first one?", "question", [1], "director"),
        ("is the second one ok for kids?", "question", [2], "kids"),
        ("who is in the third one?", "question", [3], "cast"),
        ("what is it about?", "question", [9], "plot"),
        ("what's the difference between the first and the second?", "compare", [1, 2], None),
        ("have you seen Alien?", "seen", [1], None),
        ("any good horror movies?", "request", [], None),
        ("something like the first one", "request", [], None),
    ],
)
def test_acts(text, name, items, fact):
    mentions = [Mention(1, "Alien")] if "Alien" in text else []
    act = read_act(text, mentions, last_items=[1, 2, 3, 4, 5], focus=9 if "it" in text.split() else None, mentioned=[])
    assert (act.name, act.items, act.fact) == (name, items, fact)


def test_ruled_out_and_vague():
    assert read_act("I've seen the first one", [], last_items=[1, 2], focus=None, mentioned=[]).ruled_out == [1]
    assert read_act("seen them all", [], last_items=[1, 2], focus=None, mentioned=[]).ruled_out == [1, 2]
    assert read_act("I haven't seen it", [], last_items=[1], focus=1, mentioned=[]).ruled_out == []
    assert read_act("have you seen it?", [], last_items=[1], focus=1, mentioned=[]).ruled_out == []
    assert is_vague("I'm not sure what I want", firm=False)
    assert is_vague("something to watch with my parents", firm=False)
    assert not is_vague("not sure, maybe horror", firm=True)


def _people_agent(catalog, block_interactions, k):
    from chat_rec.agent import Agent
    from chat_rec.config import AgentConfig
    from chat_rec.models.cf import EASE
    from chat_rec.models.encoder import HashEncoder
    from chat_rec.models.index import ExactIndex
    from chat_rec.recommender.pipeline import Recommender

    enc = HashEncoder(64)
    vectors = enc.encode(catalog.texts())
    cf = EASE(1.0, "rating").fit(block_interactions)
    rec = Recommender(catalog, ExactIndex(catalog, vectors), vectors, enc, cf, block_interactions)
    return Agent(rec, block_interactions, config=AgentConfig(k=k))


def test_a_person_named_in_passing_is_favoured_and_one_turned_down_is_left_out(catalog, block_interactions):
    from chat_rec.session import Session

    agent = _people_agent(catalog, block_interactions, 3)
    session = Session()
    reply = agent.turn("a horror film. I really like Sigourney Weaver", session)
    assert session.intent.liked_people == ["Sigourney Weaver"] and session.intent.people == []
    ids = [r.item_id for r in reply.items]
    assert set(ids[:2]) == {1, 2} and 6 in ids, ids  # her films first, the others still there
    assert "don't know" not in reply.text
    agent.rec.person_boost = 0.0
    unboosted = [r.item_id for r in agent.turn("a horror film. I really like Sigourney Weaver", Session()).items]
    assert set(unboosted[:2]) != {1, 2}  # on these fakes only the boost puts both of hers first

    one = _people_agent(catalog, block_interactions, 1)
    session = Session()
    reply = one.turn("a horror film, but I don't like Sigourney Weaver", session)
    assert session.intent.unwanted_people == ["Sigourney Weaver"] and not session.intent.liked_people
    assert [r.item_id for r in reply.items] == [6] and "without Sigourney Weaver" in reply.text
