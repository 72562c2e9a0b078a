"""What the assistant says: a recommendation with its cards, an answer about a film, two films side by side,
the readings of a vague request, a greeting, a "why". Every fact in a reply comes from an item's record
(``dialogue.answers``), the ranking's signals (``recommender.explain``) or the person's own words."""

from __future__ import annotations

import re
import time

import numpy as np

from chat_rec.catalog import Interactions
from chat_rec.config import AgentConfig
from chat_rec.dialogue.acts import Act
from chat_rec.dialogue.answers import Answers
from chat_rec.people import fold as _fold
from chat_rec.recommender.explain import facts_for, short_title, template
from chat_rec.recommender.intent import Intent
from chat_rec.recommender.intent.lexicon import VAGUE_READINGS
from chat_rec.recommender.pipeline import Recommender, Scored, UserState, decade_label
from chat_rec.session import Recommendation, Reply, Session


class Replies:
    """Args:
    recommender: the ranking core (its catalog, texts and signals).
    interactions: ratings, for "is it good?".
    """

    def __init__(
        self, recommender: Recommender, interactions: Interactions | None = None, config: AgentConfig = AgentConfig()
    ):
        self.rec, self.catalog, self.config = recommender, recommender.catalog, config
        self.answers = Answers(recommender.catalog, interactions, recommender.texts)
        # where the catalog's films end: the newest year with a few films (a list's odd announced title of a later
        # year, "Wonder Woman 2 (2019)" in ReDial's, does not move it)
        years = recommender.catalog.years
        counts = np.bincount(years[years > 0]) if (years > 0).any() else np.zeros(1, dtype=np.int64)
        enough = np.flatnonzero(counts >= max(1, min(5, int(counts.sum() * 0.001))))
        self.newest = int(enough[-1]) if len(enough) and counts.sum() else 0

    def recommend(
        self, intent: Intent, session: Session, state: UserState, notices: list[str], timings: dict | None = None
    ) -> Reply:
        contradictory = sorted(set(intent.wanted_genres) & set(intent.unwanted_genres))
        ranking = self.rec.rank(intent, state, self.config.k)  # = self.rank(session), state already built
        for what in ranking.relaxed:
            notices.append(
                "too few films avoid everything you ruled out (gore, violence ...), so some picks may have it"
                if what == "content"
                else f"nothing left matched the {what} asked for, so I relaxed {'them' if what[-1] == 's' else 'it'}"
            )
        notices += ranking.notices
        start = time.perf_counter()
        items = [self.card(s, intent, state) for s in ranking.items]
        act = session.act
        if act is not None and (act.keep or act.keep_ids) and session.last_items:
            items = self._keep_the_rest(intent, session, state, items)
        if timings is not None:
            timings.update(ranking.timings, explain=(time.perf_counter() - start) * 1000)
        session.last_items = [r.item_id for r in items]
        session.shown += [i for i in session.last_items if i not in session.shown]
        if not items:
            text = (
                "Nothing in the catalog matches all of that. "
                "Could you loosen a constraint (genre, era, or a 'no ...')?"
            )
        elif intent.is_empty() and not state.history_rows and not session.liked:
            text = (
                "What are you in the mood for — a genre, an era, or a movie you liked? "
                "Meanwhile, here are a few popular picks:"
            )
        elif contradictory:
            text = (
                f"You asked both for and against {', '.join(contradictory)} — which one do you mean? For now, "
                "here are some picks:"
            )
        elif ranking.relaxed:
            text = "Here are the closest picks:"  # the notice says what was relaxed
        else:
            text = self.intro(intent, state, len(items))
        text = self._lead(act, intent, items, state) + text
        return Reply(text, items, notices, intent, intent.kind)

    def _keep_the_rest(self, intent: Intent, session: Session, state: UserState, fresh: list) -> list:
        """ "I didn't like the first one", "I've seen the third": the other films on screen stay, in their order,
        and new picks take the places of the ones ruled out."""
        gone = set(session.ruled_out) | set(session.disliked)
        act = session.act
        kept = [i for i in (act.keep_ids or session.last_items) if i not in gone and i in self.catalog]
        if not kept:
            return fresh
        again = intent.model_copy(update={"show_again": True})
        rows = [self.catalog.row(i) for i in kept]
        scored = {self.catalog.items[s.row].id: s for s in self.rec.rank(again, state, len(rows), restrict=rows).items}
        cards = [self.card(scored[i], again, state) for i in kept if i in scored]
        new = [c for c in fresh if c.item_id not in scored][: max(0, self.config.k - len(cards))]
        return cards + new

    def _lead(self, act: Act | None, intent: Intent, items: list, state: UserState) -> str:
        """What the reply says before the picks: about the film asked after ("have you seen X?"), the film
        it does not know, the people asked for, the films set aside."""
        if act is None:
            return ""
        lead = []
        if act.name == "seen" and act.items and act.items[0] in self.catalog:
            lead.append(self.answers.about(self.catalog.item(act.items[0])) + " If you liked it, try these.")
        if act.unknown:
            names = ", ".join(f"“{t}”" for t in act.unknown[:2])
            basis = act.basis or "the rest of your message"
            until = f" (its films end in {self.newest})" if self.newest else ""
            lead.append(f"I don't know {names}: it is not in this catalog{until}, so I went by {basis}.")
        if act.choice:
            lead.append(f"{act.choice[:1].upper()}{act.choice[1:]} it is.")
        if act.left_out:
            lead.append(
                "Noted — I'll leave out "
                + ", ".join(short_title(self.catalog.item(i)) for i in act.left_out[:3] if i in self.catalog)
                + (" …" if len(act.left_out) > 3 else "")
                + "."
            )
        if intent.people and items:
            for person in intent.people[:2]:
                rows = self.rec.people.of(person)
                role = "by" if "director" in self.rec.people.roles.get(_fold(person), ()) else "with"
                if 0 < len(rows) < len(items) + 1 and len(rows) < self.config.k:
                    lead.append(f"The catalog has only {len(rows)} film{'s' * (len(rows) != 1)} {role} {person}.")
        return " ".join(lead) + (" " if lead else "")

    # ------------------------------------------------------------------------------------ acts
    def answer(self, act: Act, session: Session, intent: Intent, notices: list[str]) -> Reply:
        """A question about a film, or two films side by side, answered from their records. The picks on
        screen stay (the reply has no new list)."""
        if act.name == "compare":
            films = [self.catalog.item(i) for i in act.items if i in self.catalog]
            text = self.answers.compare(films, act.aspect)
            session.focus = None
        elif act.ambiguous or not act.items:
            shown = [short_title(self.catalog.item(i)) for i in session.last_items[:5] if i in self.catalog]
            text = (
                "Which one do you mean — "
                + ", ".join(shown[:-1])
                + (" or " if len(shown) > 1 else "")
                + (shown[-1] if shown else "")
                + "? Say e.g. “the second one” or its title."
            )
        else:
            item = self.catalog.item(act.items[0])
            text = self.answers.answer(item, act.fact or "plot")
            if act.fact in ("cast", "director") and act.people:
                text = self.answers.has_person(item, act.people[0], act.fact) + " " + text
            session.focus = item.id
        cards = []
        return Reply(text, cards, notices, intent, "answer")

    def vague(self, intent: Intent, session: Session, state: UserState, notices: list[str]) -> Reply:
        """A request with nothing firm in it: two or three readings as short labelled groups, and one
        question that tells them apart; the person's answer picks one (``Tracker._choice``)."""
        readings = [dict(r) for r in VAGUE_READINGS if set(r["genres"]) <= set(self.catalog.genre_names)][:3]
        if not readings:
            return self.recommend(intent, session, state, notices)
        cards, groups = [], []
        for reading in readings:
            probe = intent.model_copy(
                update={
                    "wanted_genres": list(reading["genres"]),
                    "all_genres": reading.get("all", False),
                    "mood": reading.get("mood") or intent.mood,
                }
            )
            picked = self.rec.rank(probe, state, 2).items
            picked = [s for s in picked if self.catalog.items[s.row].id not in {c.item_id for c in cards}]
            new = [self.card(s, probe, state) for s in picked[:2]]
            cards += new
            reading["items"] = [c.item_id for c in new]
            groups.append(f"{reading['label']} ({', '.join(short_title(self.catalog.item(c.item_id)) for c in new)})")
        session.choices = [dict(r) for r in readings]
        session.last_items = [c.item_id for c in cards]
        session.shown += [i for i in session.last_items if i not in session.shown]
        labels = [r["label"] for r in readings]
        question = ", ".join(labels[:-1]) + " or " + labels[-1] if len(labels) > 1 else labels[0]
        text = f"Which sounds closer — {question}? Two of each: {'; '.join(groups)}."
        return Reply(text, cards, notices, intent, "recommend")

    def card(self, scored: Scored, intent: Intent, state: UserState) -> Recommendation:
        item = self.catalog.items[scored.row]
        facts = facts_for(self.rec, scored, intent, state)
        return Recommendation(
            item.id,
            item.title,
            item.year,
            list(item.genres),
            scored.score,
            template(item, facts),
            [f.text for f in facts],
            scored.parts,
        )

    def intro(self, intent: Intent, state: UserState, n: int) -> str:
        bits = []
        if intent.wanted_genres:
            bits.append(" / ".join(intent.wanted_genres))
        if intent.mood:
            bits.append(f"{intent.mood}-mood")
        what = " ".join(bits + ["picks" if n != 1 else "pick"])
        era = decade_label(intent.year_min, intent.year_max)
        tail = []
        if era:
            tail.append(f"from {era}")
        refs = [short_title(self.catalog.item(i)) for i in intent.reference_items[:2]]
        if refs:
            tail.append("like " + " and ".join(refs))
        if intent.unwanted_genres or intent.unwanted_keywords:
            avoid = intent.unwanted_genres + list(intent.unwanted_keywords[:1])
            tail.append("avoiding " + ", ".join(avoid))
        if intent.people:
            roles = [self.rec.people.roles.get(_fold(p), ()) for p in intent.people[:2]]
            by = "by" if all("director" in r and "cast" not in r for r in roles) else "with"
            tail.append(f"{by} " + " and ".join(intent.people[:2]))
        if intent.unwanted_people:
            tail.append("without " + " and ".join(intent.unwanted_people[:2]))
        if state.history_rows and not intent.wanted_genres and not refs:
            tail.append("based on what you rated")
        verb = "are" if n != 1 else "is"
        lead = f"Refined: here {verb}" if intent.kind == "refine" else f"Here {verb}"
        return f"{lead} {n} {what} {' '.join(tail)}".strip() + ":"

    def chat(self, text: str, intent: Intent, session: Session, notices: list[str]) -> Reply:
        if re.search(r"\b(thanks|thank you|thx|cheers)\b", text, re.I):
            reply = "You're welcome! Ask again any time you want more picks."
        elif re.search(r"\b(bye|goodbye)\b", text, re.I):
            reply = "Bye — enjoy the movie!"
        else:
            reply = (
                "Hi! Tell me what you'd like to watch: a genre, a mood, an era, or a movie you liked "
                "(for example: “something scary from the 80s, but not too gory”)."
            )
        return Reply(reply, [], notices, intent, "chat")

    def explain(self, intent: Intent, session: Session, state: UserState, notices: list[str]) -> Reply:
        target = intent.explain_item
        if target is None and intent.explain_rank is not None and session.last_items:
            rank = intent.explain_rank
            idx = len(session.last_items) - 1 if rank == -1 else rank - 1
            if 0 <= idx < len(session.last_items):
                target = session.last_items[idx]
        if target is None:
            return Reply(
                "Which one should I explain? Say e.g. “why the second one?” or name the movie.",
                [],
                notices,
                intent,
                "explain",
            )
        item = self.catalog.item(target)
        row = self.catalog.row(target)
        session.focus = target
        active = session.intent or Intent()
        facts = facts_for(self.rec, Scored(row, 0.0, {}), active, state)
        record = [
            f"{short_title(item)} is {'an' if (item.genres or ('x',))[0][0] in 'AEIOU' else 'a'} "
            f"{' / '.join(item.genres) or 'catalog'} title" + (f" from {item.year}" if item.year else "") + "."
        ]
        if item.description:
            record.append(item.description)
        if item.director:
            record.append("Directed by " + ", ".join(item.director[:2]) + ".")
        why = (
            ("I picked it because " + "; ".join(f.text for f in facts[:3]) + ".")
            if target in session.last_items and facts
            else ""
        )
        text = " ".join(record + ([why] if why else []))
        card = Recommendation(
            item.id, item.title, item.year, list(item.genres), 0.0, template(item, facts), [f.text for f in facts]
        )
        reply = Reply(text, [card], notices, intent, "explain")
        if facts and target in session.last_items:
            reply._rewrite = (item, facts)  # the language model may write this answer (``_stream_explanation``)
        return reply
