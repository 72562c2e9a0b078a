"""Every YAML script in this folder, run through Agent.turn with rules only, with a scripted LLM
double, and (marked ``llm_local``) with the real embedded local LLM."""

from __future__ import annotations

from pathlib import Path

import pytest

from chat_rec.agent import Agent
from chat_rec.config import AgentConfig
from chat_rec.models.llm import ScriptedChatModel
from chat_rec.recommender.intent.llm_reader import LLMHelper
from chat_rec.scripting import failed_expectations, load_script, run_script

SCRIPTS = sorted(Path(__file__).parent.glob("*.yaml"))
EMPTY_LLM = (
    '{"kind": "recommend", "genres": [], "avoid_genres": [], "keywords": [], "avoid_keywords": [], '
    '"liked_titles": [], "disliked_titles": [], "similar_to_titles": [], "year_min": null, "year_max": null, '
    '"mood": null}'
)


def run_checked(agent: Agent, path: Path, mode: str, scripted: ScriptedChatModel | None = None) -> None:
    """Run one script and check every say-turn's ``expect:`` (``chat_rec.scripting.failed_expectations``, which
    `chat-rec bench turn` checks too)."""
    script = load_script(path)
    records = list(run_script(_with_llm(agent, script["turns"], scripted), script))
    failures = failed_expectations(agent, script, records, mode, path.name)
    assert not failures, "\n".join(failures)


def _with_llm(agent: Agent, turns: list, scripted: ScriptedChatModel | None) -> Agent:
    """Point the scripted double at each say-turn's ``llm`` reply, in order."""
    if scripted is not None:
        replies = [t.get("llm", EMPTY_LLM) for t in turns if "say" in t]
        scripted.replies, scripted.calls = replies, 0
    return agent


@pytest.fixture(scope="module")
def rules_agent(served_agent):
    """The served chat (``build_agent``, the packaged fitted fusion), rules only."""
    return served_agent()


@pytest.fixture(scope="module")
def scripted_agent(served_agent):
    model = ScriptedChatModel()
    # the merge reader (not the served default, which keeps the LLM to writing): its path stays tested
    agent = served_agent(AgentConfig(reader="merge"))
    agent.llm = LLMHelper(model, agent.catalog, agent.titles, timeout=5)
    return agent, model


def test_there_are_enough_scripts():
    assert len(SCRIPTS) >= 15


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_rules_only(rules_agent, path):
    run_checked(rules_agent, path, "rules")


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_scripted_llm(scripted_agent, path):
    agent, model = scripted_agent
    run_checked(agent, path, "scripted", model)
