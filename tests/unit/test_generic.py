"""Any catalog by data: items CSV/JSONL and interactions CSV."""

import json

import pytest

from chat_rec.datasets.generic import load_interactions, load_items
from chat_rec.errors import DataFormatError, DataNotFoundError, EmptyCatalogError


def test_csv_items_with_optional_columns(tmp_path):
    path = tmp_path / "songs.csv"
    path.write_text(
        "id,title,genres,year,description\n"
        "s1,Blue Monday,Synth-pop|Dance,1983,A drum machine classic.\n"
        "s2,Jolene,Country,,\n"
    )
    catalog = load_items(path)
    assert catalog.name == "songs" and len(catalog) == 2
    assert catalog.item("s1").genres == ("Synth-pop", "Dance") and catalog.item("s1").year == 1983
    assert catalog.item("s2").year is None and catalog.item("s2").description == ""


def test_people_and_facts_columns_answer_questions_on_any_catalog(tmp_path):
    from chat_rec.dialogue.answers import Answers
    from chat_rec.people import People

    path = tmp_path / "films.csv"
    path.write_text(
        "id,title,genres,director,cast,runtime,age_rating\n"
        "f1,Night Train,Thriller,Ada Lind,Bo Rask|Cy Moor,104 min,PG-13\n"
        "f2,Day Boat,Comedy,Ada Lind,,,\n"
    )
    catalog = load_items(path)
    night = catalog.item("f1")
    assert night.runtime == 104 and night.age_rating == "PG-13" and night.cast == ("Bo Rask", "Cy Moor")
    assert catalog.item("f2").runtime is None and catalog.item("f2").age_rating == ""
    assert [m.name for m in People(catalog).find("anything by Ada Lind?")] == ["Ada Lind"]
    answers = Answers(catalog)
    assert "104 minutes" in answers.answer(night, "runtime") and "PG-13" in answers.answer(night, "age_rating")
    assert "don't know" in answers.answer(catalog.item("f2"), "cast")


def test_jsonl_items_with_tags_and_integer_ids(tmp_path):
    path = tmp_path / "books.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"id": 1, "title": "Dune", "tags": ["science fiction", "desert"], "year": 1965},
                {"id": 2, "title": "Emma"},
            ]
        )
        + "\n"
    )
    catalog = load_items(path)
    assert catalog.item(1).genres == ("science fiction", "desert")
    assert 2 in catalog and "2" not in catalog  # ids that are all integers become ints


def test_missing_required_columns_lists_expected(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("name,genres\nDune,scifi\n")
    with pytest.raises(DataFormatError, match=r"missing required column\(s\) id, title; expected columns: id, title"):
        load_items(path)
    header_only = tmp_path / "header.csv"
    header_only.write_text("name,year\n")
    with pytest.raises(DataFormatError, match="expected columns"):
        load_items(header_only)


def test_empty_catalog_and_missing_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("id,title\n")
    with pytest.raises(EmptyCatalogError):
        load_items(path)
    with pytest.raises(DataNotFoundError):
        load_items(tmp_path / "absent.csv")


def test_bad_jsonl_line_is_named(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": 1, "title": "a"}\n{oops\n')
    with pytest.raises(DataFormatError, match=r"x\.jsonl:2"):
        load_items(path)


def test_interactions_against_catalog(tmp_path):
    items = tmp_path / "items.csv"
    items.write_text("id,title\nb1,Dune\nb2,Emma\n")
    catalog = load_items(items)
    inter_path = tmp_path / "inter.csv"
    inter_path.write_text("user,item,rating,timestamp\nu1,b1,5,100\nu1,b2,,\nu2,b2,3,5\n")
    inter = load_interactions(inter_path, catalog)
    assert inter.n_users == 2 and inter.ratings.tolist() == [5.0, 1.0, 3.0]
    inter_path.write_text("user,item\nu1,b9\n")
    with pytest.raises(DataFormatError, match=r"inter\.csv:2: item 'b9' is not in the catalog"):
        load_interactions(inter_path, catalog)
    inter_path.write_text("who,what\nu1,b1\n")
    with pytest.raises(DataFormatError, match="expected columns: user, item, rating, timestamp"):
        load_interactions(inter_path, catalog)
