"""The CLI's bad-input paths: one clear line, exit code 2, no traceback, nothing written half-way."""

import subprocess
import sys

import pytest
from helpers import write_ml

from chat_rec.cli import main


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No team data, no ./data: only what the test writes."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHATREC_SHARED_DATA", str(tmp_path / "no-shared"))
    monkeypatch.setenv("CHATREC_OFFLINE", "1")
    monkeypatch.delenv("CHATREC_DATA_DIR", raising=False)
    return tmp_path


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_missing_data_directory(isolated, capsys):
    code, _, err = run(capsys, "--data-dir", str(isolated / "nope"), "search", "alien", "--encoder", "hash")
    assert code == 2 and "data directory" in err and "does not exist" in err and err.count("\n") == 1
    code, _, err = run(capsys, "search", "alien", "--encoder", "hash")
    assert code == 2 and "run `chat-rec data fetch movielens-100k`" in err


def test_fetch_with_every_source_failing(isolated, capsys):
    code, _, err = run(capsys, "data", "fetch", "movielens-100k")
    assert code == 2 and "Tried:" in err and "Fix:" in err
    assert not (isolated / "data" / "ml-100k").exists()


def test_malformed_u_data_line(isolated, capsys):
    write_ml(isolated / "mine", ["10\t1\t5\t881250949\n", "10\t2\t3\t881250950\n", "bad line here\n"])
    code, _, err = run(capsys, "--data-dir", str(isolated / "mine"), "index", "build", "--encoder", "hash")
    assert code == 2 and "u.data:3" in err
    assert not (isolated / "mine" / "cache").exists()


def test_catalog_missing_columns_and_empty_catalog(isolated, capsys):
    (isolated / "bad.csv").write_text("name,year\nDune,1965\n")
    code, _, err = run(capsys, "index", "build", "--items", "bad.csv", "--encoder", "hash")
    assert code == 2 and "expected columns: id, title" in err
    (isolated / "empty.csv").write_text("id,title\n")
    code, _, err = run(capsys, "index", "build", "--items", "empty.csv", "--encoder", "hash")
    assert code == 2 and "no items" in err
    assert not (isolated / "data").exists()


def test_empty_and_huge_queries(isolated, capsys):
    (isolated / "books.csv").write_text("id,title,genres\n1,Dune,SF\n2,Emma,Romance\n3,It,Horror\n")
    code, _, err = run(capsys, "search", "   ", "--items", "books.csv", "--encoder", "hash")
    assert code == 2 and "query is empty" in err
    code, out, err = run(capsys, "search", "emma " * 20_000, "--items", "books.csv", "--encoder", "hash", "-k", "2")
    assert code == 0 and "truncated from 99,999 to 2,000" in err and "Emma" in out.splitlines()[0]


def test_search_filters_from_the_command_line(isolated, capsys):
    (isolated / "books.csv").write_text(
        "id,title,genres,year\n1,Dune,SF,1965\n2,Emma,Romance,1815\n3,It,Horror,1986\n"
    )
    code, out, _ = run(
        capsys,
        "search",
        "a book",
        "--items",
        "books.csv",
        "--encoder",
        "hash",
        "--not-genre",
        "Horror",
        "--year-min",
        "1900",
    )
    assert code == 0 and [line.split(". ")[1].split("  ")[0] for line in out.splitlines()] == ["Dune"]


def test_installed_entry_point_prints_no_traceback(isolated):
    proc = subprocess.run(
        [sys.executable, "-m", "chat_rec.cli", "search", ""], capture_output=True, text=True, cwd=isolated, timeout=120
    )
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
