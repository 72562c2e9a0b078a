"""ReDial/INSPIRED loading, the first-mention protocol, and that nothing is fitted on the evaluated file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chat_rec.catalog import Catalog, Item
from chat_rec.datasets.dialogues import read_inspired, read_redial
from chat_rec.evaluation.redial import run
from chat_rec.models.encoder import HashEncoder

MOVIES = [
    Item(10, "Alien (1979)", 1979, ("Horror", "Sci-Fi")),
    Item(11, "Aliens (1986)", 1986, ("Action", "Horror")),
    Item(12, "Toy Story (1995)", 1995, ("Animation", "Comedy")),
    Item(13, "Fargo (1996)", 1996, ("Crime",)),
    Item(14, "Heat (1995)", 1995, ("Action", "Crime")),
    Item(15, "Up (2009)", 2009, ("Animation",)),
]


def dialogue(cid, lines, questions=None):
    msgs = [
        {"text": t, "senderWorkerId": 1 if who == "S" else 2, "timeOffset": n, "messageId": n}
        for n, (who, t) in enumerate(lines)
    ]
    return {
        "conversationId": cid,
        "movieMentions": {},
        "initiatorQuestions": questions if questions is not None else {},
        "respondentQuestions": {},
        "messages": msgs,
        "initiatorWorkerId": 1,
        "respondentWorkerId": 2,
    }


@pytest.fixture
def catalog():
    return Catalog("redial-mini", list(MOVIES))


def write(path, records, extra_lines=()):
    path.write_text("\n".join([json.dumps(r) for r in records] + list(extra_lines)) + "\n")
    return path


def test_read_redial_counts_malformed_lines(tmp_path):
    path = write(
        tmp_path / "d.jsonl",
        [dialogue("a", [("S", "hi")], questions=[])],
        extra_lines=["{not json", json.dumps({"messages": "nope"}), ""],
    )
    f = read_redial(path)
    assert len(f.dialogues) == 1 and f.malformed == 2
    assert f.dialogues[0].questions == {}  # ReDial sometimes stores [] here


def _agent(catalog, dialogues=(), fusion=None):
    from chat_rec.models.index import ExactIndex
    from chat_rec.training.replay import Replayer

    enc = HashEncoder(dim=32)
    vectors = enc.encode(catalog.texts())
    return Replayer(catalog, ExactIndex(catalog, vectors), vectors, enc).agent(list(dialogues), fusion)


def test_first_mentions_are_targets_with_the_dialogue_before(tmp_path, catalog):
    from chat_rec.training.replay import count_cases, replay

    d = dialogue(
        "a",
        [
            ("S", "I loved @10 , something like it?"),
            ("R", ""),
            ("R", "Have you seen @11 or @10 ?"),
            ("S", "yes @11 was great"),
            ("R", "Then @11 again, or @99999 , or @12"),
        ],
        questions={
            "10": {"suggested": 0, "seen": 1, "liked": 1},
            "11": {"suggested": 1, "seen": 1, "liked": 1},
            "12": {"suggested": 1, "seen": 0, "liked": 0},
        },
    )
    dialogues = read_redial(write(tmp_path / "d.jsonl", [d])).dialogues
    agent = _agent(catalog)
    seen = []
    for case, session in replay(agent, dialogues[0]):
        seen.append(
            (
                catalog.items[case.target].id,
                case.liked_target,
                list(session.mentioned),
                list(session.liked),
                list(session.messages),
            )
        )
        ranked = [catalog.items[s.row].id for s in agent.rank(session, 50).items]
        assert not set(session.mentioned) & set(ranked)  # mentioned movies never come back
    assert [s[0] for s in seen] == [11, 12]  # @10 came from the seeker first; @11 repeats; @99999 unknown
    assert count_cases(dialogues, catalog) == (1, 1)
    (_t1, liked1, mentioned1, likes1, msgs1), (_t2, liked2, mentioned2, likes2, _) = seen
    assert msgs1 == ["I loved Alien (1979) , something like it?"]  # the seeker's words, titles as typed
    assert mentioned1 == [10] and likes1 == [10]  # read "I loved ..." and the questionnaire
    assert liked1 and not liked2
    assert mentioned2 == [10, 11] and set(likes2) == {10, 11}


def test_text_only_replay_ignores_the_questionnaire(tmp_path, catalog):
    from chat_rec.training.replay import replay

    d = dialogue(
        "a",
        [("S", "any ideas?"), ("R", "@13 maybe?"), ("S", "ok"), ("R", "or @14")],
        questions={"13": {"suggested": 1, "seen": 1, "liked": 0}},
    )
    d0 = read_redial(write(tmp_path / "d.jsonl", [d])).dialogues[0]
    agent = _agent(catalog)
    with_q = [list(s.disliked) for _, s in replay(agent, d0)]
    without = [list(s.disliked) for _, s in replay(agent, d0, questionnaire=False)]
    assert with_q == [[], [13]] and without == [[], []]


def test_served_ranking_is_the_fused_signal_matrix(tmp_path, catalog):
    """What ``Agent.rank`` serves equals the fitted weights applied to ``Agent.signals`` (the fitting's view)."""
    from chat_rec.recommender.fusion import FusionModel
    from chat_rec.training.replay import replay_all

    d = [
        dialogue(f"a{n}", [("S", "a scary movie like @10 please"), ("R", "@11 ?"), ("S", "no crime"), ("R", "@15")])
        for n in range(3)
    ]
    dialogues = read_redial(write(tmp_path / "d.jsonl", d)).dialogues
    fusion = FusionModel({"request": {"ref_max": 1.0, "pop": 0.5, "genre": 0.7, "year": -0.2}}, {"fitted": True})
    agent = _agent(catalog, dialogues, fusion)
    checked = 0
    for _case, session in replay_all(agent, dialogues):
        served = [s.row for s in agent.rank(session, 50).items]
        cand, Z, head = agent.signals(session)
        order = cand[np.argsort(-(fusion.vector(head) @ Z), kind="stable")]
        assert served == order.tolist()
        checked += 1
    assert checked == 6


def test_the_tree_stage_ranks_on_the_served_path(tmp_path, catalog):
    """With a tree stage, ``Agent.rank`` is ``stage_scores`` over ``Agent.signals``: the fitting's view."""
    import lightgbm

    from chat_rec.recommender.fusion import FusionModel, TreeStage, stage_scores
    from chat_rec.training.replay import replay_all

    d = [
        dialogue(f"a{n}", [("S", "a scary movie like @10 please"), ("R", "@11 ?"), ("S", "no crime"), ("R", "@15")])
        for n in range(3)
    ]
    dialogues = read_redial(write(tmp_path / "d.jsonl", d)).dialogues

    names = ("ref_max", "pop", "genre", "year")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, len(names) + 3))
    booster = lightgbm.train(
        {"objective": "lambdarank", "num_leaves": 3, "min_data_in_leaf": 5, "verbose": -1},
        lightgbm.Dataset(X, (X[:, 3] > 0.5).astype(float), group=[20] * 20),
        10,
    )
    weights = {"ref_max": 1.0, "pop": 0.5, "genre": 0.7, "year": -0.2}
    fusion = FusionModel(
        {"request": weights}, {"fitted": True}, "", {"request": TreeStage(names, 4, booster.model_to_string())}
    )
    agent = _agent(catalog, dialogues, fusion)
    differs = 0
    for _case, session in replay_all(agent, dialogues):
        served = [s.row for s in agent.rank(session, 50).items]
        cand, Z, head = agent.signals(session)
        assert served == cand[np.argsort(-stage_scores(fusion, head, Z), kind="stable")].tolist()
        differs += served != cand[np.argsort(-(fusion.vector(head) @ Z), kind="stable")].tolist()
    assert differs  # the tree did re-order some lists


