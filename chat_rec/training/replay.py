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
from chat_rec.catalog import Catalog, display_title
from chat_rec.datasets.dialogues import MENTION, Dialogue
from chat_rec.recommender.fusion import FusionModel
from chat_rec.recommender.intent.titles import TitleMatcher
from chat_rec.recommender.pipeline import Recommender
from chat_rec.recommender.side import dialogue_side
from chat_rec.recommender.signals import SideData
from chat_rec.session import Session


@dataclass
class Case:
    dialogue: str
    target: int  # catalog row of the movie the recommender mentions for the first time
    liked_target: bool  # the seeker said it was suggested and liked (ReDial questionnaire)


class Replayer:
    """Builds rules-only agents over one catalog whose dialogue statistics come from given dialogues."""

    def __init__(self, catalog: Catalog, index, vectors: np.ndarray, encoder, external: SideData | None = None):
        self.catalog, self.index, self.vectors, self.encoder, self.external = (
            catalog,
            index,
            vectors,
            encoder,
            external,
        )
        self.titles: TitleMatcher | None = None

    def agent(self, dialogues, fusion: FusionModel | None = None, reranker=None) -> Agent:
        side = dialogue_side(self.catalog, dialogues, self.external)
        rec = Recommender(
            self.catalog, self.index, self.vectors, self.encoder, side=side, fusion=fusion, reranker=reranker
        )
        if self.titles is None:
            self.titles = TitleMatcher(self.catalog, rec.popularity)
        return Agent(rec, None, None, titles=self.titles)


def as_typed(text: str, catalog: Catalog) -> str:
    """``@123`` -> the movie's title as a person would type it (``The Shining (1980)``)."""

    def title(m):
        mid = int(m.group(1))
        return display_title(catalog.item(mid).title) if mid in catalog else "a movie"

    return MENTION.sub(title, text)


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
