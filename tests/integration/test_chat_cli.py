"""`chat-rec chat --script FILE --json` end to end on MovieLens (rules only: the real encoder and FAISS)."""

import json
from pathlib import Path

from chat_rec.cli import main

SCRIPT = Path(__file__).resolve().parents[1] / "conversations" / "scary_80s_not_gory.yaml"


def test_script_json_output(ml_parts, monkeypatch, capsys):
    monkeypatch.setenv("CHATREC_DATA_DIR", str(ml_parts["data"].root))  # reuse the session's embedding cache
    for shared in ml_parts["data"].shared_dirs[:1]:
        monkeypatch.setenv("CHATREC_SHARED_DATA", str(shared))
    assert main(["chat", "--llm", "none", "--script", str(SCRIPT), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [r["turn"] for r in lines] == [1, 2, 3]
    first = lines[0]
    assert set(first) == {"turn", "reply", "items", "notices"}
    assert len(first["items"]) == 5
    item = first["items"][0]
    assert set(item) == {"id", "title", "year", "genres", "score", "explanation", "facts"}
    assert all("Horror" in i["genres"] and 1980 <= i["year"] <= 1989 for i in first["items"])
    assert lines[1]["feedback"]["value"] == "down"
    assert any(g.lower() in lines[2]["reply"].lower() for g in first["items"][0]["genres"])


def test_bad_script_is_one_clear_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("turns: [{hello: 1}]\n")
    assert main(["chat", "--llm", "none", "--script", str(bad)]) == 2
    assert "needs 'say' or 'feedback'" in capsys.readouterr().err
