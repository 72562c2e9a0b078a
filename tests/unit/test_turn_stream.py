"""Picks first, the language model after: ``Agent.turn_stream`` with the scripted LLM double (slow, wrong,
busy, agreeing, refining), the bounded queue in front of the model, and token streaming of "why" answers."""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import replace

import pytest
from helpers import wait_until

from chat_rec.agent import READING, Agent
from chat_rec.config import AgentConfig
from chat_rec.models.llm import ScriptedChatModel
from chat_rec.recommender.feedback import MemoryStore
from chat_rec.recommender.intent.llm_reader import LLMBusy, LLMGate, LLMHelper
from chat_rec.session import Session
from chat_rec.ui.app import ChatUI, UIState

OPEN = "something to watch tonight on my sofa"  # nothing firm for the rules: no genre, title or era


def soft(keywords=(), avoid=(), mood=None, titles=()):
    return json.dumps(
        {"keywords": list(keywords), "avoid_keywords": list(avoid), "mood": mood, "similar_to_titles": list(titles)}
    )


@pytest.fixture
def make_agent(tiny_recommender, block_interactions):
    def make(model=None, reader="refine", timeout=60.0, gate=None):  # generous: a busy machine is no failure
        agent = Agent(
            tiny_recommender, block_interactions, config=AgentConfig(k=3, reader=reader), store=MemoryStore()
        )
        if model is not None:
            agent.llm = LLMHelper(model, tiny_recommender.catalog, agent.titles, timeout=timeout, gate=gate)
        return agent

    return make


def ids(reply):
    return [r.item_id for r in reply.items]


def test_rules_only_is_one_final_reply_with_stage_timings(make_agent):
    replies = list(make_agent().turn_stream("something scary", Session()))
    assert len(replies) == 1 and replies[0].stage == "final" and not replies[0].pending
    assert {"intent_rules", "retrieve", "rerank", "explain"} <= set(replies[0].timings)


def test_picks_first_then_the_refinement_says_what_changed(make_agent):
    model = ScriptedChatModel(replies=[soft(keywords=["spaceship", "creature"], mood="dark")])
    agent, session = make_agent(model), Session()
    first, final = list(agent.turn_stream(OPEN, session))
    assert first.stage == "picks" and first.pending == READING and first.items and not first.refined
    assert final.stage == "final" and final.refined and ids(final) != ids(first)
    assert ids(final)[0] == 1  # the spaceship film
    assert any(n.startswith("also reading: mood = dark; topic: spaceship, creature") for n in final.notices)
    assert session.last_items == ids(final) and session.intent.mood == "dark"
    assert ids(first)[0] not in session.shown or ids(first)[0] in ids(final)  # replaced picks count as not shown
    assert {"intent_llm_prompt", "intent_llm_generate", "intent_llm_queue"} <= set(final.timings)
    assert set(model.last_kwargs["json_schema"]["required"]) == {
        "keywords",
        "avoid_keywords",
        "mood",
        "similar_to_titles",
    }


def test_an_agreeing_reading_moves_nothing(make_agent):
    agent, session = make_agent(ScriptedChatModel(replies=[soft()])), Session()
    first, final = list(agent.turn_stream(OPEN, session))
    assert final is first and final.stage == "final" and not final.refined and not final.pending
    assert not any("also reading" in n for n in final.notices)


def test_the_llm_is_not_asked_when_the_rules_found_something_firm(make_agent):
    model = ScriptedChatModel(replies=[soft(mood="light")])
    agent = make_agent(model)
    for message in ("something scary", "like Alien please", "a movie from the 80s", "hi", "no horror"):
        assert len(list(agent.turn_stream(message, Session()))) == 1, message
    assert model.calls == 0
    assert len(list(make_agent(model, reader="rules").turn_stream(OPEN, Session()))) == 1 and model.calls == 0
    assert len(list(make_agent(model, reader="merge").turn_stream("something scary", Session()))) == 2


def test_titles_the_message_does_not_say_are_dropped(make_agent):
    """A small model offers the prompt's example titles; the soft reading keeps only titles written in the message."""
    agent, session = make_agent(ScriptedChatModel(replies=[soft(titles=["Fargo"])])), Session()
    final = agent.turn(OPEN, session)
    assert 4 not in session.intent.reference_items and not final.refined


def test_a_slow_model_times_out_is_abandoned_and_frees_the_queue(make_agent):
    go = threading.Event()  # the model thinks until the test says so: slow on any machine, for as long as needed

    def slow(messages):
        go.wait(120)
        return soft(keywords=["a", "b", "c", "d"], mood="dark")

    model = ScriptedChatModel(respond=slow)
    agent = make_agent(model, timeout=0.2)
    try:
        first, final = list(agent.turn_stream(OPEN, Session()))
        # the turn ended while the model still held the queue without a token: it did not wait for the model
        assert agent.llm.gate.busy and model.chunks_out == 0
    finally:
        go.set()
    assert ids(final) == ids(first) and any("did not answer within 0.2 s" in n for n in final.notices)
    # the worker sees the cancellation at its first token, stops generating and frees the queue
    wait_until(lambda: not agent.llm.gate.busy, "the abandoned call to free the model")
    assert model.chunks_out == 1 and agent.llm.gate.waiting == 0
    agent.llm.gate.acquire()  # free: a lock still held would make this raise LLMBusy after max_wait
    agent.llm.gate.release(0.1)


