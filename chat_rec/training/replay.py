"""Recorded dialogues (ReDial / INSPIRED) replayed through the agent, as the chat would live them.

Each dialogue becomes one agent ``Session``. The seeker's messages go through ``Agent.read`` (the chat's
own intent reader), with ``@id`` mentions written as the titles a person would type. The movies mentioned
so far, by either speaker, are the session's references (``Session.mentioned``): never recommended again.
Where the recommender mentions a movie for the first time, that movie is a target and the session, as it
stands just before that message, is what the chat would rank (``Agent.rank``).

With ``questionnaire=True`` the seeker's post-dialogue answers (ReDial ``initiatorQuestions``: liked /
disliked) about the movies mentioned *earlier* join the session's likes and dislikes; with ``False`` only
the words are read (the setting of published systems).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from chat_rec.agent import Agent
from chat_rec.catalog import Catalog
from chat_rec.datasets.dialogues import MENTION, Dialogue
from chat_rec.recommender.fusion import FusionModel
from chat_rec.recommender.intent.titles import TitleMatcher
from chat_rec.recommender.pipeline import Recommender
from chat_rec.recommender.side import as_typed, dialogue_side
from chat_rec.recommender.signals import ASKED_SIGNALS, SideData
from chat_rec.session import Session


@dataclass
class Case:
    dialogue: str
    target: int  # catalog row of the movie the recommender mentions for the first time
    liked_target: bool  # the seeker said it was suggested and liked (ReDial questionnaire)


class Replayer:
    """Builds rules-only agents over one catalog whose dialogue statistics come from given dialogues."""

    def __init__(
        self,
        catalog: Catalog,
        index,
        vectors: np.ndarray,
        encoder,
        external: SideData | None = None,
        bend_genres: int | None = None,
    ):
        self.catalog, self.index, self.vectors, self.encoder, self.external = (
            catalog,
            index,
            vectors,
            encoder,
            external,
        )
        self.titles: TitleMatcher | None = None
        self.bend_genres = bend_genres  # None: as the fusion says (``Recommender.bend_genres``)
        self._encoded: dict[str, np.ndarray] = {}

    def encode(self, texts: list[str]) -> np.ndarray:
        """The encoder's unit vectors of ``texts``, each text encoded once over this replayer's agents (the
        cross-fitting folds and the final agent read the same recorded requests)."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._encoded]
        if todo:
            for t, v in zip(todo, self.encoder.encode(todo)):
                self._encoded[t] = np.asarray(v, dtype=np.float32)
        dim = self.vectors.shape[1]
        return np.array([self._encoded[t] for t in texts], dtype=np.float32).reshape(len(texts), dim)

    def agent(self, dialogues, fusion: FusionModel | None = None, reranker=None) -> Agent:
        # the recorded requests are encoded only for a fusion that reads them (fitting: every signal)
        reads = fusion is None or any(fusion.weight(h, n) for h in fusion.heads for n in ASKED_SIGNALS)
        side = dialogue_side(self.catalog, dialogues, self.external, self.encode if reads else None)
        rec = Recommender(
            self.catalog, self.index, self.vectors, self.encoder, side=side, fusion=fusion, reranker=reranker
        )
        if self.bend_genres is not None:
            rec.bend_genres = self.bend_genres
        if self.titles is None:
            self.titles = TitleMatcher(self.catalog, rec.popularity)
        return Agent(rec, None, None, titles=self.titles)


def replay(agent: Agent, dialogue: Dialogue, *, questionnaire: bool = True) -> Iterator[tuple[Case, Session]]:
    """Yield ``(case, session)`` at every first mention by the recommender. Rank the session before asking
    for the next case: the session moves on with the dialogue."""
    catalog = agent.catalog
    if not dialogue.accepted:
        return
    session = Session()
    read_liked: list = []
    read_disliked: list = []
    for msg in dialogue.messages:
        if not msg.text.strip():
            continue
        ids = [i for i in dict.fromkeys(int(x) for x in MENTION.findall(msg.text)) if i in catalog]
        if msg.role == "recommender":
            if questionnaire:
                answers = {i: dialogue.questions.get(str(i), {}).get("liked") for i in session.mentioned}
                session.liked = list(dict.fromkeys(read_liked + [i for i, v in answers.items() if v == 1]))
                session.disliked = list(dict.fromkeys(read_disliked + [i for i, v in answers.items() if v == 0]))
            for i in ids:
                if i not in session.mentioned:
                    q = dialogue.questions.get(str(i), {})
                    yield Case(dialogue.id, catalog.row(i), q.get("suggested") == 1 and q.get("liked") == 1), session
        else:
            session.liked, session.disliked = list(read_liked), list(read_disliked)
            agent.read(as_typed(msg.text, catalog), session)
            read_liked, read_disliked = list(session.liked), list(session.disliked)
        if msg.role == "recommender":
            session.transcript.append(("assistant", as_typed(msg.text, catalog)))
        session.mentioned += [i for i in ids if i not in session.mentioned]


def replay_all(
    agent: Agent, dialogues: Sequence[Dialogue], *, questionnaire: bool = True
) -> Iterator[tuple[Case, Session]]:
    for d in dialogues:
        yield from replay(agent, d, questionnaire=questionnaire)


def count_cases(dialogues: Sequence[Dialogue], catalog: Catalog) -> tuple[int, int]:
    """(mentions of movies not in the catalog, empty messages) over the dialogues, for the report."""
    unknown = empty = 0
    for d in dialogues:
        for msg in d.messages:
            if not msg.text.strip():
                empty += 1
            unknown += sum(1 for x in set(MENTION.findall(msg.text)) if int(x) not in catalog)
    return unknown, empty
