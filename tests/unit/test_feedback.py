"""👍/👎: the update rule, the stores (memory double and SQLite), durability under SIGKILL, bad databases,
and the agent using feedback on the next turn and after a restart."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from chat_rec.agent import Agent
from chat_rec.config import AgentConfig
from chat_rec.errors import ChatRecError
from chat_rec.recommender.feedback import FeedbackEvent, MemoryStore, SQLiteStore, effective, open_store, user_vector
from chat_rec.session import Session


def test_effective_keeps_the_last_value_per_item():
    ev = [
        FeedbackEvent("u", "s", i, v)
        for i, v in [(1, "up"), (2, "up"), (1, "down"), (3, "up"), (2, "retract"), (3, "up")]
    ]
    assert effective(ev) == [(1, "down"), (3, "up")]


def test_update_moves_toward_likes_and_away_from_dislikes(rng):
    vectors = rng.normal(size=(6, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    u = user_vector([(0, "up"), (1, "down")], vectors)
    assert u @ vectors[0] > 0 > u @ vectors[1]
    assert not user_vector([], vectors).any()
    # a decaying step: a late stray click does not flip a profile built by several consistent ones
    steady = user_vector([(0, "up")] * 5, vectors)
    stray = user_vector([(0, "up")] * 5 + [(2, "down")], vectors)
    assert stray @ vectors[0] > 0.5 * (steady @ vectors[0])


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    return MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "state.db")


def test_store_contract(store):
    store.append(FeedbackEvent("user:1", "s1", 50, "up", 1))
    store.append(FeedbackEvent("user:2", "s2", "b7", "down", 2))
    store.append(FeedbackEvent("user:1", "s1", 50, "retract", 3))
    assert [(e.item, e.value) for e in store.events("user:1")] == [(50, "up"), (50, "retract")]
    assert store.events("user:2")[0].item == "b7"
    assert store.load_state("user:1") is None
    store.save_state("user:1", {"liked": [50], "u": [0.5]})
    store.save_state("user:1", {"liked": [], "u": [0.1]})
    assert store.load_state("user:1") == {"liked": [], "u": [0.1]}


WRITER = textwrap.dedent("""
    import sys
    from chat_rec.recommender.feedback import FeedbackEvent, SQLiteStore
    store = SQLiteStore(sys.argv[1])
    for n in range(100000):
        store.append(FeedbackEvent("user:7", "s", n, "up", n))
        print(n, flush=True)   # acknowledged only after the commit returned
