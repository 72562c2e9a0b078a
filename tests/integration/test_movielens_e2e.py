"""MovieLens-100K (or the committed slice) end to end with the real encoder and FAISS, and the Chat-REC table
(team data)."""

import json

import pytest

from chat_rec.cli import main
from chat_rec.evaluation import chatrec_ml100k
from chat_rec.models.index import SearchFilter, build_item_index


@pytest.fixture(scope="module")
def ml_index(ml_parts):
    return ml_parts["catalog"], ml_parts["interactions"], ml_parts["built"], ml_parts["data"]


def test_space_survival_horror_finds_alien(ml_index):
    catalog, _, built, _ = ml_index
    top5 = [catalog.item(h.item_id).title for h in built.search_text("space survival horror", 5)]
    assert {"Alien (1979)", "Aliens (1986)"} & set(top5), top5


def test_filters_on_the_real_catalog(ml_index):
    catalog, _, built, _ = ml_index
    flt = SearchFilter(require_genres=("Horror",), forbid_genres=("Comedy",), year_min=1980, year_max=1989)
    hits = built.search_text("something scary", 10, flt)
    matching = sum(
        "Horror" in i.genres and "Comedy" not in i.genres and 1980 <= (i.year or 0) <= 1989 for i in catalog.items
    )
    assert matching >= 5 and len(hits) == min(10, matching)
    for h in hits:
        item = catalog.item(h.item_id)
        assert "Horror" in item.genres and "Comedy" not in item.genres and 1980 <= item.year <= 1989


def test_second_build_uses_the_cache(ml_index, minilm):
    catalog, _, _, data = ml_index
    again = build_item_index(catalog, minilm, data, show_progress=False)
    assert again.embeddings_cached and again.embed_seconds == 0.0


@pytest.mark.slow
@pytest.mark.shared_data
def test_chatrec_table_reaches_the_issue_numbers(tmp_path, monkeypatch, capsys):
    from conftest import require_shared

    require_shared("ml-100k")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHATREC_SHARED_DATA", str(require_shared()))
    out = tmp_path / "results" / "chatrec.json"
    assert main(["eval", "chatrec-ml100k", "--seed", "0", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "paper: Chat-REC text-davinci-003" in printed
    result = json.loads(out.read_text())
    assert result["protocol"] == "chatrec-ml100k" and result["seed"] == 0
    rows = {(r["model"], r["users"]): r for r in result["rows"]}
    assert rows[("ease-rated", "sample200")]["n_users"] == 200
    pop, ease, rated = rows[("popularity", "all")], rows[("ease", "all")], rows[("ease-rated", "all")]
    assert 900 <= rated["n_users"] <= 943
    assert rated["precision@5"] >= 0.345 and rated["ndcg@5"] >= 0.40
    assert ease["precision@5"] >= 0.32 and ease["ndcg@5"] >= 0.37
    assert 0.13 <= pop["precision@5"] <= 0.17 and 0.07 <= pop["recall@5"] <= 0.10 and 0.14 <= pop["ndcg@5"] <= 0.19
    assert all(0 <= r["recall@5"] <= r["recall@20"] <= 1 for r in result["rows"])
    assert result["strongest_cf"] == "ease-rated"


def test_split_is_seeded_and_disjoint(ml_index):
    _, interactions, _, _ = ml_index
    a = chatrec_ml100k.split_per_user(interactions, 0)
    assert (a == chatrec_ml100k.split_per_user(interactions, 0)).all()
    assert (a != chatrec_ml100k.split_per_user(interactions, 1)).any()
    assert 0.19 < a.mean() < 0.22
