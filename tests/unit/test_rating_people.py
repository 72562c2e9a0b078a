"""People who judge by their own ratings (`eval simulate --user-model ratings`), and the ranker's provenance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from chat_rec.catalog import build_interactions
from chat_rec.evaluation.simulate import (
    Talker,
    choose_rating_people,
    make_rating_people,
    rating_halves,
    verdict,
    without_users,
)
from chat_rec.recommender.fusion import PACKAGED, FusionModel, describe, load_fusion
from chat_rec.training.ranker import data_name, file_digest, git_commit


def person(ratings):
    return Talker("u", 0, ["Horror"], 1980, [], None, ratings)


def test_the_verdict_is_the_persons_own_rating():
    p = person({1: 5.0, 2: 4.0, 3: 3.0, 4: 2.0, 5: 1.0})
    assert [verdict(None, None, p, r) for r in (1, 2, 3, 4, 5, 6)] == ["up", "up", None, "down", "down", None]


def test_the_genre_rule_people_still_judge_by_closeness(tiny_catalog):
    vectors = np.eye(len(tiny_catalog), dtype=np.float32)
    p = Talker("u", 0, ["Horror", "Sci-Fi"], 1979, [], None)  # no ratings: the closeness rule
    assert verdict(tiny_catalog, vectors, p, 0) == "up" and verdict(tiny_catalog, vectors, p, 2) == "down"


@pytest.fixture
def ratings(tiny_catalog):
    rng = np.random.default_rng(0)
    rows = [(u, i, float(rng.integers(1, 6)), 0) for u in range(1, 41) for i in range(1, 8)]
    rows += [(u, 1, 5.0, 0) for u in range(41, 45)]  # every user has a 5 somewhere
    return build_interactions(tiny_catalog, rows)


def test_the_halves_are_disjoint_seeded_and_cover_everyone_with_a_five(ratings):
    a, b = rating_halves(ratings)
    assert (a, b) == rating_halves(ratings) and not set(a) & set(b)
    fives = {ratings.user_ids[u] for u in ratings.user_rows[ratings.ratings >= 5].tolist()}
    assert set(a) | set(b) == fives and abs(len(a) - len(b)) <= 1
    assert rating_halves(ratings, seed=1) != (a, b)


def test_the_agent_sees_none_of_their_ratings_and_they_never_judge_their_target(tiny_catalog, ratings):
    users = rating_halves(ratings)[0]
    targets = choose_rating_people(ratings, users, 5, seed=1)
    assert targets == choose_rating_people(ratings, users, 5, seed=1) and len(targets) == 5
    for uid, row in targets:
        rows, values = ratings.history(uid)
        assert uid in users and values[list(rows).index(row)] == 5.0  # the target is one of their 5s
    mask = without_users(ratings, [uid for uid, _ in targets])
    seen = ratings.subset(mask)
    assert not {uid for uid, _ in targets} & {seen.user_ids[u] for u in set(seen.user_rows.tolist())}
    assert mask.sum() == len(ratings) - 7 * 5 - sum(uid > 40 for uid, _ in targets)
    vectors = np.eye(len(tiny_catalog), dtype=np.float32)
    for p, (uid, row) in zip(make_rating_people(tiny_catalog, vectors, ratings, targets, seed=1), targets):
        rows, values = ratings.history(uid)
        assert p.target_row == row and row not in p.ratings
        assert p.ratings == {int(r): float(v) for r, v in zip(rows, values) if int(r) != row}


def test_provenance_names_data_files_relative_with_their_full_sha256(tmp_path, monkeypatch):
    team = tmp_path / "shared" / "data"
    (team / "redial").mkdir(parents=True)
    f = team / "redial" / "train.jsonl"
    f.write_text("{}\n")
    elsewhere = tmp_path / "mine.csv"
    elsewhere.write_text("id\n")
    monkeypatch.chdir(tmp_path / "shared")
    assert data_name(f, [team]) == "redial/train.jsonl"
    assert data_name(f, []) == "data/redial/train.jsonl"  # relative to the working folder
    assert data_name(Path("/") / "x" / "nowhere.csv", [team]) == "nowhere.csv"
    digest = file_digest(f, [team])
    assert digest["path"] == "redial/train.jsonl" and len(digest["sha256"]) == 64
    commit = git_commit()  # this checkout is a git repository
    assert commit is None or len(commit.split("+")[0]) == 40


def test_the_packaged_ranker_carries_no_machine_paths():
    meta = json.loads(PACKAGED.read_text())["meta"]
    assert meta["files"] and not any(f["path"].startswith("/") for f in meta["files"])
    assert all(len(f["sha256"]) == 64 for f in meta["files"]) and meta.get("git")
    assert "--out chat_rec/recommender/ranker.json" in meta["command"] and "--all" in meta["command"]


def test_which_ranker_serves_is_said(tmp_path):
    packaged, _ = load_fusion("auto", models_dir=tmp_path / "none")
    assert describe(packaged).startswith("the packaged fitted weights")
    local = tmp_path / "models" / "ranker.json"
    FusionModel({"request": {"pop": 1.0}}, {"fitted": True, "git": "abc", "created": "2026-12-07T10:00:00Z"}).save(
        local
    )
    mine, _ = load_fusion("auto", models_dir=tmp_path / "models")
    assert "your refit" in describe(mine) and "instead of the packaged" in describe(mine)
    defaults, _ = load_fusion("defaults")
    assert describe(defaults).startswith("hand-set default weights")


def test_a_refit_goes_only_where_out_says(capsys, tmp_path):
    from chat_rec.cli import main

    assert main(["train", "ranker"]) == 2
    err = capsys.readouterr().err
    assert "--out data/models/ranker.json" in err and "make ranker" in err
    assert main(["train", "feedback"]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["train", "ranker", "--out", str(tmp_path)]) == 2  # said before the fit, not after it
    assert f"cannot write the fitted ranker to {tmp_path}" in capsys.readouterr().err
