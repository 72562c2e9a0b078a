"""The running app (``python app.py``, LLM off, as `make run` serves it) under many visitors and a crash:

- 50 visitors at once over HTTP, each with its own conversation and 👍/👎: no request fails, no visitor sees
  another's picks or feedback effects (each compared with the same script run alone), and the feedback store
  ends with exactly the acknowledged events;
- SIGKILL while several visitors send 👍/👎: after a restart every acknowledged event is in the store and each
  user's state is rebuilt from the events.

Latencies are the benchmark's (``chat-rec bench load``), never asserted here."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter

import pytest

from chat_rec.catalog import display_title
from chat_rec.config import AgentConfig
from chat_rec.evaluation.load import App, connect, run_load, stored_events, visitor_titles
from chat_rec.recommender.feedback import SQLiteStore, effective
from chat_rec.session import Session

pytestmark = pytest.mark.slow


def app_env(ml_parts, store) -> dict[str, str]:
    data = ml_parts["data"]
    return {
        "CHATREC_DATA_DIR": str(data.root),
        "CHATREC_SHARED_DATA": os.pathsep.join(str(p) for p in data.shared_dirs) or str(data.root / "absent"),
        "CHATREC_LLM": "none",
        "CHATREC_STORE": str(store),
    }


def titles_of(ml_parts, n=60):
    return visitor_titles(ml_parts["catalog"], ml_parts["interactions"], n)


def test_each_visitor_asks_for_a_title_of_its_own(ml_parts):
    """As a person types them (no year, the article in front), on the full ML-100K and on the committed slice."""
    titles = titles_of(ml_parts)
    assert len(titles) == len(set(titles)) == 60
    assert not [t for t in titles if "(" in t or t.endswith(", The") or t.lower() == "unknown"], titles
    typed = {t.lower() for t in titles}
    assert sum(display_title(it.title).split(" (")[0].lower() in typed for it in ml_parts["catalog"].items) >= 60


class Clicking:
    """Visitors clicking 👍/👎 through their first five cards (``values`` in turn) as fast as their server answers,
    each in its own thread, until ``stop`` or their server dies. ``acked``: every (user, item, value) the server
    said it stored."""

    def __init__(self, clients, values: tuple[str, ...]):
        self.acked: list[tuple[str, object, str]] = []
        self._lock, self._stop, self.values = threading.Lock(), threading.Event(), values
        self._threads = [threading.Thread(target=self._clicks, args=(c,)) for c in clients]
        for t in self._threads:
            t.start()

    def _clicks(self, client) -> None:
        n = 0
        while not self._stop.is_set():
            value = self.values[n % len(self.values)]
            try:
                ack = client.predict(1 + n % 5, value, api_name="/feedback")
            except Exception:  # the server died under us: this one was never acknowledged
                return
            if ack.get("stored"):
                with self._lock:
                    self.acked.append((ack["user"], ack["item"], value))
            n += 1

    def wait_for(self, n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < n and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)


def test_fifty_visitors_at_once(ml_parts, tmp_path):
    store = tmp_path / "state.db"
    with App(app_env(ml_parts, store), tmp_path / "app.log") as app:
        row, acked = run_load(app.url, titles_of(ml_parts), sessions=50, turns=5, timeout=600, think=(0.5, 2.0))
    assert row["turns"] == 250 and row["errors"] == 0, row["error_samples"]
    assert row["cross_talk"] == 0
    assert len(acked) == 2 * 50 * 3  # 3 👍/👎 per script, run together and alone
    assert stored_events(store) == Counter(acked)


def test_sigkill_during_feedback_loses_no_acknowledged_event(ml_parts, tmp_path):
    store = tmp_path / "state.db"
    env = app_env(ml_parts, store)
    users = [1, 2, 3, 4, 5, 6]
    app = App(env, tmp_path / "app.log").start()
    try:
        clients = {u: connect(app.url) for u in users}
        titles = titles_of(ml_parts)
        for u, client in clients.items():  # each known user asks once, then clicks through its cards
            client.predict(f"something like {titles[u % len(titles)]}", [], str(u), "laptop", "now", api_name="/send")
        clicking = Clicking(clients.values(), ("up", "down", "up", "retract"))
        clicking.wait_for(60)
        app.kill()  # SIGKILL mid-stream: no shutdown code runs
        clicking.stop()
    finally:
        app.kill()
    acked = clicking.acked
    assert len(acked) >= 60
    held = stored_events(store)
    missing = Counter(acked) - held
    assert not missing, f"acknowledged but lost: {missing}"
    # after a restart the app serves again from the same store, and each user's state comes back from the events
    with App(env, tmp_path / "app2.log") as again:
        history, _ = connect(again.url).predict("a comedy", [], "1", "laptop", "now", api_name="/send")
        assert len(history) >= 3
    agent = ml_parts["served_agent"](AgentConfig(k=5), store=SQLiteStore(store))
    for u in users:
        session = Session(user_id=u)
        agent.read("hello", session)
        events = agent.store.events(session.user_key)
        want = effective(events)
        assert session.liked == [i for i, v in want if v == "up"]
        assert session.disliked == [i for i, v in want if v == "down"]
        acked_items = {item for user, item, _ in acked if user == session.user_key}
        assert acked_items <= {e.item for e in events}
