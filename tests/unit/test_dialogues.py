"""ReDial/INSPIRED loading, the first-mention protocol, and that nothing is fitted on the evaluated file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chat_rec.catalog import Catalog, Item
from chat_rec.datasets.dialogues import DialogueFile, read_inspired, read_redial
from chat_rec.evaluation.redial import extract_cases, run
from chat_rec.models.encoder import HashEncoder

MOVIES = [Item(10, "Alien (1979)", 1979, ("Horror", "Sci-Fi")), Item(11, "Aliens (1986)", 1986, ("Action", "Horror")),
          Item(12, "Toy Story (1995)", 1995, ("Animation", "Comedy")), Item(13, "Fargo (1996)", 1996, ("Crime",)),
          Item(14, "Heat (1995)", 1995, ("Action", "Crime")), Item(15, "Up (2009)", 2009, ("Animation",))]


def dialogue(cid, lines, questions=None):
    msgs = [{"text": t, "senderWorkerId": 1 if who == "S" else 2, "timeOffset": n, "messageId": n}
            for n, (who, t) in enumerate(lines)]
    return {"conversationId": cid, "movieMentions": {}, "initiatorQuestions": questions if questions is not None else {},
            "respondentQuestions": {}, "messages": msgs, "initiatorWorkerId": 1, "respondentWorkerId": 2}


@pytest.fixture
def catalog():
    return Catalog("redial-mini", list(MOVIES))


def write(path, records, extra_lines=()):
    path.write_text("\n".join([json.dumps(r) for r in records] + list(extra_lines)) + "\n")
    return path


def test_read_redial_counts_malformed_lines(tmp_path):
    path = write(tmp_path / "d.jsonl", [dialogue("a", [("S", "hi")], questions=[])],
                 extra_lines=["{not json", json.dumps({"messages": "nope"}), ""])
    f = read_redial(path)
    assert len(f.dialogues) == 1 and f.malformed == 2
    assert f.dialogues[0].questions == {}                         # ReDial sometimes stores [] here


def test_first_mentions_are_targets_with_the_dialogue_before(tmp_path, catalog):
    d = dialogue("a", [("S", "I loved @10 , something like it?"), ("R", ""),
                       ("R", "Have you seen @11 or @10 ?"), ("S", "yes @11 was great"),
                       ("R", "Then @11 again, or @99999 , or @12")],
                 questions={"10": {"suggested": 0, "seen": 1, "liked": 1}, "11": {"suggested": 1, "seen": 1, "liked": 1},
                            "12": {"suggested": 1, "seen": 0, "liked": 0}})
    stats = extract_cases(read_redial(write(tmp_path / "d.jsonl", [d])).dialogues, catalog)
    targets = [catalog.items[c.target].id for c in stats.cases]
    assert targets == [11, 12]                     # @10 came from the seeker first; @11 repeats; @99999 unknown
    assert stats.unknown_mentions == 1 and stats.empty_messages == 1
    first, second = stats.cases
    assert "Alien (1979)" in first.context.seeker_text and "@" not in first.context.seeker_text
    assert [catalog.items[r].id for r in first.context.mentioned] == [10]
    assert [catalog.items[r].id for r in first.context.liked] == [10]
    assert first.liked_target and not second.liked_target
    assert [catalog.items[r].id for r in second.context.mentioned] == [10, 11]


def test_nothing_is_fitted_on_the_evaluated_file(tmp_path, catalog):
    """Heat (14) is recommended in every evaluated dialogue and never in training: if statistics or weights
    came from the evaluated file, popularity would put it first."""
    train = [dialogue(f"t{n}", [("S", "any crime movie? I liked @13"), ("R", "try @11 then"), ("R", "or @15")])
             for n in range(6)]
    evaluated = [dialogue(f"e{n}", [("S", "something good"), ("R", "@14 is great")]) for n in range(8)]
    tf = read_redial(write(tmp_path / "train.jsonl", train))
    ef = read_redial(write(tmp_path / "eval.jsonl", evaluated))
    vectors = HashEncoder(dim=32).encode([it.title for it in catalog.items])
    result = run(ef, [tf], catalog, vectors, HashEncoder(dim=32), progress=False)
    heat_cases = [c for c in extract_cases(ef.dialogues, catalog).cases if catalog.items[c.target].id == 14]
    assert len(heat_cases) == 8
    assert result["n_cases"] == 8
    assert result["baselines"]["popularity"]["recall@1"] == 0.0     # 1.0 if the evaluated file were counted
    altered = read_redial(write(tmp_path / "eval2.jsonl", evaluated[:3]))
    again = run(altered, [tf], catalog, vectors, HashEncoder(dim=32), progress=False)
    assert again["weights"] == result["weights"]                    # weights depend on the training file only
    assert result["fitted_on"] == [str(tmp_path / "train.jsonl")]
    assert set(result) >= {"n_cases", "recall@1", "recall@10", "recall@50", "liked_only", "baselines", "turns_per_second"}


def test_inspired_titles_become_mentions(tmp_path, catalog):
    rows = ["dialog_id\tutt_id\tspeaker\tturn_id\ttext\tmovies\tcoarse_label",
            "d1\t1\tRECOMMENDER\t1\tWhat do you like?\t\taccept_new",
            "d1\t2\tSEEKER\t1\tI liked Fargo a lot\tFargo (1996)\taccept_new",
            "d1\t3\tRECOMMENDER\t2\tYou should see Heat\tHeat (1995)\taccept_new",
            "d2\t1\tRECOMMENDER\t1\tTry Up (2009)\tUp (2009)\treject_new"]
    path = tmp_path / "dev.tsv"
    path.write_text("\n".join(rows) + "\n")
    f = read_inspired(path, catalog)
    assert [d.accepted for d in f.dialogues] == [True, False]
    stats = extract_cases(f.dialogues, catalog)
    assert [catalog.items[c.target].id for c in stats.cases] == [14]
    assert [catalog.items[r].id for r in stats.cases[0].context.mentioned] == [13]


def test_rule_parser_on_a_catalog_without_genres():
    from chat_rec.recommender.intent import RuleParser

    bare = Catalog("bare", [Item(1, "Heat (1995)", 1995), Item(2, "Up (2009)", 2009)])
    intent = RuleParser(bare).parse("something scary from the 80s")
    assert intent.wanted_genres == [] and intent.year_min == 1980


def _synthetic(n_items=400, n_cases=60, seed=0):
    """Cases whose target carries a high ``simitem`` and, only among the 40 most popular, a high ``sem``."""
    rng = np.random.default_rng(seed)
    pop = rng.normal(size=n_items)
    cases = []
    for _ in range(n_cases):
        sig = {"simitem": rng.normal(size=n_items), "sem": rng.normal(size=n_items), "pop": pop}
        target = int(rng.integers(n_items))
        sig["simitem"][target] += 2.5
        cases.append((sig, target))
    return pop, cases


def test_fit_linear_weights_the_informative_signal():
    from chat_rec.recommender.dialogue import SIGNALS, fit_linear, signal_matrix

    _, cases = _synthetic()
    weights = fit_linear([(signal_matrix(sig, 400), [], t) for sig, t in cases])
    assert set(weights) == set(SIGNALS)
    assert weights["simitem"] > 1.0 > abs(weights["sem"]) and abs(weights["pop"]) < 0.5
    again = fit_linear([(signal_matrix(sig, 400), [], t) for sig, t in cases])
    assert again == weights                                              # deterministic


def test_ltr_stage_reorders_the_linear_top(catalog):
    """A tree model fitted by ``fit_ltr`` re-orders candidates; ``use_ltr=False`` keeps the linear order, and
    mentioned movies never come back."""
    from chat_rec.recommender.dialogue import DialogueContext, DialogueRecommender, fit_ltr

    items = [Item(i, f"Movie {i}", 1990 + i % 20) for i in range(400)]
    big = Catalog("synthetic", items)
    rec = DialogueRecommender(big, np.eye(400, 8, dtype=np.float32), HashEncoder(dim=8),
                              weights={"simitem": 1.0, "pop": 0.2})
    _, cases = _synthetic()
    ctx = DialogueContext("", [5, 6])
    model = fit_ltr(rec, [(sig, ctx, t) for sig, t in cases])
    assert model is not None
    sig, target = cases[0]
    linear = rec.rank(ctx, 50, sig=sig)
    rec.ltr = model
    reordered = rec.rank(ctx, 50, sig=sig)
    assert list(rec.rank(ctx, 50, sig=sig, use_ltr=False)) == list(linear)
    assert len(reordered) == 50 and not {5, 6} & set(reordered.tolist())
    assert sorted(rec.rank(ctx, 300, sig=sig).tolist()) == sorted(rec.rank(ctx, 300, sig=sig, use_ltr=False).tolist())