def test_nothing_is_fitted_on_the_evaluated_file(tmp_path, catalog):
    """Heat (14) is recommended in every evaluated dialogue and never in training: if statistics or weights
    came from the evaluated file, popularity would put it first."""
    from chat_rec.models.index import ExactIndex

    train = [
        dialogue(f"t{n}", [("S", "any crime movie? I liked @13"), ("R", "try @11 then"), ("R", "or @15")])
        for n in range(6)
    ]
    evaluated = [dialogue(f"e{n}", [("S", "something good"), ("R", "@14 is great")]) for n in range(8)]
    tf = read_redial(write(tmp_path / "train.jsonl", train))
    ef = read_redial(write(tmp_path / "eval.jsonl", evaluated))
    enc = HashEncoder(dim=32)
    vectors = enc.encode(catalog.texts())
    index = ExactIndex(catalog, vectors)
    result = run(ef, [tf], catalog, vectors, enc, index, progress=False)
    assert result["n_cases"] == 8
    assert result["baselines"]["popularity"]["recall@1"] == 0.0  # 1.0 if the evaluated file were counted
    altered = read_redial(write(tmp_path / "eval2.jsonl", evaluated[:3]))
    again = run(altered, [tf], catalog, vectors, enc, index, progress=False)
    assert again["weights"] == result["weights"]  # weights depend on the training file only
    assert result["fitted_on"] == [str(tmp_path / "train.jsonl")]
    assert set(result) >= {
        "n_cases",
        "recall@1",
        "recall@10",
        "recall@50",
        "liked_only",
        "text_only",
        "baselines",
        "ablations",
        "turns_per_second",
    }
    assert set(result["text_only"]) == {"n_cases", "recall@1", "recall@10", "recall@50", "user_centric"}
    assert set(result["ablations"]) == {"hand-set defaults", "no re-ranker", "no CF", "text signals only"}


