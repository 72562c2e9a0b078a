"""The conversational agent: ``Agent.turn(message, session) -> Reply`` is the one entry point the CLI,
the tests and the UI use. A turn: validate -> intent (rules, merged with the LLM when it answers) ->
session intent (refinements accumulate) -> rank -> explain -> reply text."""

from __future__ import annotations

import copy
import importlib.util
import logging
import re
import time
from collections.abc import Iterator

from chat_rec.catalog import Interactions, ItemId
from chat_rec.config import AgentConfig, OnlineConfig
from chat_rec.dialogue.memory import Memory
from chat_rec.dialogue.replies import Replies
from chat_rec.dialogue.tracker import Tracker, describe_change
from chat_rec.dialogue.written import stream_explanation
from chat_rec.recommender.explain import short_title, word_influence
from chat_rec.recommender.feedback import VALUES, FeedbackEvent, FeedbackStore, MemoryStore, effective
from chat_rec.recommender.intent import Intent
from chat_rec.recommender.intent.llm_reader import LLMFailure, LLMHelper
from chat_rec.recommender.intent.titles import TitleMatcher
from chat_rec.recommender.pipeline import (
    DIALOGUE_MESSAGES,
    WORDS_MESSAGES,
    Ranking,
    Recommender,
    UserState,
)
from chat_rec.session import Recommendation, Reply, Session

log = logging.getLogger(__name__)
#: request kinds whose picks an LLM reading can change
RECOMMEND_KINDS = ("recommend", "more_like", "refine")
#: what the person sees while the language model reads in the background
READING = "reading your message with the language model"
#: how many years "something older" / "more recent" moves the era by (a window, not everything before)
ERA_STEP = 20


