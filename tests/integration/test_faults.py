"""Faults injected through each backend's interface, on the real encoder, FAISS index and SQLite: the language
model (a double that times out, raises, answers empty, answers what is not JSON or not our schema, or is cut off
mid-stream), a real OpenAI-compatible HTTP server answering 500 or 429 or hanging, the encoder, and the feedback
store (locked, read-only, full). Every turn still recommends, with one visible notice; the language model is
retried with back-off and shown unhealthy until it answers; a store failure touches only the session that hit it
and heals when the store does. A handler's exception is one friendly line, in-process and over HTTP."""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import replace

import pytest
from helpers import GOOD_READING, FakeOpenAI, fake_openai_server, wait_until

from chat_rec.agent import Agent
from chat_rec.catalog import display_title
from chat_rec.config import AgentConfig, LLMConfig
from chat_rec.models.llm import ScriptedChatModel, make_chat_model
from chat_rec.recommender.feedback import SQLiteStore
from chat_rec.recommender.intent.llm_reader import LLMHealth, LLMHelper
from chat_rec.session import Session
from chat_rec.ui import messages
from chat_rec.ui.app import ChatUI, UIState

#: nothing firm for the rules (no genre, title or era): the refining reader asks the language model
OPEN = "something to watch tonight with a good friend"
GOOD = GOOD_READING


def make_agent(ml_parts, model=None, timeout=2.0, health=None, store=None) -> Agent:
    """The served chat (``served_agent`` in conftest: ``build_agent``, the packaged fitted fusion), refining reader,
    with ``model`` behind the LLM helper."""
    agent = ml_parts["served_agent"](AgentConfig(k=5, reader="refine"), store=store)
    if model is not None:
        agent.llm = LLMHelper(
            model, agent.catalog, agent.titles, timeout=timeout, health=health or LLMHealth(base=0.3)
        )
    return agent


def llm_notices(reply) -> list[str]:
    return [n for n in reply.notices if "language model" in n]


