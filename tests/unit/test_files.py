"""Every command's ``--out``: written atomically, an earlier file a merge cannot read (empty, not JSON, another
shape) renamed aside with one line naming it and the new result written anyway, a folder that cannot be written
one clear error naming the path; and ``bench load --out`` keeping the rows of the other LLM setting."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import pytest
from helpers import write_ml

from chat_rec.cli import main
from chat_rec.errors import ChatRecError
from chat_rec.files import keep_rows, write_result

NEW = {"rows": [{"llm": "none", "sessions": 10, "turns": 50}]}
NOON = time.strptime("2025-03-04 12:30:45", "%Y-%m-%d %H:%M:%S")


#: ``bench load --llm none``'s merge: the rows of the other LLM setting stay
OTHER_LLM = keep_rows(lambda row: row.get("llm") != "none")


def write(path: Path, previous: str | None, data=NEW, merge=OTHER_LLM):
    """``write_result`` with an earlier file holding ``previous`` (none: no earlier file); returns the lines said."""
    if previous is not None:
        path.write_text(previous)
    said: list[str] = []
    write_result(path, data, merge=merge, say=said.append, now=lambda: NOON)
    return said


@pytest.mark.parametrize(
    "previous, why",
    [
        ("", "it is empty"),
        ("\n  \n", "it is empty"),
        ('{"rows": [{"llm": "local"', "JSONDecodeError"),
        ("wrote 3 rows\n", "JSONDecodeError"),
        ('[{"llm": "local"}]', 'expected {"rows": [...]}'),
        ('{"rows": {"llm": "local"}}', 'expected {"rows": [...]}'),
        ('{"rows": ["local"]}', 'expected {"rows": [...]}'),
        ('{"results": []}', 'expected {"rows": [...]}'),
    ],
)
def test_an_earlier_file_that_cannot_be_merged_is_set_aside_and_the_result_written(tmp_path, previous, why):
    out = tmp_path / "bench-load.json"
    said = write(out, previous)
    aside = tmp_path / "bench-load.json.unreadable-20250304-123045"
    assert json.loads(out.read_text()) == NEW  # the run's own result, whole
    assert aside.read_text() == previous  # the earlier file, untouched, beside it
    assert len(said) == 1 and str(out) in said[0] and str(aside) in said[0] and why in said[0], said
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name, aside.name]  # no temporary file left


def test_a_second_unreadable_file_in_the_same_second_gets_its_own_name(tmp_path):
    out = tmp_path / "r.json"
    write(out, "")
    write(out, "not json")
    assert (tmp_path / "r.json.unreadable-20250304-123045").read_text() == ""
    assert (tmp_path / "r.json.unreadable-20250304-123045-2").read_text() == "not json"
    assert json.loads(out.read_text()) == NEW


def test_a_readable_earlier_file_is_merged_and_kept_nowhere_else(tmp_path):
    out = tmp_path / "r.json"
    earlier = {"rows": [{"llm": "local", "sessions": 10}, {"llm": "none", "sessions": 10}, {"sessions": 5}]}
    said = write(out, json.dumps(earlier))
    assert json.loads(out.read_text()) == {"rows": [{"llm": "local", "sessions": 10}, {"sessions": 5}, *NEW["rows"]]}
    assert not said and [p.name for p in tmp_path.iterdir()] == ["r.json"]
    assert not write(tmp_path / "fresh.json", None)  # no earlier file: nothing to say
    assert json.loads((tmp_path / "fresh.json").read_text()) == NEW


def test_without_a_merge_the_earlier_file_is_replaced_whatever_it_holds(tmp_path):
    out = tmp_path / "eval.json"
    out.write_text("")
    assert write(out, "", data={"recall@10": 0.25}, merge=None) == []
    assert json.loads(out.read_text()) == {"recall@10": 0.25}
    assert [p.name for p in tmp_path.iterdir()] == ["eval.json"]


def test_the_write_is_atomic_a_failing_serialisation_leaves_the_earlier_file(tmp_path):
    out = tmp_path / "r.json"
    out.write_text('{"rows": []}')
    with pytest.raises(TypeError):
        write_result(out, {"rows": [object()]})
    assert out.read_text() == '{"rows": []}' and [p.name for p in tmp_path.iterdir()] == ["r.json"]


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create files in: a read-only one (root ignores file modes, so for root a
    folder of sysfs, where even root cannot create files)."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    folder = Path("/sys/kernel")
    if not folder.is_dir():
        pytest.skip("running as root without /sys/kernel: no folder that root cannot write")
    return folder


def test_a_folder_that_cannot_be_written_is_one_clear_error_naming_the_path(tmp_path):
    out = unwritable_folder(tmp_path) / "chat-rec-result.json"
    try:
        with pytest.raises(ChatRecError, match=rf"cannot write {out}: .*writable folder"):
            write_result(out, NEW)
        assert not out.exists()
    finally:
        if out.parent != Path("/sys/kernel"):
            out.parent.chmod(0o755)
    with pytest.raises(ChatRecError, match=rf"--out {tmp_path} is a folder"):
        write_result(tmp_path, NEW)


def test_bench_load_out_over_a_read_only_folder_is_one_line_not_a_traceback(tmp_path, monkeypatch, capsys):
    out = unwritable_folder(tmp_path) / "chat-rec-bench-load.json"
    code, _, err = bench_load(tmp_path, monkeypatch, capsys, out)
    if out.parent != Path("/sys/kernel"):
        out.parent.chmod(0o755)
    assert code == 2 and err.startswith(f"error: cannot write {out}") and err.count("\n") == 1, err


def bench_load(tmp_path, monkeypatch, capsys, out: Path, llm: str = "none"):
    """``chat-rec bench load --url ... --out OUT`` on a tiny MovieLens folder; the visitors' run (HTTP against a
    running app, ``run_load``) is a double that returns one row, so the command's own ``--out`` code runs."""
    import chat_rec.evaluation.load as load

    def run_load(url, titles, n, turns, timeout, think):
        row = {"sessions": n, "turns": n * turns, "throughput_turns_s": 1.0, "turn_ms": {"median": 5, "p95": 9}}
        return {**row, "errors": 0, "cross_talk": 0, "error_samples": []}, Counter()

    monkeypatch.setattr(load, "run_load", run_load)
    data = write_ml(tmp_path / "ml")
    argv = ["--data-dir", str(data), "bench", "load", "--url", "http://127.0.0.1:9", "--sessions", "2", "--turns"]
    code = main([*argv, "3", "--llm", llm, "--out", str(out)])
    std, err = capsys.readouterr()
    assert "Traceback" not in std + err
    return code, std, err