class Agent:
    """Args:
    recommender: the ranking core.
    interactions: stored histories, so a known user id loads its ratings.
    llm: an LLMHelper, or None for rules only.
    """

    def __init__(
        self,
        recommender: Recommender,
        interactions: Interactions | None = None,
        llm: LLMHelper | None = None,
        config: AgentConfig = AgentConfig(),
        titles: TitleMatcher | None = None,
        llm_notice: str | None = None,
        store: FeedbackStore | None = None,
        store_notice: str | None = None,
        online: OnlineConfig = OnlineConfig(),
        reranker_notice: str | None = None,
    ):
        self.rec, self.catalog, self.interactions = recommender, recommender.catalog, interactions
        self.store, self.store_notice, self.online = store or MemoryStore(), store_notice, online
        self.titles = titles or TitleMatcher(self.catalog, recommender.popularity)
        self.people = recommender.people
        self.tracker = Tracker(self.catalog, self.titles, self.people, config)
        self.parser = self.tracker.parser
        self.replies = Replies(recommender, interactions, config)
        self.config = config
        self.llm, self.llm_notice, self.reranker_notice = llm, llm_notice, reranker_notice

    @property
    def memory(self) -> Memory:
        """The session's feedback memory over the agent's current store."""
        return Memory(self.store, self.catalog, self.rec.vectors, self.online)

    @property
    def config(self) -> AgentConfig:
        return self._config

    @config.setter
    def config(self, config: AgentConfig) -> None:
        """One configuration for the turn loop, the dialogue state and the replies."""
        self._config = config
        if hasattr(self, "tracker"):  # copies: an agent copied with copy.copy gets its own
            self.tracker, self.replies = copy.copy(self.tracker), copy.copy(self.replies)
            self.tracker.config = self.replies.config = config

    # --------------------------------------------------------------------------------- the turn
    def turn(self, message: str, session: Session) -> Reply:
        """One whole turn: the last reply of ``turn_stream`` (the LLM's refinement and text included)."""
        *_, last = self.turn_stream(message, session)
        return last

    def turn_stream(self, message: str, session: Session) -> Iterator[Reply]:
        """One turn as it happens. First the picks from the rules' reading (``stage="picks"`` when more follows,
        with ``pending`` saying what runs in the background); then, when the language model is consulted, its
        refinement: the picks again if its reading changed them (``refined``, with a notice saying what changed),
        or the first picks unchanged; a reply the model writes comes token by token (``stage="text"``). The
        last reply has ``stage="final"``. The session holds the final state once the stream ends."""
        started = time.perf_counter()
        notices: list[str] = []
        timings: dict[str, float] = {}
        before = copy.deepcopy(session) if self.llm is not None and self.config.reader != "rules" else None
        readings: dict = {}
        intent = self.read(message, session, notices, timings=timings, readings=readings)
        reply = self._reply(intent, session, notices, timings)
        text = session.messages[-1] if intent is not None else ""
        if intent is not None and before is not None and self.llm_worth_calling(readings["rules"], text):
            reply.stage, reply.pending = "picks", READING
            reply.seconds = time.perf_counter() - started
            yield reply
            reply = self._refine(text, before, session, reply, readings["rules"], timings)
        elif reply.kind == "explain" and self.llm is not None and getattr(reply, "_rewrite", None) is not None:
            reply.seconds = time.perf_counter() - started
            yield from stream_explanation(self.llm, self.titles, reply, session, started)
            return
        reply.stage, reply.pending = "final", ""
        reply.seconds = time.perf_counter() - started
        reply.timings = timings
        yield reply

    def llm_worth_calling(self, rules: Intent, text: str) -> bool:
        """Whether the language model reads this message (in the background, after the rules' picks).

        ``rules``: never. ``merge`` and ``llm``: every recommendation request. ``refine`` (the default): only a
        request the rules found nothing firm in (no genre, no title, no era) and that has at least three words,
        e.g. "something to watch with my kids on a rainy day": there the LLM may add topic words, a mood or a
        loosely written title; where the rules found genres, titles or eras it measured less precise than them
        (``chat-rec eval intents --set real``), so it is not asked."""
        reader = self.config.reader
        if self.llm is None or reader == "rules" or rules.kind not in RECOMMEND_KINDS:
            return False
        if reader in ("merge", "llm"):
            return True
        firm = (
            rules.wanted_genres
            or rules.unwanted_genres
            or rules.reference_items
            or rules.liked_items
            or rules.disliked_items
            or rules.year_min is not None
            or rules.year_max is not None
            or rules.era_shift
        )
        return not firm and len(re.findall(r"\w+", text)) >= 3

    def _reply(self, intent: Intent | None, session: Session, notices: list[str], timings: dict) -> Reply:
        if intent is None:
            return Reply(
                "Tell me what you are in the mood for: a genre, an era, or a movie you liked.",
                [],
                notices + ["empty message: nothing to do"],
                session.intent or Intent(),
                "chat",
            )
        act = session.act
        if intent.kind == "answer":
            return self.replies.answer(act, session, intent, notices)
        if intent.kind == "chat":
            return self.replies.chat(session.messages[-1], intent, session, notices)
        if intent.kind == "explain":
            return self.replies.explain(intent, session, self.user_state(session), notices)
        if act is not None and act.name == "vague":
            return self.replies.vague(intent, session, self.user_state(session), notices)
        return self.replies.recommend(intent, session, self.user_state(session), notices, timings)

    def _refine(self, text: str, before: Session, session: Session, first: Reply, rules: Intent, timings) -> Reply:
        """The language model's reading of ``text`` (made before ``session`` took the rules' turn, from the
        ``before`` copy): when it changes the picks, ``session`` takes the refined state and the refined reply
        is returned; otherwise the first reply stands."""
        reader = self.config.reader
        try:
            llm_intent = self.llm.extract(text, before.messages, soft=reader == "refine")
        except LLMFailure as exc:
            first.notices.append(f"{exc}; these picks are from my built-in rules")
            return first
        finally:
            for name, ms in self.llm.timings.items():
                timings[f"intent_llm_{name}"] = ms
        refined = copy.deepcopy(before)
        notices = list(first.notices)
        intent = self.read(text, refined, [], timings={}, llm_intent=llm_intent)
        reply = self._reply(intent, refined, notices, {})
        same = [r.item_id for r in reply.items] == [r.item_id for r in first.items] and reply.kind == first.kind
        if same:
            return first
        session.__dict__.update(refined.__dict__)
        change = describe_change(rules, intent, self.catalog)
        reply.notices.append(f"also reading: {change}" if change else "the language model's reading changed the picks")
        reply.refined = True
        reply.timings = timings
        return reply

    def signals(self, session: Session, intent: Intent | None = None):
        """``(candidate rows, standardised signal matrix, head)`` behind ``rank``: for fitting the fusion
        weights and for ablations on the same path."""
        return self.rec.signal_matrix(intent or session.intent or Intent(), self.user_state(session))

    def read(
        self,
        message: str,
        session: Session,
        notices: list[str] | None = None,
        *,
        timings: dict | None = None,
        readings: dict | None = None,
        llm_intent: Intent | None = None,
    ) -> Intent | None:
        """The understanding half of a turn: validate the message, read its intent (rules, merged with the
        LLM), fold it into the session (refinements accumulate, likes and dislikes are kept). Returns the
        turn's intent, or None for an empty message. ``turn`` calls it; so does the replay of recorded
        dialogues, which then asks ``rank`` at the points where a recommender answered. ``llm_intent``: the
        language model's reading of the message, combined with the rules' as ``config.reader`` says;
        ``readings["rules"]`` receives the rules' own reading, ``timings["intent_rules"]`` its milliseconds."""
        notices = [] if notices is None else notices
        self.memory.restore(session)
        if session.unsaved:
            note = self.memory.save(session)
            if note:
                notices.append(note.strip(" ()"))
        if session.turns == 0:
            notices += [n for n in (self.llm_notice, self.store_notice, self.reranker_notice) if n]
        text = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in (message or "")).strip()
        if not text:
            return None
        if len(text) > self.config.max_message_chars:
            notices.append(f"message truncated from {len(text):,} to {self.config.max_message_chars:,} characters")
            text = text[: self.config.max_message_chars]
        session.turns += 1
        start = time.perf_counter()
        intent = self.tracker.understand(text, session, notices, llm_intent, readings if readings is not None else {})
        if timings is not None:
            timings["intent_rules"] = (time.perf_counter() - start) * 1000
        session.messages.append(text)
        session.transcript.append(("person", text))
        return intent

    def observe(self, session: Session, text: str) -> None:
        """The other side's words in a replayed dialogue (a human recommender's message), taken as the
        assistant's: the films they name are on screen ("it", "the first one" point at them) and are not
        recommended again."""
        ids = list(dict.fromkeys(m.item_id for m in self.titles.find(text) if m.item_id is not None))
        session.transcript.append(("assistant", text))
        if ids:
            session.last_items = ids
            session.shown += [i for i in ids if i not in session.shown]
            session.mentioned += [i for i in ids if i not in session.mentioned]
            session.focus = ids[-1]

    def word_influence(self, message: str, item_id: ItemId) -> list[tuple[str, float]]:
        """How much each word of ``message`` moves the item's semantic score (occlusion), for the "why" panel."""
        return word_influence(self.rec, message, self.catalog.row(item_id))

    def rank(self, session: Session, k: int | None = None, intent: Intent | None = None) -> Ranking:
        """The ranked picks for the session's current request (what a recommend turn shows, top ``k``)."""
        intent = intent or session.intent or Intent()
        return self.rec.rank(intent, self.user_state(session), k or self.config.k)

    def record_feedback(self, session: Session, item_id: ItemId, value: str) -> str:
        """👍 (``up``) / 👎 (``down``) / ``retract`` on an item: stored durably, then the session's user
        vector and liked/disliked sets are recomputed, so the next turn's ranking reflects it. When the store
        cannot take it, the event waits in ``session.unsaved`` (the message says so) and the session still
        learns from it; ``not session.unsaved`` afterwards means every event of the session is stored.

        Raises:
            ValueError: ``value`` is not one of up, down, retract.
        """
        if value not in VALUES:
            raise ValueError(f"feedback value {value!r}; accepted values are 'up', 'down', 'retract'")
        if item_id not in self.catalog:
            return f"unknown item {item_id!r}: feedback ignored"
        self.memory.restore(session)
        event = FeedbackEvent(session.user_key, session.session_id, item_id, value, session.turns)
        session.feedback.append(event)
        self.memory.apply(session)
        if value == "up" and item_id in session.last_items:
            session.focus = item_id  # 👍 then "more like that": that is the film just liked
        elif value != "up" and session.focus == item_id:
            session.focus = None
        note = self.memory.save(session, event)
        if item_id not in session.shown:
            note += " (it was not shown in this chat)"
        return f"{value} recorded for {short_title(self.catalog.item(item_id))}{note}"

    def more(self, session: Session, n: int = 1) -> list[Recommendation]:
        """``n`` new picks for the session's current request (nothing already shown), e.g. to replace a 👎'd card."""
        intent = session.intent or Intent()
        state = self.user_state(session)
        items = [self.replies.card(s, intent, state) for s in self.rec.rank(intent, state, n).items]
        session.shown += [r.item_id for r in items if r.item_id not in session.shown]
        return items

    def reorder(self, session: Session, item_ids: list[ItemId]) -> list[Recommendation]:
        """The given (shown) items re-scored with the session's current state, best first."""
        rows = [self.catalog.row(i) for i in item_ids if i in self.catalog]
        if not rows:
            return []
        intent = (session.intent or Intent()).model_copy(update={"show_again": True})
        state = self.user_state(session)
        return [
            self.replies.card(s, intent, state) for s in self.rec.rank(intent, state, len(rows), restrict=rows).items
        ]

    def user_state(self, session: Session) -> UserState:
        judged = [(self.catalog.row(i), v) for i, v in effective(session.feedback) if i in self.catalog]
        state = UserState(
            liked_rows=list(self.catalog.rows(session.liked, skip_unknown=True)),
            disliked_rows=list(self.catalog.rows(session.disliked, skip_unknown=True)),
            shown_rows=list(self.catalog.rows(session.shown, skip_unknown=True)),
            mentioned_rows=list(self.catalog.rows(session.mentioned, skip_unknown=True)),
            ruled_out_rows=list(self.catalog.rows(session.ruled_out, skip_unknown=True)),
            user_vector=session.user_vector,
            request=" ".join(session.messages[-WORDS_MESSAGES:]),
            feedback_up_rows=[r for r, v in judged if v == "up"],
            feedback_down_rows=[r for r, v in judged if v == "down"],
            dialogue=" ".join(t for _, t in session.transcript[-DIALOGUE_MESSAGES:]),
        )
        if session.user_id is not None and self.interactions is not None:
            try:
                rows, ratings = self.interactions.history(session.user_id)
                state.history_rows, state.history_ratings = rows.tolist(), ratings.tolist()
                state.profile = dict(self.interactions.users.get(session.user_id, {}))
            except KeyError:
                pass
        return state

    def explain_words(self, session: Session, item_id: ItemId, num_samples: int = 200, seed: int = 0):
        """LIME weights of the person's request words for ``item_id``'s re-ranker score (``WordWeights``),
        or None when no trained re-ranker is loaded, the session has no words yet, or ``lime`` (an extra:
        ``pip install 'chat-rec[lime]'``) is not installed; the UI then shows the occlusion weights."""
        from chat_rec.recommender.lime_words import explain_lime

        if (
            importlib.util.find_spec("lime") is None
            or not self.has_reranker
            or not session.messages
            or item_id not in self.catalog
        ):
            return None
        state = self.user_state(session)
        intent = session.intent or Intent()
        text = self.rec.texts[self.catalog.row(item_id)]
        request = state.request

        def score(requests):
            queries = [self.rec.reranker_query(intent, state, request=r) for r in requests]
            return self.rec.reranker.score_queries(queries, [text])[:, 0]

        return explain_lime(score, request, num_samples=num_samples, seed=seed)

    @property
    def ranker_source(self) -> str:
        """Which fitted ranker serves (the packaged weights, a local refit, the hand-set defaults), in one line."""
        from chat_rec.recommender.fusion import describe

        return describe(self.rec.fusion)

    @property
    def has_reranker(self) -> bool:
        return hasattr(self.rec.reranker, "score_queries")
