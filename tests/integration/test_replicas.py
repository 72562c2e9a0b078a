"""Two replicas of the app (two ``python app.py`` processes, each with its own copy of the read-only index and
models) on one PostgreSQL feedback store, a real server started by the tests: a user's 👎 given on one replica
shapes their next turn on the other, and SIGKILL of one replica while users click loses no acknowledged event."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from helpers import PostgresServer, wait_until
from test_load import Clicking, app_env

from chat_rec.catalog import display_title
from chat_rec.evaluation.load import App, connect
from chat_rec.ui.render import card_title

pytestmark = pytest.mark.slow
psycopg = pytest.importorskip("psycopg", reason="the postgres extra: pip install 'chat-rec[postgres]'")
ASK = "something scary from the 80s"


@pytest.fixture
def two_replicas(ml_parts, tmp_path):
    pg = PostgresServer()
    dsn = pg.new_database("replicas")
    env = app_env(ml_parts, "unused")
    env["CHATREC_STORE"] = dsn
    a = App(env, tmp_path / "a.log")
    b = App(env, tmp_path / "b.log")
    try:
        a.start()
        b.start()
        yield a, b, dsn
    finally:
        a.stop()
        b.stop()
        pg.remove()


def stored(dsn) -> Counter:
    with psycopg.connect(dsn) as db:
        rows = db.execute('SELECT "user", item, value FROM feedback').fetchall()
    return Counter((u, json.loads(i), v) for u, i, v in rows)


def shows(history, title: str) -> bool:
    return any(title in str(m.get("content")) for m in history if m.get("role") == "assistant")


def test_a_dislike_on_one_replica_shapes_the_next_turn_on_the_other(two_replicas, ml_parts):
    a, b, dsn = two_replicas
    user = "1"
    on_a = connect(a.url)
    first, _ = on_a.predict(ASK, [], user, "laptop", "now", api_name="/send")
    ack = on_a.predict(1, "down", api_name="/feedback")
    assert ack["ok"] and ack["stored"]
    item = ml_parts["catalog"].item(ack["item"])
    title = card_title(display_title(item.title), item.year)
    assert shows(first, title)
    later, _ = connect(b.url).predict(ASK, [], user, "laptop", "now", api_name="/send")
    assert not shows(later, title), f"{title} still shown on the other replica after the 👎"
    other, _ = connect(b.url).predict(ASK, [], "2", "laptop", "now", api_name="/send")
    assert other  # another user on that replica is served as before
    assert stored(dsn)[(f"user:{user}", ack["item"], "down")] == 1


def test_sigkill_of_one_replica_loses_no_acknowledged_event(two_replicas):
    a, b, dsn = two_replicas
    placement = {u: (a if u <= 3 else b) for u in range(1, 7)}
    clients = {u: connect(app.url) for u, app in placement.items()}
    for u, client in clients.items():
        client.predict(ASK, [], str(u), "laptop", "now", api_name="/send")
    clicking = Clicking(clients.values(), ("up", "down", "retract"))

    def acked_on(app) -> int:
        return sum(placement[int(user.split(":")[1])] is app for user, _, _ in list(clicking.acked))

    try:
        wait_until(lambda: acked_on(a) >= 20 and acked_on(b) >= 20, "20 acknowledged clicks on each replica", 180)
        a.kill()  # SIGKILL one replica mid-stream
        before = acked_on(b)
        wait_until(lambda: acked_on(b) >= before + 20, "20 more clicks acknowledged by the other replica", 180)
    finally:
        clicking.stop()
    acked = clicking.acked
    assert len(acked) >= 60
    missing = Counter(acked) - stored(dsn)
    assert not missing, f"acknowledged but lost: {missing}"
    survivor = clients[4].predict(1, "up", api_name="/feedback")
    assert survivor["ok"] and survivor["stored"]