def test_bench_load_out_keeps_the_other_llm_rows_and_survives_an_empty_earlier_file(tmp_path, monkeypatch, capsys):
    out = tmp_path / "results" / "bench-load.json"
    out.parent.mkdir()
    local = [{"llm": "local", "sessions": 10, "turns": 50}, {"llm": "local", "sessions": 50, "turns": 250}]
    out.write_text(json.dumps({"rows": [*local, {"llm": "none", "sessions": 99}]}))
    code, std, err = bench_load(tmp_path, monkeypatch, capsys, out)
    assert code == 0 and f"wrote {out}" in std and not err, err
    rows = json.loads(out.read_text())["rows"]
    assert rows[:2] == local and [(r["llm"], r["sessions"], r["turns"]) for r in rows[2:]] == [("none", 2, 6)]
    # the case: an existing empty FILE lost the measured row to a JSONDecodeError traceback
    out.write_text("")
    code, std, err = bench_load(tmp_path, monkeypatch, capsys, out)
    aside = [p for p in out.parent.iterdir() if p.name.startswith("bench-load.json.unreadable-")]
    assert code == 0 and len(aside) == 1 and aside[0].read_text() == ""
    assert err.count("\n") == 1 and str(out) in err and str(aside[0]) in err and "empty" in err, err
    assert [(r["llm"], r["sessions"]) for r in json.loads(out.read_text())["rows"]] == [("none", 2)]
