"""The served ranking measured where it is served: the ML-100K ``served`` row through Agent.read + Agent.rank,
the fitted fusion's heads on the real catalog, and `chat-rec train ranker` on a real slice of dialogues."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import require_full_movielens, require_shared

from chat_rec.config import AgentConfig
from chat_rec.recommender.fusion import PACKAGED
from chat_rec.session import Session


def served_chat(served_agent, interactions=None):
    """The served chat (conftest's ``served_agent``: ``build_agent``, the packaged fitted fusion, CF fitted on
    ``interactions``), with no notice about its weights."""
    agent = served_agent(AgentConfig(k=5), interactions=interactions)
    assert agent.rec.fusion.fitted and Path(agent.rec.fusion.path) == PACKAGED and agent.reranker_notice is None
    return agent


@pytest.mark.shared_data
def test_served_row_is_not_below_its_own_cf(ml_parts, served_agent):
    """The whole protocol (seed 0, about 20 s): the chat's own top 5 for "recommend me something" is not
    below rating-weighted EASE beyond noise (the paired bootstrap interval reaches 0 or above)."""
    from chat_rec.evaluation import chatrec_ml100k

    require_full_movielens(ml_parts)
    result = chatrec_ml100k.run(
        ml_parts["interactions"],
        seed=0,
        lambdas=(100.0,),
        progress=False,
        served=lambda train: served_chat(served_agent, train),
    )
    rows = {(r["model"], r["users"]): r for r in result["rows"]}
    served, cf = rows[("served", "all")], rows[("ease-rated", "all")]
    assert served["n_users"] == cf["n_users"] == 930
    paired = result["paired"]["served"]
    assert set(paired) == {"precision@5", "recall@5", "ndcg@5", "against"} and paired["against"] == "ease-rated"
    for metric in ("precision@5", "ndcg@5"):
        assert paired[metric]["ci95"][1] >= 0, (metric, paired[metric], served, cf)
    assert served["precision@5"] > 2 * rows[("popularity", "all")]["precision@5"]
    assert "paired served - ease-rated" in chatrec_ml100k.format_table(result)


def test_a_known_user_asking_for_nothing_uses_the_history_head(served_agent):
    agent = served_chat(served_agent)
    session = Session(user_id=196)
    agent.read("recommend me something", session)
    ranking = agent.rank(session, 5)
    assert ranking.head == "history" and len(ranking.items) == 5
    assert all("cf" in s.parts for s in ranking.items)
    rated = set(agent.user_state(session).history_rows)
    assert not rated & {s.row for s in ranking.items}
    agent.read("something scary from the 80s", session)
    scary = agent.rank(session, 5)
    assert scary.head == "request"
    assert all("Horror" in agent.catalog.items[s.row].genres for s in scary.items)


@pytest.mark.shared_data
def test_train_ranker_on_a_slice_writes_a_versioned_artifact(ml_parts, tmp_path, monkeypatch, capsys):
    """`chat-rec train ranker` on 40 real dialogues: a fitted artifact with provenance that the chat loads."""
    import json

    from chat_rec.cli import main
    from chat_rec.recommender.fusion import FusionModel

    redial = require_shared("redial")
    monkeypatch.setenv("CHATREC_DATA_DIR", str(ml_parts["data"].root))
    monkeypatch.setenv("CHATREC_SHARED_DATA", str(ml_parts["data"].shared_dirs[0]))
    lines = (redial / "kepler_train_subset.jsonl").read_text().splitlines()[:40]
    slice_ = tmp_path / "train40.jsonl"
    slice_.write_text("\n".join(lines) + "\n")
    out, rr = tmp_path / "ranker.json", tmp_path / "reranker.pt"
    assert (
        main(
            [
                "train",
                "ranker",
                "--dialogues",
                str(slice_),
                "--out",
                str(out),
                "--reranker-out",
                str(rr),
                "--reranker-epochs",
                "1",
                "--all",
                "--feedback-users",
                "4",
            ]
        )
        == 0
    )
    model = FusionModel.load(out)
    assert model.fitted and {"request", "history"} <= set(model.heads) <= {"request", "history", "feedback"}
    # provenance anyone can check: data names relative to the team folder (or the bare name), full sha256, git
    files = {f["path"]: f["sha256"] for f in model.meta["files"]}
    assert "train40.jsonl" in files and "redial/movies_with_mentions.csv" in files
    assert not any(p.startswith("/") for p in files) and all(len(h) == 64 for h in files.values())
    assert model.meta["seed"] == 0 and "git" in model.meta
    # --all: the 👍/👎 head fitted in the same run, on people of the fitting half judging by their ratings
    fb = model.meta["fitting"]["feedback"]
    assert fb["people"]["user_model"] == "ratings" and len(fb["people"]["users"]) == 4
    assert fb["kept"] == ("feedback" in model.heads) and fb["log"][0]["try"].startswith("request head")
    assert model.meta["fitting"]["request"]["cases"] > 50
    assert not set(model.heads["request"]) & {"comention", "mentions", "year_pop", "ext_pop", "ext_recent"}
    assert model.heads["history"].get("cf", 0) > 0  # CF leads for a known user
    tree = model.meta["fitting"]["tree"]  # tried; kept only if it beat the linear order
    assert bool(model.trees) == tree["kept"] and set(tree["signals"]) <= set(model.heads["request"])
    assert tree["catalog"] == "redial"  # it serves only the catalog it was fitted on
    assert "wrote" in capsys.readouterr().out
    raw = json.loads(out.read_text())
    assert raw["version"] == 1 and "train ranker" in raw["meta"]["command"]
    assert {"history", "request"} <= set(raw["heads"])

    # the re-ranker trained on the same dialogues: held-out ids recorded, its weight fitted (0 = not served)
    from chat_rec.models.cross_encoder import CrossEncoderReranker

    reranker = CrossEncoderReranker.load(rr)
    meta = reranker.meta
    assert meta["task"] == "dialogues" and meta["n_train_cases"] > 30 and meta["n_heldout_cases"] > 5
    assert len(meta["train_ids"]) + len(meta["heldout_ids"]) == 40 and not set(meta["train_ids"]) & set(
        meta["heldout_ids"]
    )
    rfit = model.meta["fitting"]["reranker"]
    assert rfit["weight"] == meta["fusion_weight"] == model.heads["request"].get("reranker", 0.0)
    assert rfit["heldout"]["fused"]["recall@10"] >= rfit["heldout"]["linear_alone"]["recall@10"]

    # an evaluation with it refits its weight on its held-out dialogues; it refuses evaluated dialogues it saw
    evaluated = tmp_path / "valid20.jsonl"
    evaluated.write_text("\n".join((redial / "kgsf_valid_data.jsonl").read_text().splitlines()[:20]) + "\n")
    result_path = tmp_path / "redial.json"
    args = ["eval", "redial", "--movies", str(redial / "movies_with_mentions.csv"), "--train", str(slice_)]
    assert main(args + ["--dialogues", str(evaluated), "--reranker", str(rr), "--out", str(result_path)]) == 0
    result = json.loads(result_path.read_text())
    assert "reranker" in result["fitting"] and result["fitting"]["reranker"]["cases"] > 5
    assert result["ablations"]["no re-ranker"]["n_cases"] == result["n_cases"]
    seen = tmp_path / "seen.jsonl"
    seen.write_text("\n".join(lines[:10]) + "\n")
    capsys.readouterr()
    assert main(args + ["--dialogues", str(seen), "--reranker", str(rr)]) == 2
    assert "trained on 10 of the evaluated dialogues" in capsys.readouterr().err


def test_bench_turn_fails_when_a_scripts_expectation_fails(ml_parts, tmp_path, monkeypatch, capsys):
    """`chat-rec bench turn` runs the scripts on the served agent and checks their ``expect:`` as the conversation
    tests do: exit 0 when they hold; exit 1 naming the script and turn when one cannot hold."""
    from chat_rec.cli import main

    monkeypatch.setenv("CHATREC_DATA_DIR", str(ml_parts["data"].root))
    monkeypatch.setenv("CHATREC_SHARED_DATA", str((ml_parts["data"].shared_dirs or (tmp_path / "absent",))[0]))
    good, bad = tmp_path / "good", tmp_path / "bad"
    for folder in (good, bad):
        folder.mkdir()
        (folder / "holds.yaml").write_text(
            "turns:\n"
            '  - say: "something scary from the 80s"\n'
            "    expect: {min_items: 5, all_genre: Horror, years: [1980, 1989]}\n"
            '  - say: "why the first one?"\n'
            "    expect: {kind: explain}\n"
        )
    (bad / "impossible.yaml").write_text(
        'turns:\n  - say: "a comedy"\n    expect: {min_items: 1}\n  - say: "a western"\n    expect: {max_items: 0}\n'
    )
    assert main(["bench", "turn", "--llm", "none", "--scripts", str(good)]) == 0
    assert "fail on the served chat" not in capsys.readouterr().err
    assert main(["bench", "turn", "--llm", "none", "--scripts", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "1 expectations" in err and "impossible.yaml turn 2: max_items=0" in err and "holds.yaml" not in err