def test_a_full_queue_keeps_the_rules_picks_with_a_notice(make_agent):
    gate = LLMGate(max_wait=0.2)
    agent = make_agent(ScriptedChatModel(replies=[soft(mood="dark")]), gate=gate)
    gate.acquire()  # another visitor's call holds the model
    try:
        first, final = list(agent.turn_stream(OPEN, Session()))
    finally:
        gate.release(30.0)
    assert final.items and ids(final) == ids(first) and any("busy" in n for n in final.notices)
    assert gate.refused == 1  # refused after waiting max_wait for the lock
    gate.acquire()
    gate.waiting, gate.average = 3, 2.25  # busy, with 3 callers waiting at ~2.3 s each: refused at once
    # at once: the estimate refuses it ("about 9 s of queue"); waiting for the held lock would say "waited 0.2 s"
    with pytest.raises(LLMBusy, match="about 9 s of queue"):
        gate.acquire()
    assert gate.refused == 2
    gate.waiting = 0
    gate.release(1.0)


def test_one_model_serves_one_call_at_a_time(make_agent, tiny_catalog):
    """Concurrent sessions share the model through the gate: calls never overlap. The first call holds the model
    until the five other sessions wait at the gate (or, were the gate broken, are inside the model with it)."""
    gate = LLMGate(max_wait=120)
    lock, active, overlaps, crowded = threading.Lock(), [0], [], []

    def everyone_arrived() -> bool:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if gate.waiting + active[0] >= 6 or max(overlaps) > 1:
                return True
            time.sleep(0.005)
        return False

    def respond(messages):
        with lock:
            active[0] += 1
            overlaps.append(active[0])
            first = len(overlaps) == 1
        if first:
            crowded.append(everyone_arrived())
        with lock:
            active[0] -= 1
        return soft(mood="dark")

    agent = make_agent(ScriptedChatModel(respond=respond), timeout=120, gate=gate)
    threads = [threading.Thread(target=agent.turn, args=(OPEN, Session())) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not any(t.is_alive() for t in threads)
    assert crowded == [True], "the other sessions never reached the model while the first call held it"
    assert len(overlaps) == 6 and max(overlaps) == 1, overlaps


def test_why_answers_stream_token_by_token_and_only_grounded_text_is_shown(make_agent):
    agent = make_agent(ScriptedChatModel(replies=["A crew is hunted by a deadly creature on a spaceship."]), "rules")
    agent.llm.model.chunk_delay = 0.01
    session = Session()
    agent.turn("something scary", session)
    replies = list(agent.turn_stream("why the first one?", session))
    texts = [r.text for r in replies if r.stage == "text"]
    assert len(texts) >= 4 and all(len(a) <= len(b) for a, b in itertools.pairwise(texts))
    assert replies[-1].stage == "final" and replies[-1].text.endswith("on a spaceship.")
    # an answer that names what the record does not: never shown, not even in part
    agent = make_agent(ScriptedChatModel(replies=["It is a classic directed by Steven Spielberg in 1950."]), "rules")
    agent.turn("something scary", session := Session())
    replies = list(agent.turn_stream("why the first one?", session))
    assert not any("Spielberg" in r.text or "1950" in r.text for r in replies)
    assert replies[-1].stage == "final" and "I picked it because" in replies[-1].text


def test_the_ui_marks_earlier_cards_while_a_turn_runs(make_agent):
    ui = ChatUI(make_agent(ScriptedChatModel(replies=[soft(keywords=["spaceship"], mood="dark")])), "scripted")
    state, *_ = ui.send("something scary", UIState(), [], "", "laptop", "now")
    steps = list(ui.send_stream(OPEN, state, [], "", "laptop", "now"))
    assert steps[0][0].stale and steps[0][0].cards == state.cards and steps[0][1][-1]["content"] == "…"
    assert not steps[1][0].stale and steps[1][0].refining and "⏳" in steps[1][1][1]["content"]
    assert not steps[-1][0].refining and "also reading" in steps[-1][1][1]["content"]


def test_agent_turn_is_the_last_reply_of_the_stream(make_agent):
    agent = make_agent(ScriptedChatModel(replies=[soft(keywords=["spaceship"], mood="dark")]))
    a, b = Session(), Session()
    streamed = list(agent.turn_stream(OPEN, a))[-1]
    whole = agent.turn(OPEN, b)
    assert ids(streamed) == ids(whole) and a.intent == b.intent and replace(a, session_id="x").shown == b.shown