""")
#: acknowledged events read before the SIGKILL; the writer is still writing when it comes
ACKED_BEFORE_KILL = 300


def test_acknowledged_events_survive_sigkill(tmp_path):
    db, errors = tmp_path / "state.db", tmp_path / "writer.err"
    with errors.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, stderr=stderr, text=True
        )
    guard = threading.Timer(300, proc.kill)  # a writer that hangs ends the reading below instead of the test run
    guard.start()
    acked, writing = [], False
    try:
        for line in proc.stdout:
            acked.append(int(line))
            if len(acked) >= ACKED_BEFORE_KILL:
                break
        writing = proc.poll() is None
        proc.send_signal(signal.SIGKILL)  # mid-stream: the writer is between, or inside, its commits
    finally:
        guard.cancel()
        proc.kill()
        proc.wait()
    # a writer that died (or hung) before acknowledging these events proves nothing about durability
    assert len(acked) == ACKED_BEFORE_KILL, (
        f"the writer acknowledged {len(acked)} of {ACKED_BEFORE_KILL} events, then exited with code {proc.returncode}:"
        f" {errors.read_text()[-600:]}"
    )
    assert acked == list(range(ACKED_BEFORE_KILL))
    assert writing and proc.returncode == -signal.SIGKILL, (
        f"the writer was not killed while writing ({proc.returncode})"
    )
    stored = [e.item for e in SQLiteStore(db).events("user:7")]
    assert set(acked) <= set(stored), f"lost {sorted(set(acked) - set(stored))[:5]}"
    assert stored == list(range(len(stored)))  # the events after them, if any, whole and in order: no torn write


def test_corrupt_database_is_refused_and_untouched(tmp_path):
    db = tmp_path / "state.db"
    db.write_bytes(b"this is not sqlite" * 10)
    with pytest.raises(ChatRecError, match=r"not a SQLite database.*move it away"):
        SQLiteStore(db)
    store, notice = open_store(db)
    assert isinstance(store, MemoryStore) and "in memory" in notice
    assert db.read_bytes() == b"this is not sqlite" * 10


def test_read_only_and_locked_databases_fall_back_to_memory(tmp_path):
    db = tmp_path / "state.db"
    SQLiteStore(db).close()
    holder = sqlite3.connect(str(db), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    store, notice = open_store(db)
    assert isinstance(store, MemoryStore) and "cannot" in notice
    holder.execute("ROLLBACK")
    holder.close()
    if os.geteuid() != 0:  # root ignores file permissions
        db.chmod(0o444)
        store, notice = open_store(db)
        assert isinstance(store, MemoryStore)
    store, notice = open_store(Path("/proc/chat-rec-cannot-write-here/state.db"))
    assert isinstance(store, MemoryStore) and notice


@pytest.fixture
def agent_factory(tiny_recommender, block_interactions):
    return lambda store: Agent(tiny_recommender, block_interactions, config=AgentConfig(k=3), store=store)


def test_feedback_changes_the_next_turn(agent_factory):
    agent = agent_factory(MemoryStore())
    session = Session()
    first = agent.turn("a movie", session)
    liked = (
        next(r.item_id for r in first.items if "Horror" in agent.catalog.item(r.item_id).genres)
        if any("Horror" in agent.catalog.item(r.item_id).genres for r in first.items)
        else 1
    )
    agent.record_feedback(session, liked, "up")
    assert session.user_vector is not None and np.linalg.norm(session.user_vector) > 0
    nxt = agent.turn("more please", session)
    assert "Horror" in agent.catalog.item(nxt.items[0].item_id).genres
    assert liked not in [r.item_id for r in nxt.items]


def test_repeated_clicks_and_up_then_down(agent_factory):
    agent = agent_factory(MemoryStore())
    session = Session()
    agent.turn("something scary", session)
    agent.record_feedback(session, 1, "up")
    once = session.user_vector.copy()
    agent.record_feedback(session, 1, "up")
    np.testing.assert_allclose(session.user_vector, once)  # a repeated click changes nothing
    agent.record_feedback(session, 1, "down")
    assert 1 in session.disliked and 1 not in session.liked and session.user_vector @ once < 0
    agent.record_feedback(session, 1, "retract")
    assert not session.user_vector.any() and 1 not in session.disliked
    assert "not shown" in agent.record_feedback(session, 5, "up")
    assert "unknown item" in agent.record_feedback(session, 12345, "up")


def test_returning_user_gets_state_back_after_restart(agent_factory, tmp_path):
    db = tmp_path / "state.db"
    agent = agent_factory(SQLiteStore(db))
    session = Session(user_id=3)
    agent.turn("something scary", session)
    agent.record_feedback(session, 6, "up")
    agent.record_feedback(session, 7, "down")
    before = session.user_vector.copy()
    del agent
    restarted = agent_factory(SQLiteStore(db))  # a new process would build exactly this
    back = Session(user_id=3)
    restarted.turn("hello", back)
    assert back.liked == [6] and back.disliked == [7]
    np.testing.assert_allclose(back.user_vector, before, atol=1e-6)
    stranger = Session(user_id=4)
    restarted.turn("hello", stranger)
    assert stranger.liked == [] and stranger.user_vector is None


def test_store_failure_mid_chat_keeps_the_feedback(agent_factory, tmp_path):
    store = SQLiteStore(tmp_path / "state.db")
    agent = agent_factory(store)
    session = Session()
    agent.turn("something scary", session)
    store.db.close()  # the database goes away under us
    message = agent.record_feedback(session, 1, "up")
    assert "unavailable" in message and 1 in session.liked
    # kept in the session (which still learns from it); the shared store is not swapped for everyone
    assert agent.store is store and [e.item for e in session.unsaved] == [1]


def test_the_store_setting_names_sqlite_postgresql_or_memory():
    from chat_rec.config import Config

    assert Config.from_env({}).store_path == Path("data") / "state.db"
    assert Config.from_env({"CHATREC_STORE": "/srv/chat/state.db"}).store_path == Path("/srv/chat/state.db")
    assert Config.from_env({"CHATREC_STORE": "memory"}).store_path is None
    url = "postgresql://chatrec@db.internal:5432/chatrec"
    assert Config.from_env({"CHATREC_STORE": url}).store_path == url
