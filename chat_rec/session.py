"""What one conversation holds (``Session``) and what a turn returns (``Reply`` with its ``Recommendation``
cards): plain records the agent fills and the UI, the CLI and the evaluations read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from chat_rec.catalog import ItemId
from chat_rec.recommender.feedback import FeedbackEvent
from chat_rec.recommender.intent import Intent


@dataclass
class Recommendation:
    item_id: ItemId
    title: str
    year: int | None
    genres: list[str]
    score: float
    explanation: str
    facts: list[str]
    parts: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "id": self.item_id,
            "title": self.title,
            "year": self.year,
            "genres": self.genres,
            "score": round(self.score, 4),
            "explanation": self.explanation,
            "facts": self.facts,
        }


@dataclass
class Reply:
    text: str
    items: list[Recommendation]
    notices: list[str]
    intent: Intent
    kind: str
    seconds: float = 0.0
    #: milliseconds per stage of the turn: intent_rules, intent_llm_queue / _prompt / _generate, retrieve,
    #: rerank, explain (the cards' facts and text)
    timings: dict[str, float] = field(default_factory=dict)
    #: ``Agent.turn_stream``: "picks" (the rules' picks, more may follow), "text" (a reply still being written),
    #: "final"
    stage: str = "final"
    #: what a background step is doing while this reply shows (e.g. "reading your message with the language model")
    pending: str = ""
    #: the language model's reading changed the picks (the notices say how)
    refined: bool = False

    def to_json(self) -> dict:
        return {"reply": self.text, "items": [r.to_json() for r in self.items], "notices": self.notices}


@dataclass
class Session:
    """Everything one conversation has accumulated. Plain data: it can be stored and restored."""

    user_id: Any = None
    context: dict[str, str] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    intent: Intent | None = None
    shown: list[ItemId] = field(default_factory=list)
    liked: list[ItemId] = field(default_factory=list)
    disliked: list[ItemId] = field(default_factory=list)
    last_items: list[ItemId] = field(default_factory=list)
    feedback: list[FeedbackEvent] = field(default_factory=list)
    user_vector: Any = None  # numpy vector learned from 👍/👎
    # titles the conversation brought up besides what the reader found (a replayed dialogue's @mentions by
    # either speaker), in order: references for the ranking, never recommended again
    mentioned: list[ItemId] = field(default_factory=list)
    # both sides' words in order, ("person" | "assistant", text): the dialogue context the ranking reads
    transcript: list[tuple[str, str]] = field(default_factory=list)
    focus: ItemId | None = None  # the item last explained, for "something like it"
    # films the person ruled out ("I've seen it", "already saw Fargo"): never recommended in this conversation
    ruled_out: list[ItemId] = field(default_factory=list)
    # a vague request's readings on offer ({"label", "genres", "mood"}), until the person picks one
    choices: list[dict] = field(default_factory=list)
    act: Any = None  # the last turn's act (``dialogue.acts.Act``)
    # 👍/👎 the feedback store could not take (locked, read-only, full): kept here, in order, and saved with
    # the next event or turn once the store takes writes again (a store failure touches only this session)
    unsaved: list[FeedbackEvent] = field(default_factory=list)
    turns: int = 0
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def user_key(self) -> str:
        return f"user:{self.user_id}" if self.user_id is not None else f"session:{self.session_id}"
