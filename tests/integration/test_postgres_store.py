"""The feedback store on a real PostgreSQL server (Debian's, started by the tests in a temporary directory on
127.0.0.1, never a mock): versioned migrations, durable writes through a crash of the server, two agents
(replicas) sharing users, and a server that goes away and comes back."""

from __future__ import annotations

import pytest
from helpers import PostgresServer

from chat_rec.assemble import open_feedback_store
from chat_rec.config import AgentConfig
from chat_rec.errors import ChatRecError
from chat_rec.recommender.feedback import FeedbackEvent, MemoryStore
from chat_rec.recommender.pgstore import MIGRATIONS, PostgresStore
from chat_rec.session import Session

pytest.importorskip("psycopg", reason="the postgres extra: pip install 'chat-rec[postgres]'")


@pytest.fixture(scope="module")
def pg():
    server = PostgresServer()
    yield server
    server.remove()


def test_migrations_are_versioned_and_applied_once(pg):
    dsn = pg.new_database("migrations")
    store = PostgresStore(dsn)
    assert store.version == max(v for v, _, _ in MIGRATIONS)
    again = PostgresStore(dsn)  # a second process starting on the same database: nothing applied twice
    rows = again._run(lambda db: db.execute("SELECT version FROM chatrec_schema").fetchall())
    assert [r[0] for r in rows] == [v for v, _, _ in MIGRATIONS]
    store._run(lambda db: db.execute("INSERT INTO chatrec_schema (version, what) VALUES (99, 'from the future')"))
    with pytest.raises(ChatRecError, match="newer than this chat-rec"):
        PostgresStore(dsn)


def test_events_and_state_round_trip(pg):
    store = PostgresStore(pg.new_database("roundtrip"))
    store.append(FeedbackEvent("user:1", "s1", 50, "up", 1, 10.0))
    store.append(FeedbackEvent("user:1", "s1", "tt0078748", "down", 2, 11.0))
    store.append(FeedbackEvent("user:2", "s2", 7, "retract", 1, 12.0))
    assert [(e.item, e.value, e.turn) for e in store.events("user:1")] == [(50, "up", 1), ("tt0078748", "down", 2)]
    store.save_state("user:1", {"liked": [50], "u": [0.5, -0.25]})
    store.save_state("user:1", {"liked": [50, 60], "u": [0.5, -0.25]})
    assert store.load_state("user:1") == {"liked": [50, 60], "u": [0.5, -0.25]}
    assert store.load_state("nobody") is None


def test_acknowledged_events_survive_a_crash_of_the_server(pg):
    dsn = pg.new_database("crash")
    store = PostgresStore(dsn)
    acked = []
    for n in range(50):
        store.append(FeedbackEvent("user:9", "s", n, "up", n))
        acked.append(n)  # append returned: committed
    pg.crash()  # no checkpoint: the server recovers from its write-ahead log at the next start
    pg.start()
    assert [e.item for e in PostgresStore(dsn).events("user:9")] == acked


def test_two_replicas_share_a_users_feedback(pg, ml_parts):
    dsn = pg.new_database("replicas")
    inter = ml_parts["interactions"]
    one = ml_parts["served_agent"](AgentConfig(k=5), store=PostgresStore(dsn))  # the served chat (build_agent)
    two = ml_parts["served_agent"](AgentConfig(k=5), store=PostgresStore(dsn))
    user = inter.user_ids[0]
    session = Session(user_id=user)
    elsewhere = Session(user_id=user)  # the same user, in a session on the other replica
    two.turn("a comedy", elsewhere)
    first = one.turn("something scary from the 80s", session)
    liked, disliked = first.items[0].item_id, first.items[1].item_id
    one.record_feedback(session, liked, "up")
    one.record_feedback(session, disliked, "down")
    # the next turn on the other replica, in the session already open there, counts both
    again = two.turn("something scary from the 80s", elsewhere)
    assert liked in elsewhere.liked and disliked in elsewhere.disliked and elsewhere.user_vector is not None
    assert disliked not in [r.item_id for r in again.items]
    fresh = Session(user_id=user)  # and a new session there starts from them
    two.turn("hello", fresh)
    assert fresh.liked == elsewhere.liked and fresh.disliked == elsewhere.disliked


def test_a_server_that_goes_away_keeps_the_sessions_feedback_until_it_is_back(pg, ml_parts):
    dsn = pg.new_database("outage")
    store = PostgresStore(dsn, connect_timeout=1)
    agent = ml_parts["served_agent"](AgentConfig(k=5), store=store)
    session = Session()
    reply = agent.turn("a comedy", session)
    pg.stop()
    try:
        said = agent.record_feedback(session, reply.items[0].item_id, "up")
        assert "unavailable" in said and len(session.unsaved) == 1
        assert agent.turn("more like that", session).items  # still recommends
    finally:
        pg.start()
    said = agent.record_feedback(session, reply.items[1].item_id, "down")
    assert "back" in said and not session.unsaved
    assert [(e.item, e.value) for e in store.events(session.user_key)] == [
        (reply.items[0].item_id, "up"),
        (reply.items[1].item_id, "down"),
    ]


def test_an_unreachable_server_is_a_notice_not_a_crash(pg):
    store, notice = open_feedback_store(f"postgresql://chatrec@127.0.0.1:{pg.port + 1}/nowhere?connect_timeout=1")
    assert isinstance(store, MemoryStore) and "PostgreSQL" in notice