def test_inspired_titles_become_mentions(tmp_path, catalog):
    rows = [
        "dialog_id\tutt_id\tspeaker\tturn_id\ttext\tmovies\tcoarse_label",
        "d1\t1\tRECOMMENDER\t1\tWhat do you like?\t\taccept_new",
        "d1\t2\tSEEKER\t1\tI liked Fargo a lot\tFargo (1996)\taccept_new",
        "d1\t3\tRECOMMENDER\t2\tYou should see Heat\tHeat (1995)\taccept_new",
        "d2\t1\tRECOMMENDER\t1\tTry Up (2009)\tUp (2009)\treject_new",
    ]
    path = tmp_path / "dev.tsv"
    path.write_text("\n".join(rows) + "\n")
    f = read_inspired(path, catalog)
    assert [d.accepted for d in f.dialogues] == [True, False]
    from chat_rec.training.replay import replay_all

    got = [(catalog.items[c.target].id, list(s.mentioned)) for c, s in replay_all(_agent(catalog), f.dialogues)]
    assert got == [(14, [13])]


def test_rule_parser_on_a_catalog_without_genres():
    from chat_rec.recommender.intent import RuleParser

    bare = Catalog("bare", [Item(1, "Heat (1995)", 1995), Item(2, "Up (2009)", 2009)])
    intent = RuleParser(bare).parse("something scary from the 80s")
    assert intent.wanted_genres == [] and intent.year_min == 1980


def test_fit_weights_finds_the_informative_signal():
    """Cases whose positive carries a high ``ref_max`` (and nothing else): the fitted weight says so, the
    absent signals stay 0, the fit is deterministic, and signals left out of ``names`` are 0."""
    from chat_rec.recommender.signals import NAMES, matrix
    from chat_rec.training.ranker import FitCase, fit_weights

    rng = np.random.default_rng(0)
    pop = rng.normal(size=300)
    cases = []
    for _ in range(60):
        raw = {"ref_max": rng.normal(size=300), "sem": rng.normal(size=300), "pop": pop}
        target = int(rng.integers(300))
        raw["ref_max"][target] += 2.5
        cases.append(FitCase(matrix(raw, 300), np.array([target])))
    weights = fit_weights(cases)
    assert set(weights) == set(NAMES)
    assert weights["ref_max"] > 1.0 > abs(weights["sem"]) and abs(weights["pop"]) < 0.5
    assert all(weights[n] == 0 for n in NAMES if n not in ("ref_max", "sem", "pop"))
    assert fit_weights(cases) == weights  # deterministic
    assert set(fit_weights(cases, ["sem", "pop"])) == {"sem", "pop"}


def test_asked_contexts_are_the_seekers_words_before_each_first_suggestion(tmp_path, catalog):
    from chat_rec.recommender.side import asked_contexts

    d = read_redial(
        write(
            tmp_path / "d.jsonl",
            [
                dialogue(
                    "a",
                    [
                        ("R", "hi, try @15"),  # nothing said yet: no request to learn from
                        ("S", "something scary in space"),
                        ("R", "@10 then, or @11"),
                        ("S", "I saw @10"),
                        ("R", "@10 again, and @14"),  # @10 is not a first mention any more
                    ],
                )
            ],
        )
    ).dialogues
    texts, rows = asked_contexts(catalog, d)
    assert texts == ["something scary in space"] * 2 + ["something scary in space I saw Alien (1979)"]
    assert rows.tolist() == [catalog.row(10), catalog.row(11), catalog.row(14)]


def test_the_asked_signal_scores_what_recommenders_suggested_after_similar_words(tmp_path, catalog):
    from chat_rec.models.encoder import HashEncoder
    from chat_rec.recommender import signals as sig
    from chat_rec.recommender.intent import Intent
    from chat_rec.recommender.side import dialogue_side

    records = [
        dialogue("a", [("S", "scary space horror"), ("R", "try @10")]),
        dialogue("b", [("S", "a cartoon for kids"), ("R", "try @12")]),
        dialogue("c", [("S", "cartoon for kids please"), ("R", "@15 is lovely")]),
    ]
    dialogues = read_redial(write(tmp_path / "d.jsonl", records)).dialogues
    enc = HashEncoder(dim=1024)
    side = dialogue_side(catalog, dialogues, encode=enc.encode)
    assert side.asked_vectors.shape == (3, 1024) and side.asked_rows.tolist() == [catalog.row(i) for i in (10, 12, 15)]
    f = sig.CatalogFeatures.build(catalog, enc.encode(catalog.texts()), side, catalog.texts())
    cand = np.arange(len(catalog))
    words = enc.encode(["cartoon for kids"])[0]
    v = sig.asked(f, sig.Request(Intent(), words_vector=words), cand)
    kids = {catalog.row(12), catalog.row(15)}
    assert set(np.argsort(-v)[:2].tolist()) == kids and v[catalog.row(13)] == 0.0  # never suggested: 0
    assert np.allclose(sig.asked_wide(f, sig.Request(Intent(), words_vector=words), cand), v)  # 3 < 10 requests
    assert sig.asked(f, sig.Request(Intent()), cand) is None  # no words yet: absent
    bare = sig.CatalogFeatures.build(catalog, f.vectors, dialogue_side(catalog, dialogues), catalog.texts())
    assert sig.asked(bare, sig.Request(Intent(), words_vector=words), cand) is None  # no encoded corpus: absent
