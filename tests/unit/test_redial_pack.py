"""The ReDial catalog's pieces on small data: the INSPIRED train reader, the dialogue CF, the pack's round trip,
the catalog setting and the user-centric figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chat_rec.catalog import Catalog, Item
from chat_rec.config import Config, ConfigError
from chat_rec.datasets.dialogues import Dialogue, Message, read_dialogues
from chat_rec.datasets.redial_pack import load_pack, pack_dialogues, write_pack
from chat_rec.evaluation.redial import pick_reward, user_centric
from chat_rec.recommender.fusion import ranker_name
from chat_rec.recommender.side import dialogue_cf, dialogue_side


@pytest.fixture
def films() -> Catalog:
    return Catalog(
        "redial",
        [
            Item(10, "Alien (1979)", 1979),
            Item(11, "Aliens (1986)", 1986),
            Item(12, "Toy Story (1995)", 1995),
            Item(13, "Coco (2017)", 2017),
        ],
    )


def test_inspired_train_turns_become_mentions(tmp_path, films):
    path = tmp_path / "train_unicrs.jsonl"
    turns = [
        {"text": "I love scary space movies like Alien", "role": "SEEKER", "movie": ["Alien (1979)"]},
        {"text": "Then watch Aliens!", "role": "RECOMMENDER", "movie": ["Aliens (1986)"]},
        {"text": "Or Knives Out", "role": "RECOMMENDER", "movie": ["Knives Out (2019)"]},
    ]
    path.write_text(json.dumps(turns) + "\nnot json\n", encoding="utf-8")
    got = read_dialogues(path, films)
    assert got.malformed == 1 and len(got.dialogues) == 1
    texts = [m.text for m in got.dialogues[0].messages]
    assert texts[0] == "I love scary space movies like @10"
    assert texts[1] == "Then watch @11!"  # "Aliens" is spelt out: replaced, not appended
    assert texts[2] == "Or Knives Out"  # a film the catalog lacks stays words
    assert [m.role for m in got.dialogues[0].messages] == ["seeker", "recommender", "recommender"]


def _dialogue(n: int, ids: list[int], liked: dict[int, int] | None = None) -> Dialogue:
    text = " ".join(f"@{i}" for i in ids)
    questions = {str(k): {"liked": v} for k, v in (liked or {}).items()}
    return Dialogue(str(n), [Message("seeker", "hi " + text), Message("recommender", "ok")], questions)


def test_dialogue_cf_learns_films_liked_together(films):
    dialogues = [_dialogue(n, [10, 11]) for n in range(6)] + [_dialogue(9, [12, 13], {12: 1, 13: 0})]
    side = dialogue_cf(films, dialogues, lam=1.0)
    col = side.cf_col
    assert col[films.row(13)] == -1  # disliked in the only dialogue that names it: not a liked film anywhere
    alien = side.cf.fold_in([int(col[films.row(10)])], [1.0])
    assert alien[col[films.row(11)]] > alien[col[films.row(12)]]
    # without an external source, dialogue_side takes its CF from the dialogues
    assert dialogue_side(films, dialogues).cf is not None


def test_pack_round_trip(tmp_path, films):
    movies = tmp_path / "movies_with_mentions.csv"
    movies.write_text(
        "movieId,movieName,nbMentions\n10,Alien (1979),5\n12,Toy  Story (1995),3\n14,Untitled,1\n", encoding="utf-8"
    )
    facts = tmp_path / "facts.tsv"
    header = "movie_id\ttitle\tyear\tgenres\tdirector\tcast\truntime\tage_rating\tkeywords\tpremise\tconfidence\n"
    facts.write_text(
        header + "10\tAlien (1979)\t1979\tHorror|Sci-Fi\tRidley Scott\tSigourney Weaver|Tom Skerritt\t117\tR\t"
        "space; monster\tA crew is hunted aboard a ship.\thigh\n"
        + "12\tToy Story (1996)\t1995\tAnimation\tJohn Lasseter\t\t\t\t\t\thigh\n"  # wrong title: skipped, reported
        + "14\tUntitled\t\tDrama\t\t\t\t\t\t\tnone\n",
        encoding="utf-8",
    )
    dialogues = [_dialogue(1, [10, 12], {10: 1, 12: 2})]
    report = write_pack(movies, dialogues, [facts], tmp_path / "pack")
    assert report["films"] == 3 and report["described"] == 2 and len(report["problems"]) == 1
    catalog = load_pack(tmp_path / "pack")
    alien, toy, untitled = catalog.items
    assert alien.genres == ("Horror", "Sci-Fi") and alien.director == ("Ridley Scott",) and alien.runtime == 117
    assert "hunted" in alien.description and "Keywords: space; monster." in alien.description
    assert toy.title == "Toy Story (1995)" and toy.year == 1995 and not toy.genres  # whitespace cleaned, no facts
    assert untitled.year is None and not untitled.genres  # confidence none: title only
    back = pack_dialogues(tmp_path / "pack")
    assert back[0].messages[0].text == "hi @10 @12" and back[0].questions == {"10": {"liked": 1}}


def test_the_catalog_setting():
    assert Config.from_env({}).data.catalog == "movielens-100k"
    assert Config.from_env({"CHATREC_CATALOG": "ReDial"}).data.catalog == "redial"
    with pytest.raises(ConfigError, match="CHATREC_CATALOG"):
        Config.from_env({"CHATREC_CATALOG": "books"})
    assert ranker_name("redial") == "ranker-redial.json" and ranker_name("movielens-100k") == "ranker.json"


def test_user_centric_figures():
    d = Dialogue("a", [], {"1": {"liked": 1, "seen": 1}, "2": {"liked": 0, "seen": 1}, "3": {"liked": 2, "seen": 0}})
    assert [pick_reward(d, i) for i in (1, 2, 3, 4)] == [1.0, 0.5, 0.0, 0.0]
    u = user_centric({"a": [0.0, 1.0], "b": [0.0, 0.0, 0.0], "c": [0.5]})
    assert u["SR"] == pytest.approx(2 / 3, abs=1e-4)
    assert u["RDL"] == pytest.approx(np.mean([0.5, 0.0, 0.5]), abs=1e-4)
    assert u["SR_per_turn"] == pytest.approx(2 / 6, abs=1e-4)


def test_the_packaged_pack_is_complete():
    catalog = load_pack()
    assert len(catalog) == 6924 and catalog.name == "redial"
    assert sum(bool(it.description) for it in catalog.items) >= 1500
    corpus = pack_dialogues()
    assert len(corpus) == 3822


def test_sampled_negatives_fit_the_same_weights_as_the_full_softmax(monkeypatch):
    """Thousands of dialogues over thousands of films: the linear fit samples negatives (log-Q corrected) and
    lands where the full softmax does."""
    from chat_rec.recommender.signals import NAMES
    from chat_rec.training import ranker

    rng = np.random.default_rng(3)
    cases = []
    for n in range(300):
        Z = rng.normal(size=(len(NAMES), 400)).astype(np.float16)
        target = int(np.argmax(Z[0] * 1.5 + Z[1] * 0.5 + rng.gumbel(size=400)))
        cases.append(ranker.FitCase(Z, np.array([target]), str(n)))
    names = NAMES[:3]
    full = ranker.fit_weights(cases, names)
    monkeypatch.setattr(ranker, "FULL_BATCH_CELLS", 1000)
    monkeypatch.setattr(ranker, "SAMPLED_NEGATIVES", 60)
    sampled = ranker.fit_weights(cases, names)
    assert full[names[0]] > 1.0 and full[names[1]] > 0.3 and abs(full[names[2]]) < 0.2
    for name in names:
        assert sampled[name] == pytest.approx(full[name], abs=0.25)


def test_a_bent_genre_filter_admits_what_people_were_offered_for_such_words_and_nothing_ruled_out():
    """The genre wall bent into the signals: a comedy request also admits the films recommenders offered after
    the nearest recorded requests, though their labels lack Comedy; a genre ruled out stays a wall."""
    from chat_rec.models.encoder import HashEncoder
    from chat_rec.models.index import ExactIndex
    from chat_rec.recommender.intent import Intent
    from chat_rec.recommender.pipeline import UserState
    from chat_rec.training.replay import Replayer

    catalog = Catalog(
        "redial",
        [
            Item(1, "Funny One (2001)", 2001, ("Comedy",)),
            Item(2, "Funny Two (2002)", 2002, ("Comedy",)),
            Item(3, "Dry Drama (2003)", 2003, ("Drama",)),  # what people asking for laughs were offered
            Item(4, "Grim Horror (2004)", 2004, ("Horror", "Drama")),
            Item(5, "Other Drama (2005)", 2005, ("Drama",)),
        ],
    )
    words = "i want something hilarious to laugh at"
    dialogues = [Dialogue(str(n), [Message("seeker", words), Message("recommender", "try @3")]) for n in range(3)] + [
        Dialogue("x", [Message("seeker", "a bleak war story"), Message("recommender", "@5")])
    ]
    enc = HashEncoder(dim=64)
    vectors = enc.encode(catalog.texts())
    agent = Replayer(catalog, ExactIndex(catalog, vectors), vectors, enc).agent(dialogues)
    rec = agent.rec
    state = UserState(request=words)
    intent = Intent(wanted_genres=["Comedy"])
    rec.bend_genres = 0
    assert sorted(rec.candidates(intent, state, k=1)[0].tolist()) == [0, 1]
    rec.bend_genres = 1
    assert sorted(rec.candidates(intent, state, k=1)[0].tolist()) == [0, 1, 2]  # Dry Drama admitted
    ruled_out = Intent(wanted_genres=["Comedy"], unwanted_genres=["Drama"])
    assert sorted(rec.candidates(ruled_out, state, k=1)[0].tolist()) == [0, 1]  # never what was ruled out
