"""The README cannot drift: its headline table is what `chat-rec results` writes from results/*.json, it stays
short, and every headline row reads a JSON a command wrote (or is the one row still waiting for its run)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chat_rec.cli.main import main
from chat_rec.cli.results import END, ROWS, START, Row, headline_table, read_path, readme_table
from chat_rec.errors import ChatRecError

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
RESULTS = REPO / "results"


def test_the_readme_table_is_what_chat_rec_results_writes():
    _, table, _ = readme_table(README)
    assert table == headline_table(RESULTS), "the README's table differs: run `chat-rec results --write`"


def test_the_readme_stays_short():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= 150, f"README.md has {lines} lines (at most 150): move detail to docs/ or results/README.md"


def test_every_headline_row_names_an_existing_json():
    pending = [row for row in ROWS if row.pending]
    assert len(pending) <= 1, "at most one row may wait for its first run"
    for row in ROWS:
        for name in row.files():
            assert name.endswith(".json")
            path = RESULTS / name
            assert path.is_file() or row.pending, f"{name} is missing: run `{row.command}`"
            if path.is_file():
                assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict)


def test_the_readme_keeps_the_spaces_header_and_links_the_deployment_page():
    text = README.read_text(encoding="utf-8")
    assert text.startswith("---\ntitle: chat-rec\n") and "app_file: app.py" in text.split("---")[1]
    assert "docs/deploy.md" in text and (REPO / "docs" / "deploy.md").is_file()
    assert text.count(START) == 1 and text.count(END) == 1


def test_paths_select_list_elements_by_their_fields():
    data = {"rows": [{"llm": "none", "sessions": 50, "ok": True, "ms": {"p95": 3}}, {"llm": "local", "sessions": 50}]}
    assert read_path(data, "rows[llm=none,sessions=50]/ms/p95") == 3
    assert read_path(data, "rows[ok=true]/llm") == "none"
    assert read_path(data, "rows[1]/llm") == "local"
    with pytest.raises(KeyError):
        read_path(data, "rows[sessions=50]/llm")  # two match: ambiguous
    with pytest.raises(KeyError):
        read_path(data, "rows[llm=none]/missing")


def test_a_missing_json_names_the_command_and_a_pending_row_says_not_measured(tmp_path):
    command = "chat-rec bench x --out results/x.json"
    row = Row("a number", "x.json", command, {"v": "v"}, "{v:.1f} ms")
    with pytest.raises(ChatRecError, match=re.escape(f"run `{command}`")):
        headline_table(tmp_path, (row,))
    waiting = Row("a number", "x.json", command, {"v": "v"}, "{v:.1f} ms", pending=True)
    assert "not measured yet: run `chat-rec bench x --out results/x.json`" in headline_table(tmp_path, (waiting,))
    (tmp_path / "x.json").write_text('{"v": 2.25}')
    assert "| a number | 2.2 ms | — | `chat-rec bench x --out results/x.json` |" in headline_table(tmp_path, (row,))


def test_write_and_check_round_trip(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{START}\n| stale |\n{END}\n\nafter\n", encoding="utf-8")
    args = ["results", "--readme", str(readme), "--results", str(RESULTS)]
    assert main([*args, "--check"]) == 1
    assert "+| what | result |" in capsys.readouterr().out  # the diff
    assert main([*args, "--write"]) == 0
    assert main([*args, "--check"]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# x\n\n") and text.endswith(f"{END}\n\nafter\n") and "| stale |" not in text
