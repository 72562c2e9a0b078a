"""The ReDial protocol on the team's ReDial files through the CLI (real MiniLM, titles only for speed)."""

from __future__ import annotations

import json

import pytest
from conftest import require_shared

from chat_rec.cli import main

pytestmark = pytest.mark.shared_data


def test_eval_redial_cli_on_real_dialogues(tmp_path, monkeypatch, capsys, ml_parts):
    redial = require_shared("redial")
    monkeypatch.setenv("CHATREC_DATA_DIR", str(ml_parts["data"].root))  # one ReDial embedding per test run
    lines = (redial / "kgsf_valid_data.jsonl").read_text().splitlines()[:60]
    evaluated = tmp_path / "valid60.jsonl"
    evaluated.write_text("\n".join(lines + ["{broken json"]) + "\n")
    out = tmp_path / "redial.json"
    code = main(
        [
            "eval",
            "redial",
            "--dialogues",
            str(evaluated),
            "--movies",
            str(redial / "movies_with_mentions.csv"),
            "--train",
            str(redial / "kepler_train_subset.jsonl"),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    result = json.loads(out.read_text())
    assert result["malformed_lines"] == 1 and result["n_dialogues"] == 60 and result["n_cases"] > 150
    pop = result["baselines"]["popularity"]
    assert result["recall@50"] > pop["recall@50"] and result["recall@10"] >= pop["recall@10"]
    assert result["text_only"]["n_cases"] == result["n_cases"] and result["path"].startswith("Agent.read + Agent.rank")
    assert result["ablations"]["hand-set defaults"]["recall@50"] <= result["recall@50"]
    assert result["turns_per_second"] > 0  # reported, never asserted against a time (shared machines)
    out = capsys.readouterr().out
    assert "popularity (train)" in out and "chat-rec text-only" in out and "ReFICR" in out

    same = main(
        [
            "eval",
            "redial",
            "--dialogues",
            str(evaluated),
            "--movies",
            str(redial / "movies_with_mentions.csv"),
            "--train",
            str(evaluated),
        ]
    )
    assert same == 2 and "nothing may be fitted on it" in capsys.readouterr().err


def test_eval_redial_packaged_scores_what_the_redial_chat_loads(tmp_path, monkeypatch, capsys, redial_agent):
    """`eval redial --ranker packaged` on 40 validation dialogues: the packaged catalog, corpus and ranker, nothing
    fitted on the evaluated file; the ablation without the new dialogues fitted in the same run on 60 others."""
    redial = require_shared("redial")
    monkeypatch.setenv("CHATREC_DATA_DIR", str(redial_agent.data_root))  # the packaged catalog's index, built once
    evaluated = tmp_path / "valid40.jsonl"
    evaluated.write_text("\n".join((redial / "kgsf_valid_data.jsonl").read_text().splitlines()[:40]) + "\n")
    old = tmp_path / "kepler60.jsonl"
    old.write_text("\n".join((redial / "kepler_train_subset.jsonl").read_text().splitlines()[:60]) + "\n")
    out = tmp_path / "packaged.json"
    args = ["eval", "redial", "--ranker", "packaged", "--dialogues", str(evaluated)]
    assert main(args + ["--train", str(old), "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["ranker"] == "packaged" and r["corpus_dialogues"] == 3822 and r["n_cases"] > 100
    assert r["recall@50"] > r["baselines"]["popularity"]["recall@50"]
    assert r["text_only"]["n_cases"] == r["n_cases"] and 0 <= r["user_centric"]["SR"] <= 1
    assert r["without_new_dialogues"]["dialogues"] == 60 and "kepler60.jsonl" in r["without_new_dialogues"]["source"]
    assert sum(r["filtered_out_by"].values()) == r["targets_filtered_out"]
    assert "without new dialogues" in capsys.readouterr().out
    # a file the packaged corpus was built from cannot be evaluated against it
    train = tmp_path / "train5.jsonl"
    train.write_text("\n".join((redial / "train_recovered.jsonl").read_text().splitlines()[:5]) + "\n")
    assert main(["eval", "redial", "--ranker", "packaged", "--dialogues", str(train)]) == 2
    assert "in the packaged corpus" in capsys.readouterr().err
