"""What a conversation remembers across turns and visits: the 👍/👎 events, stored durably (SQLite or
PostgreSQL), the liked / disliked sets and the user vector recomputed from them, and a returning user's
events merged back in. A store that fails keeps the events in the session until it takes writes again."""

from __future__ import annotations

import logging
import sqlite3

from chat_rec.catalog import Catalog
from chat_rec.config import OnlineConfig
from chat_rec.errors import ChatRecError
from chat_rec.recommender.feedback import FeedbackEvent, FeedbackStore, effective, user_vector
from chat_rec.session import Session

log = logging.getLogger(__name__)


class Memory:
    """Args:
    store: where feedback events and user states are kept.
    catalog: the items (events on unknown items are ignored).
    vectors: the item vectors the user vector lives among.
    online: the online-learning settings.
    """

    def __init__(self, store: FeedbackStore, catalog: Catalog, vectors, online: OnlineConfig = OnlineConfig()):
        self.store, self.catalog, self.vectors, self.online = store, catalog, vectors, online

    def save(self, session: Session, event: FeedbackEvent | None = None) -> str:
        """Store the session's unsaved events (in order) and ``event``. Returns a note for the person when the
        store fails (the events stay in the session, which keeps learning from them, and are saved with its
        next event or turn) or when it takes writes again. Other sessions are not affected."""
        if event is not None:
            session.unsaved.append(event)
        if not session.unsaved:
            return ""
        waiting = len(session.unsaved)
        try:
            while session.unsaved:
                self.store.append(session.unsaved[0])
                session.unsaved.pop(0)
        except (sqlite3.Error, OSError, ChatRecError) as exc:
            log.warning("feedback store failed for session %s: %s", session.session_id, exc)
            return (
                f" (the feedback database is unavailable: {exc}; your 👍/👎 are kept in this chat and saved "
                "as soon as it is back)"
            )
        try:
            self.store.save_state(
                session.user_key,
                {
                    "liked": session.liked,
                    "disliked": session.disliked,
                    "u": [round(float(x), 6) for x in session.user_vector],
                },
            )
        except (sqlite3.Error, OSError, ChatRecError) as exc:  # the state is rebuilt from the events anyway
            log.warning("could not save user state: %s", exc)
        earlier = waiting - (event is not None)
        return f" (the feedback database is back: {earlier} earlier 👍/👎 saved)" if earlier else ""

    def apply(self, session: Session) -> None:
        """Recompute liked/disliked and the user vector from the effective feedback (last value per item)."""
        eff = [(item, v) for item, v in effective(session.feedback) if item in self.catalog]
        touched = {e.item for e in session.feedback}
        session.liked = [i for i in session.liked if i not in touched] + [i for i, v in eff if v == "up"]
        session.disliked = [i for i in session.disliked if i not in touched] + [i for i, v in eff if v == "down"]
        session.user_vector = user_vector([(self.catalog.row(i), v) for i, v in eff], self.vectors, self.online)

    def restore(self, session: Session) -> None:
        """A known user's feedback from the store, merged into the session at every turn and 👍/👎: a returning
        user gets their state back, and what they gave in another session or on another replica of the app (a
        shared PostgreSQL store) counts from their next turn. One indexed read per call; anonymous sessions
        are not read."""
        if session.user_id is None:
            return
        try:
            past = self.store.events(session.user_key)
        except (sqlite3.Error, OSError, ChatRecError) as exc:
            log.warning("could not read past feedback: %s", exc)
            return  # tried again next turn
        known = {_event_key(e) for e in session.feedback}
        fresh = [e for e in past if _event_key(e) not in known]
        if fresh:
            session.feedback = sorted(session.feedback + fresh, key=lambda e: e.time)
            self.apply(session)

    # --------------------------------------------------------------------------------- understanding
    # --------------------------------------------------------------------------------- replies


def _event_key(event: FeedbackEvent) -> tuple:
    return (event.session, repr(event.item), event.value, event.turn, round(event.time, 6))
