"""The feedback store on PostgreSQL (``CHATREC_STORE=postgresql://user@host:port/db``), behind the same
``FeedbackStore`` interface as SQLite: several app processes share users. Needs the ``postgres`` extra
(``pip install 'chat-rec[postgres]'``: psycopg 3).

- Migrations are versioned: ``MIGRATIONS`` is an ordered list, each applied once in its own transaction and
  recorded in ``chatrec_schema`` (a newer database than this code is refused with a message, never altered).
- Writes are durable: ``append`` returns after its transaction committed (PostgreSQL's default
  ``synchronous_commit=on``: the commit is flushed to the write-ahead log), so an acknowledged event survives the
  app and the database server being killed.
- A lost connection (the server restarted) is reopened on the next call; a call that fails raises
  ``ChatRecError`` and the agent keeps that session's events until the store answers again.
"""

from __future__ import annotations

import json
import logging
import threading
import time

from chat_rec.errors import ChatRecError
from chat_rec.recommender.feedback import FeedbackEvent

log = logging.getLogger(__name__)

#: (version, what it does, SQL): applied in order, once each
MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "feedback events and user state",
        """
        CREATE TABLE feedback (
            id BIGSERIAL PRIMARY KEY,
            "user" TEXT NOT NULL,
            session TEXT NOT NULL,
            item TEXT NOT NULL,
            value TEXT NOT NULL CHECK (value IN ('up', 'down', 'retract')),
            turn INTEGER,
            time DOUBLE PRECISION
        );
        CREATE INDEX feedback_user ON feedback ("user", id);
        CREATE TABLE user_state ("user" TEXT PRIMARY KEY, state JSONB NOT NULL, updated DOUBLE PRECISION);
        """,
    ),
]


class PostgresStore:
    """Feedback events and per-user state in PostgreSQL.

    Raises:
        ChatRecError: psycopg is not installed, the server cannot be reached, or the schema is newer than this
            code (the message says what to do).
    """

    kind = "postgresql"

    def __init__(self, dsn: str, connect_timeout: float = 5.0):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise ChatRecError(
                "CHATREC_STORE names a PostgreSQL server but psycopg is not installed: "
                "pip install 'chat-rec[postgres]' (or make setup)"
            ) from None
        self.dsn, self.connect_timeout = dsn, connect_timeout
        self._lock = threading.Lock()
        self._db = None
        with self._lock:
            self._migrate(self._conn())

    # ------------------------------------------------------------------------------------ connection
    def _conn(self):
        import psycopg

        if self._db is None or self._db.closed or self._db.broken:
            try:
                self._db = psycopg.connect(self.dsn, connect_timeout=max(1, int(self.connect_timeout)))
            except psycopg.Error as exc:
                raise ChatRecError(f"cannot reach the PostgreSQL feedback store ({_short(exc)})") from None
        return self._db

    def _run(self, fn):
        """``fn(connection)`` in a transaction, reconnecting once when the connection was lost."""
        import psycopg

        with self._lock:
            for attempt in (0, 1):
                db = self._conn()
                try:
                    with db.transaction():
                        return fn(db)
                except psycopg.OperationalError as exc:
                    if attempt == 0 and (db.closed or db.broken):
                        log.warning("PostgreSQL connection lost (%s); reconnecting", _short(exc))
                        continue
                    raise ChatRecError(f"the PostgreSQL feedback store failed ({_short(exc)})") from None
                except psycopg.Error as exc:
                    raise ChatRecError(f"the PostgreSQL feedback store failed ({_short(exc)})") from None

    def _migrate(self, db) -> None:
        with db.transaction():
            db.execute(
                "CREATE TABLE IF NOT EXISTS chatrec_schema (version INTEGER PRIMARY KEY, what TEXT, applied "
                "DOUBLE PRECISION)"
            )
            db.execute("LOCK TABLE chatrec_schema IN EXCLUSIVE MODE")  # two processes starting together
            done = {v for (v,) in db.execute("SELECT version FROM chatrec_schema").fetchall()}
        known = {v for v, _, _ in MIGRATIONS}
        if done - known:
            raise ChatRecError(
                f"the PostgreSQL feedback store has schema version {max(done)}, newer than this chat-rec "
                f"({max(known)}); upgrade chat-rec, or point CHATREC_STORE at another database"
            )
        for version, what, sql in MIGRATIONS:
            with db.transaction():
                db.execute("LOCK TABLE chatrec_schema IN EXCLUSIVE MODE")
                if db.execute("SELECT 1 FROM chatrec_schema WHERE version = %s", (version,)).fetchone():
                    continue
                db.execute(sql)
                db.execute(
                    "INSERT INTO chatrec_schema (version, what, applied) VALUES (%s, %s, %s)",
                    (version, what, time.time()),
                )
                log.info("PostgreSQL feedback store: applied migration %d (%s)", version, what)

    @property
    def version(self) -> int:
        return self._run(lambda db: db.execute("SELECT max(version) FROM chatrec_schema").fetchone()[0])

    # ------------------------------------------------------------------------------------ FeedbackStore
    def append(self, event: FeedbackEvent) -> None:
        """Returns once the event's transaction has committed (durable)."""
        self._run(
            lambda db: db.execute(
                'INSERT INTO feedback ("user", session, item, value, turn, time) VALUES (%s, %s, %s, %s, %s, %s)',
                (event.user, event.session, json.dumps(event.item), event.value, event.turn, event.time),
            )
        )

    def events(self, user: str) -> list[FeedbackEvent]:
        rows = self._run(
            lambda db: db.execute(
                'SELECT "user", session, item, value, turn, time FROM feedback WHERE "user" = %s ORDER BY id',
                (user,),
            ).fetchall()
        )
        return [FeedbackEvent(u, s, json.loads(i), v, t, tm) for u, s, i, v, t, tm in rows]

    def save_state(self, user: str, state: dict) -> None:
        self._run(
            lambda db: db.execute(
                'INSERT INTO user_state ("user", state, updated) VALUES (%s, %s, %s) ON CONFLICT ("user") '
                "DO UPDATE SET state = excluded.state, updated = excluded.updated",
                (user, json.dumps(state), time.time()),
            )
        )

    def load_state(self, user: str) -> dict | None:
        row = self._run(lambda db: db.execute('SELECT state FROM user_state WHERE "user" = %s', (user,)).fetchone())
        return row[0] if row else None

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()


def _short(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
