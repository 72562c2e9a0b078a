"""The ReDial-catalog conversation scripts (``CHATREC_CATALOG=redial``), run through ``Agent.turn`` with rules only
on exactly what a fresh clone serves: the packaged catalog, corpus and ranker (``build_agent``), the real MiniLM
encoder and FAISS, no team data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from chat_rec.scripting import failed_expectations, load_script, run_script

SCRIPTS = sorted(Path(__file__).parent.glob("*.yaml"))


def test_there_are_enough_scripts():
    assert len(SCRIPTS) >= 10


def test_the_packaged_redial_chat_serves_its_own_ranker(redial_agent):
    assert redial_agent.catalog.name == "redial" and len(redial_agent.catalog) == 6924
    fusion = redial_agent.rec.fusion
    assert fusion.fitted and fusion.trees and not redial_agent.reranker_notice
    assert Path(fusion.path).name == "ranker-redial.json"
    assert fusion.weight("request", "asked") or fusion.weight("request", "mentions")  # corpus signals serve
    assert redial_agent.rec.side.cf is not None  # CF learned from the dialogues


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_rules_only(redial_agent, path):
    script = load_script(path)
    records = list(run_script(redial_agent, script))
    failures = failed_expectations(redial_agent, script, records, "rules", path.name)
    assert not failures, "\n".join(failures)
