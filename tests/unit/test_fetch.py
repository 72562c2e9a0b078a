"""MovieLens-100K resolution order, the recbole conversion, and failure messages."""

import zipfile
from pathlib import Path

import pytest
from helpers import write_ml

from chat_rec.config import DataConfig
from chat_rec.datasets import load_dataset
from chat_rec.datasets.fetch import RECBOLE_PREFIX, convert_recbole, fetch_movielens_100k, find_movielens_100k
from chat_rec.datasets.movielens import load_movielens_100k
from chat_rec.errors import DataNotFoundError


def test_root_first_then_shared(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./data/ml-100k of the checkout
    shared = tmp_path / "shared"
    write_ml(shared / "ml-100k")
    cfg = DataConfig(root=tmp_path / "root", shared_dirs=(shared,), allow_download=False)
    assert find_movielens_100k(cfg) == shared / "ml-100k"
    result = fetch_movielens_100k(cfg)
    assert result.path == tmp_path / "root" / "ml-100k" and "copied from" in result.source
    assert (result.path / "SOURCE").read_text().startswith("copied from")
    assert fetch_movielens_100k(cfg).source == "already present"
    assert find_movielens_100k(cfg) == tmp_path / "root" / "ml-100k"
    assert not [p for p in (tmp_path / "root").iterdir() if p.name.startswith(".")]  # no staging left


def test_data_dir_holding_the_files_directly(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_ml(tmp_path / "mine")
    cfg = DataConfig(root=tmp_path / "mine", shared_dirs=(), allow_download=False)
    catalog, inter = load_dataset(cfg, details=None)
    assert len(catalog) == 3 and len(inter) == 3


def test_nothing_found_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = DataConfig(root=tmp_path / "root", shared_dirs=(tmp_path / "none",), allow_download=False)
    with pytest.raises(DataNotFoundError, match=r"Tried: .*Fix: .*chat-rec data fetch movielens-100k"):
        fetch_movielens_100k(cfg)
    with pytest.raises(DataNotFoundError, match="run `chat-rec data fetch movielens-100k`"):
        load_dataset(cfg)
    assert not (tmp_path / "root" / "ml-100k").exists()


def fake_recbole_wheel(path: Path) -> Path:
    header = {
        "inter": "user_id:token\titem_id:token\trating:float\ttimestamp:float",
        "item": "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq",
        "user": "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token",
    }
    body = {
        "inter": ["196\t242\t3\t881250949", "196\t267\t4\t881250950"],
        "item": [
            "242\tShawshank Redemption, The\t1994\tDrama",
            "267\tunkonwn\tunkonwn\tunknown",
            "1412\tLand Before Time III: The Time of the Great Giving (1995)\tV\tAnimation Children's",
        ],
        "user": ["196\t49\tM\twriter\t55105"],
    }
    with zipfile.ZipFile(path, "w") as zf:
        for ext in header:
            zf.writestr(f"{RECBOLE_PREFIX}.{ext}", "\n".join([header[ext], *body[ext]]) + "\n")
    return path


def test_recbole_conversion_fixes_its_glitches(tmp_path):
    convert_recbole(fake_recbole_wheel(tmp_path / "recbole-1.2.1-py3-none-any.whl"), tmp_path / "ml-100k")
    catalog, inter = load_movielens_100k(tmp_path / "ml-100k")
    assert catalog.item(242).title == "Shawshank Redemption, The (1994)" and catalog.item(242).year == 1994
    assert catalog.item(267).title == "unknown" and catalog.item(267).year is None
    land = catalog.item(1412)
    assert land.title == "Land Before Time III: The Time of the Great Giving (1995) (V)" and land.year == 1995
    assert land.genres == ("Animation", "Children's")
    assert len(inter) == 2 and inter.users[196]["occupation"] == "writer"


@pytest.mark.network
@pytest.mark.shared_data
def test_recbole_wheel_from_the_index_matches_the_official_files(tmp_path, ml100k_dir, monkeypatch):
    """The real fallback: pip-download recbole==1.2.1 and compare with the official files."""
    monkeypatch.chdir(tmp_path)
    cfg = DataConfig(root=tmp_path / "root", shared_dirs=(), allow_download=True)
    from chat_rec.datasets import fetch

    monkeypatch.setattr(fetch, "_from_grouplens", lambda dest: (_ for _ in ()).throw(RuntimeError("offline test")))
    try:
        result = fetch_movielens_100k(cfg)
    except DataNotFoundError as exc:
        pytest.skip(f"package index unreachable: {exc}")
    assert "recbole" in result.source
    got_catalog, got = load_movielens_100k(result.path)
    want_catalog, want = load_movielens_100k(ml100k_dir)
    assert len(got) == len(want) == 100_000
    assert (got.ratings == want.ratings).all() and (got.item_rows == want.item_rows).all()
    same = sum(a.title == b.title for a, b in zip(got_catalog, want_catalog))
    assert same >= 1670, f"only {same} of 1682 titles match the official u.item"
    assert [a.genres for a in got_catalog] == [b.genres for b in want_catalog]
