"""The official MovieLens-100K format: parsing, errors naming file and line, IMDb details."""

import pytest
from helpers import write_ml

from chat_rec.datasets.movielens import load_movielens_100k, read_details
from chat_rec.errors import DataFormatError, DataNotFoundError


def test_loads_items_ratings_users(tmp_path):
    catalog, inter = load_movielens_100k(write_ml(tmp_path / "ml"))
    assert len(catalog) == 3 and len(inter) == 3 and inter.n_users == 2
    shining = catalog.item(2)
    assert shining.year == 1980 and shining.genres == ("Horror",)
    assert catalog.item(267).year is None and catalog.item(267).genres == ("unknown",)
    rows, ratings = inter.history(10)
    assert [catalog.items[r].id for r in rows] == [1, 2] and ratings.tolist() == [5, 3]
    assert inter.users[11]["occupation"] == "other"


def test_malformed_line_names_file_and_line(tmp_path):
    d = write_ml(tmp_path / "ml", ["10\t1\t5\t881250949\n", "10\tTWO\t3\n"])
    with pytest.raises(DataFormatError, match=r"u\.data:2: expected 4 tab-separated integers"):
        load_movielens_100k(d)


def test_unknown_item_in_ratings(tmp_path):
    d = write_ml(tmp_path / "ml", ["10\t99\t5\t881250949\n"])
    with pytest.raises(DataFormatError, match=r"not in u.item"):
        load_movielens_100k(d)


def test_missing_directory_and_files(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"does not exist.*chat-rec data fetch"):
        load_movielens_100k(tmp_path / "nowhere")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "u.data").write_text("")
    with pytest.raises(DataNotFoundError, match=r"u.item, u.user"):
        load_movielens_100k(tmp_path / "half")


def test_details_attach_descriptions_but_not_genres(tmp_path):
    details = tmp_path / "details.csv"
    details.write_text(
        "movie_id,movie_title,description,director,cast,genre\n"
        "2,\"Shining, The (1980)\",A writer goes mad.,['Stanley Kubrick'],\"['Jack Nicholson']\",['Comedy']\n"
    )
    catalog, _ = load_movielens_100k(write_ml(tmp_path / "ml"), details=details)
    shining = catalog.item(2)
    assert shining.description == "A writer goes mad." and shining.director == ("Stanley Kubrick",)
    assert shining.genres == ("Horror",)  # u.item genres, never the details file's
    assert read_details(details)[2]["cast"] == ("Jack Nicholson",)


@pytest.mark.shared_data
def test_full_dataset_counts(ml100k_dir):
    catalog, inter = load_movielens_100k(ml100k_dir)
    assert (len(catalog), inter.n_users, len(inter)) == (1682, 943, 100_000)
    assert catalog.item(50).title == "Star Wars (1977)"
    assert catalog.item(1412).year == 1995