# ------------------------------------------------------------------------------------------ the language model
FAULTS = {
    "timeout": {"replies": [GOOD], "first_delay": 3.0},
    "raises": {"respond": lambda messages: RuntimeError("the model crashed")},
    "empty": {"replies": [""]},
    "not json": {"replies": ["Sure! Here are some family films you might enjoy."]},
    "json of another schema": {"replies": ['{"answer": "Toy Story", "confidence": 0.9}']},
    "json that is not an object": {"replies": ['["family", "rain"]']},
    "cut off mid-stream": {"replies": [GOOD], "fail_after": 3},
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failing_language_model_leaves_the_rules_picks_and_one_notice(ml_parts, fault):
    agent = make_agent(ml_parts, ScriptedChatModel(**FAULTS[fault]), timeout=1.0)
    baseline = make_agent(ml_parts).turn(OPEN, Session())  # rules only
    replies = list(agent.turn_stream(OPEN, Session()))
    final = replies[-1]
    assert final.items and [r.item_id for r in final.items] == [r.item_id for r in baseline.items]
    assert len(llm_notices(final)) == 1, final.notices
    assert all(r.items for r in replies)  # picks at every step, from the first


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failing_language_model_leaves_the_plain_explanation(ml_parts, fault):
    agent = make_agent(ml_parts, ScriptedChatModel(**FAULTS[fault]), timeout=1.0)
    agent.config = replace(agent.config, reader="rules")
    session = Session()
    agent.turn("something scary from the 80s", session)
    reply = agent.turn("why the first one?", session)
    assert reply.kind == "explain" and reply.items and reply.text
    assert len([n for n in reply.notices if "language model" in n]) <= 1
    assert reply.text.startswith(display_title(reply.items[0].title))  # "A Nightmare on Elm Street (1984) is ..."


def test_an_unhealthy_model_is_skipped_during_back_off_then_retried(ml_parts):
    now = [0.0]
    health = LLMHealth(base=5.0, cap=60.0, clock=lambda: now[0])
    answers = iter([RuntimeError("down"), GOOD])
    model = ScriptedChatModel(respond=lambda messages: next(answers))
    agent = make_agent(ml_parts, model, health=health)
    ui = ChatUI(agent, "OpenAI-compatible (test)")
    first = agent.turn(OPEN, Session())
    assert model.calls == 1 and not health.healthy and first.items
    assert "unhealthy" in ui.status_line() and "RuntimeError" in ui.status_line()
    second = agent.turn(OPEN, Session())  # within the back-off: not called, answered at once by the rules
    assert model.calls == 1 and second.items and len(llm_notices(second)) == 1
    now[0] = 5.0  # the back-off ran out: the next turn retries, and the model answers
    third = agent.turn(OPEN, Session())
    assert model.calls == 2 and health.healthy and third.items and not llm_notices(third)
    assert "unhealthy" not in ui.status_line()


def test_back_off_doubles_up_to_its_cap():
    now = [0.0]
    health = LLMHealth(base=2.0, cap=10.0, clock=lambda: now[0])
    waits = []
    for _ in range(5):
        health.failed("HTTP 500")
        waits.append(health.wait_left())
    assert waits == [2.0, 4.0, 8.0, 10.0, 10.0]


# ------------------------------------------------------------------------------ an OpenAI-compatible server
@pytest.fixture
def openai_server():
    with fake_openai_server() as url:
        yield url


@pytest.mark.parametrize("mode", ["500", "429", "hang"])
def test_an_openai_compatible_server_that_fails_then_recovers(ml_parts, openai_server, mode):
    # generous timeouts (a cold first call on a busy machine is not a failure), but shorter than a hang for "hang"
    model = make_chat_model(LLMConfig(kind="openai", base_url=openai_server, model="test", timeout=30))
    now = [0.0]
    health = LLMHealth(base=0.5, cap=2.0, clock=lambda: now[0])  # the back-off runs on the test's clock
    agent = make_agent(ml_parts, model, timeout=1.5 if mode == "hang" else 30, health=health)
    ui = ChatUI(agent, "OpenAI-compatible (test)")
    FakeOpenAI.mode = mode
    reply = agent.turn(OPEN, Session())
    assert reply.items and len(llm_notices(reply)) == 1, reply.notices
    assert not health.healthy and "unhealthy" in ui.status_line()
    if mode != "hang":
        assert f"HTTP {mode}" in ui.status_line()
    FakeOpenAI.mode = "ok"
    calls = FakeOpenAI.calls
    during = agent.turn(OPEN, Session())  # within the back-off: answered by the rules, the server not called
    assert during.items and len(llm_notices(during)) == 1 and FakeOpenAI.calls == calls and not health.healthy
    # a hung call was abandoned by the turn; its worker frees the model once the server drops the connection
    wait_until(lambda: not agent.llm.gate.busy, "the abandoned call to free the model")
    agent.llm.timeout = 30.0
    now[0] = health.retry_at  # the back-off ran out: the next turn retries, and the server answers
    reply = agent.turn(OPEN, Session())
    assert reply.items and not llm_notices(reply) and FakeOpenAI.calls == calls + 1, reply.notices
    assert health.healthy and "unhealthy" not in ui.status_line()
    assert "rain" in agent.llm.extract(OPEN, soft=True).keywords  # it answers again


def test_a_server_that_is_down_hands_its_calls_to_the_fallback_model(ml_parts, openai_server):
    """CHATREC_LLM_FALLBACK=local: a shared server answering 500 is marked unhealthy, the call goes to this
    replica's model (a double here; the real local model in test_local_llm.py), and during the back-off the server
    is not called at all. The turn keeps the model's reading: no notice, the panel names the fallback."""
    rec = ml_parts["recommender"]
    FakeOpenAI.mode = "500"
    # the server answers 500 at once: generous timeouts, and a back-off on a clock that stands still (a slow run
    # cannot outlast it)
    model = make_chat_model(LLMConfig(kind="openai", base_url=openai_server, model="test", timeout=30))
    agent = make_agent(ml_parts, model, timeout=30, health=LLMHealth(base=30, clock=lambda: 0.0))
    local = ScriptedChatModel(replies=[GOOD])
    agent.llm.fallback = LLMHelper(local, rec.catalog, agent.titles, timeout=5)
    ui = ChatUI(agent, "OpenAI-compatible (test)")
    assert "rain" in agent.llm.extract(OPEN, soft=True).keywords
    assert FakeOpenAI.calls == 1 and local.calls == 1 and not agent.llm.health.healthy
    assert "json_schema" in local.last_kwargs  # the fallback is asked in its own way (schema-constrained)
    assert "fallback model (scripted) answers meanwhile" in ui.status_line()
    reply = agent.turn(OPEN, Session())
    assert reply.items and not llm_notices(reply), reply.notices
    assert FakeOpenAI.calls == 1 and local.calls == 2  # skipped during the back-off
    assert agent.llm.answering is agent.llm.fallback


def test_a_stream_cut_off_after_its_first_token_is_not_answered_twice(ml_parts):
    """The fallback answers calls the primary could not start; a reply already streaming is not restarted."""
    from chat_rec.recommender.intent.llm_reader import LLMFailure

    rec = ml_parts["recommender"]
    agent = make_agent(ml_parts, ScriptedChatModel(replies=[GOOD], fail_after=2))
    local = ScriptedChatModel(replies=[GOOD])
    agent.llm.fallback = LLMHelper(local, rec.catalog, agent.titles, timeout=5)
    with pytest.raises(LLMFailure):
        agent.llm.extract(OPEN, soft=True)
    assert local.calls == 0


# --------------------------------------------------------------------------------------------- the encoder
class BrokenEncoder:
    def __init__(self, encoder):
        self.encoder, self.name, self.dim = encoder, encoder.name, encoder.dim

    def encode(self, texts, *, show_progress=False):
        raise RuntimeError("encoder out of memory")


def test_a_failing_encoder_still_recommends_with_one_notice(ml_parts):
    agent = ml_parts["served_agent"](AgentConfig(k=5), fresh=True)  # a ranking core of its own, to break
    agent.rec.encoder = BrokenEncoder(agent.rec.encoder)
    session = Session()
    reply = agent.turn("a horror film from the 80s about a haunted lighthouse keeper", session)
    assert reply.items and all("Horror" in r.genres and 1980 <= r.year <= 1989 for r in reply.items)
    assert len([n for n in reply.notices if "encoder" in n]) == 1
    again = agent.turn("something like Alien", session)
    assert again.items


# ------------------------------------------------------------------------------------------------- the store
def feedback_round(agent, a: Session, b: Session):
    """Session ``a`` gives a 👍 while the store is broken; ``b`` is another visitor."""
    agent.turn("something scary from the 80s", a)
    agent.turn("a comedy", b)
    said = agent.record_feedback(a, a.last_items[0], "up")
    return said


BALLAST = "INSERT INTO feedback (user, session, item, value) VALUES ('ballast', hex(randomblob(?)), '0', 'up')"


def fill(store):
    """Every page the file may have, full (another user's long rows): the next write gets SQLITE_FULL."""
    db = store.db
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0] + 2}")
    full = 0
    for size in (400, 40, 1):  # big rows until one does not fit, then smaller ones into what is left
        for _ in range(1000):
            try:
                db.execute(BALLAST, (size,))
            except sqlite3.OperationalError as exc:
                assert "full" in str(exc)
                full += 1
                break
    assert full == 3


