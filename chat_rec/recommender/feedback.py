"""👍/👎 that learn: an online user vector in the item-embedding space, and the stores that keep every
event and every user's state (SQLite in WAL mode by default; an in-memory double for tests).

Update rule (logistic loss, online gradient step with a decaying step size, DESIGN §1):

    u ← u + η_t · (y − σ(u·v)) · v,   y = 1 for 👍, 0 for 👎,   η_t = η₀ / (1 + t / τ)

The state is a pure function of the *effective* feedback (the last value per item, retractions removed),
replayed in order, so repeated clicks, up-then-down and un-liking all land where the person meant.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from chat_rec.config import OnlineConfig
from chat_rec.errors import ChatRecError

log = logging.getLogger(__name__)
VALUES = ("up", "down", "retract")


@dataclass(frozen=True)
class FeedbackEvent:
    user: str
    session: str
    item: Any
    value: str
    turn: int = 0
    time: float = field(default_factory=time.time)


def effective(events: list[FeedbackEvent]) -> list[tuple[Any, str]]:
    """(item, up|down) in the order of each item's last event; retracted items dropped."""
    last: dict[Any, tuple[int, str]] = {}
    for n, event in enumerate(events):
        last[event.item] = (n, event.value)
    ordered = sorted(last.items(), key=lambda kv: kv[1][0])
    return [(item, value) for item, (_, value) in ordered if value != "retract"]


def user_vector(
    effective_events: list[tuple[int, str]], vectors: np.ndarray, cfg: OnlineConfig = OnlineConfig()
) -> np.ndarray:
    """Replay the update rule over (row, up|down) pairs. Returns u (zeros when there is no feedback)."""
    u = np.zeros(vectors.shape[1], dtype=np.float64)
    for t, (row, value) in enumerate(effective_events):
        v = vectors[row].astype(np.float64)
        y = 1.0 if value == "up" else 0.0
        p = 1.0 / (1.0 + np.exp(-cfg.scale * float(u @ v)))
        u += cfg.eta0 / (1.0 + t / cfg.tau) * (y - p) * v
    return u.astype(np.float32)


class FeedbackStore(Protocol):
    """Durable feedback events and per-user state.

    ``append`` returns only after the event is durable (the caller may then acknowledge it).

    Example:
        >>> store = MemoryStore()
        >>> store.append(FeedbackEvent("u1", "s1", 50, "up"))
        >>> [e.item for e in store.events("u1")]
        [50]
    """

    def append(self, event: FeedbackEvent) -> None: ...

    def events(self, user: str) -> list[FeedbackEvent]: ...

    def save_state(self, user: str, state: dict) -> None: ...

    def load_state(self, user: str) -> dict | None: ...


class MemoryStore:
    """In-process store: the deterministic double, and the fallback when the database cannot be written."""

    kind = "memory"

    def __init__(self):
        self._events: list[FeedbackEvent] = []
        self._state: dict[str, dict] = {}

    def append(self, event: FeedbackEvent) -> None:
        self._events.append(event)

    def events(self, user: str) -> list[FeedbackEvent]:
        return [e for e in self._events if e.user == user]

    def save_state(self, user: str, state: dict) -> None:
        self._state[user] = json.loads(json.dumps(state))

    def load_state(self, user: str) -> dict | None:
        return self._state.get(user)


class SQLiteStore:
    """SQLite in WAL mode with synchronous=FULL: a committed event survives the process being killed. One
    connection shared by the app's threads, one statement at a time (a lock), so each event is its own
    transaction and the store holds exactly the events whose ``append`` returned.

    Raises:
        ChatRecError: the file is not a SQLite database (it is never overwritten), or it cannot be opened.
    """

    kind = "sqlite"
    SCHEMA = """
    CREATE TABLE IF NOT EXISTS feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL,
        session TEXT NOT NULL, item TEXT NOT NULL, value TEXT NOT NULL CHECK (value IN ('up', 'down', 'retract')),
        turn INTEGER, time REAL);
    CREATE INDEX IF NOT EXISTS feedback_user ON feedback(user, id);
    CREATE TABLE IF NOT EXISTS user_state (user TEXT PRIMARY KEY, state TEXT NOT NULL, updated REAL);
    """

    def __init__(self, path: Path, timeout: float = 2.0):
        self.path = Path(path)
        if self.path.exists() and self.path.stat().st_size > 0:
            with open(self.path, "rb") as fh:
                if fh.read(16) != b"SQLite format 3\x00":
                    raise ChatRecError(
                        f"{self.path} is not a SQLite database, so it was left untouched; move it "
                        "away (or delete it) to start a fresh feedback store"
                    )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(self.SCHEMA)
            self._lock = threading.Lock()
        except (sqlite3.DatabaseError, OSError) as exc:
            raise ChatRecError(
                f"cannot use {self.path} as the feedback store ({exc}); check it is writable and "
                "not locked by another program, or move it away"
            ) from None

    def append(self, event: FeedbackEvent) -> None:
        with self._lock, self.db:  # one transaction per event: committed (durable) when this returns
            self.db.execute(
                "INSERT INTO feedback (user, session, item, value, turn, time) VALUES (?, ?, ?, ?, ?, ?)",
                (event.user, event.session, json.dumps(event.item), event.value, event.turn, event.time),
            )

    def events(self, user: str) -> list[FeedbackEvent]:
        with self._lock:
            rows = self.db.execute(
                "SELECT user, session, item, value, turn, time FROM feedback WHERE user = ? ORDER BY id", (user,)
            ).fetchall()
        return [FeedbackEvent(u, s, json.loads(i), v, t, tm) for u, s, i, v, t, tm in rows]

    def save_state(self, user: str, state: dict) -> None:
        with self._lock, self.db:
            self.db.execute(
                "INSERT INTO user_state (user, state, updated) VALUES (?, ?, ?) "
                "ON CONFLICT(user) DO UPDATE SET state = excluded.state, updated = excluded.updated",
                (user, json.dumps(state), time.time()),
            )

    def load_state(self, user: str) -> dict | None:
        with self._lock:
            row = self.db.execute("SELECT state FROM user_state WHERE user = ?", (user,)).fetchone()
        return json.loads(row[0]) if row else None

    def close(self) -> None:
        self.db.close()


def open_store(path: Path | None) -> tuple[FeedbackStore, str | None]:
    """The SQLite store at ``path``, or an in-memory store and a notice saying why not
    (``assemble.open_feedback_store`` also opens PostgreSQL URLs)."""
    if path is None:
        return MemoryStore(), None
    try:
        store = SQLiteStore(path)
        store.db.execute("BEGIN IMMEDIATE")  # proves we can write (a read-only file or a held lock fails here)
        store.db.execute("ROLLBACK")
        return store, None
    except (ChatRecError, sqlite3.Error, OSError) as exc:
        reason = str(exc) if isinstance(exc, ChatRecError) else f"{path} cannot be written ({exc})"
        log.warning("feedback store unavailable: %s", reason)
        return MemoryStore(), f"feedback is kept in memory only for this session: {reason}"