def locked(path):
    holder = sqlite3.connect(str(path), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


@pytest.mark.parametrize("fault", ["locked", "full"])
def test_a_store_failure_stays_in_its_session_and_heals(ml_parts, tmp_path, fault):
    path = tmp_path / "state.db"
    store = SQLiteStore(path, timeout=0.2)
    agent = make_agent(ml_parts, store=store)
    a, b = Session(), Session()
    holder = None
    if fault == "locked":
        holder = locked(path)
    else:  # the file may not grow and its pages are full: SQLITE_FULL, as on a full disk
        fill(store)
    said = feedback_round(agent, a, b)
    first = a.last_items[0]
    assert "unavailable" in said and first in a.liked and [e.item for e in a.unsaved] == [first]
    assert agent.store is store  # the shared store is not swapped for anyone
    reply = agent.turn("more like that", a)  # still recommends, with one notice, and learns from the 👍
    assert reply.items and len([n for n in reply.notices if "feedback database" in n]) == 1
    assert not any("feedback database" in n for n in agent.turn("a western", b).notices)  # b untouched
    if holder is not None:
        holder.execute("ROLLBACK")
        holder.close()
    else:
        store.db.execute("PRAGMA max_page_count = 1073741823")
    said = agent.record_feedback(a, reply.items[0].item_id, "down")
    assert "back" in said and not a.unsaved
    assert [(e.item, e.value) for e in store.events(a.user_key)] == [(first, "up"), (reply.items[0].item_id, "down")]
    agent.record_feedback(b, b.last_items[0], "up")
    assert [e.item for e in store.events(b.user_key)] == [b.last_items[0]]


def test_a_read_only_store_stays_in_its_session_and_heals(ml_parts, tmp_path):
    """Read-only as SQLite sees it ("attempt to write a readonly database"): the connection set query-only (a
    root process writes through file modes, and a mount cannot turn read-only under an open database)."""
    store = SQLiteStore(tmp_path / "state.db", timeout=0.2)
    agent = make_agent(ml_parts, store=store)
    a, b = Session(), Session()
    store.db.execute("PRAGMA query_only = ON")
    said = feedback_round(agent, a, b)
    assert "unavailable" in said and "readonly" in said and a.unsaved and a.last_items[0] in a.liked
    assert agent.turn("more like that", a).items
    store.db.execute("PRAGMA query_only = OFF")
    said = agent.record_feedback(a, a.last_items[1], "up")
    assert "back" in said and not a.unsaved and len(store.events(a.user_key)) == 2


# ------------------------------------------------------------------------------------------- UI handlers
def break_on_boom(agent, error: Exception) -> None:
    """The agent's turn raises ``error`` for any message with "boom" in it (a bug in a handler's path)."""
    real = agent.turn_stream

    def broken(message, session):
        if "boom" in message:
            raise error
        return real(message, session)

    agent.turn_stream = broken


def test_a_handler_exception_is_one_friendly_line_and_the_chat_goes_on(ml_parts, caplog):
    agent = make_agent(ml_parts)
    ui = ChatUI(agent)
    state, history, _, _ = ui.send("a comedy", UIState(), [], "", "laptop", "now")
    break_on_boom(agent, KeyError("a bug"))
    with caplog.at_level(logging.ERROR):
        after, shown, _, _ = ui.send("boom", state, history, "", "laptop", "now")
    assert shown[-1]["content"] == messages.INTERNAL and "KeyError" not in str(shown)
    assert after.cards == state.cards  # nothing lost
    assert any(r.exc_info and "turn failed" in r.message for r in caplog.records)  # the traceback, in the log
    again, _, _, _ = ui.send("a western", after, shown, "", "laptop", "now")
    assert again.cards and again.cards != state.cards


def test_over_http_a_failing_turn_shows_one_line_and_no_traceback(ml_parts, caplog):
    from gradio_client import Client

    from chat_rec.evaluation.load import free_port
    from chat_rec.ui.app import build_app

    agent = make_agent(ml_parts)
    break_on_boom(agent, ZeroDivisionError("a bug"))
    demo = build_app(agent)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, show_error=False, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        with caplog.at_level(logging.ERROR):
            history, _ = client.predict("boom", [], "", "laptop", "now", api_name="/send")
        text = json.dumps(history)
        assert messages.INTERNAL in text and "ZeroDivisionError" not in text and "Traceback" not in text
        assert any(r.exc_info for r in caplog.records)
        history, _ = client.predict("a comedy", [], "", "laptop", "now", api_name="/send")
        assert len(history) >= 3  # the same session goes on
        ack = client.predict(9, "up", api_name="/feedback")
        assert ack["ok"] is False and "no card 9" in ack["message"]
        ack = client.predict(1, "up", api_name="/feedback")
        assert ack["ok"] and ack["stored"]
    finally:
        demo.close()
