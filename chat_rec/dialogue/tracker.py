"""The dialogue state: what a turn's words change in the conversation. The rules' reading of the message
(merged with the language model's when it answers), the act it performs (``dialogue.acts``), the people it
names, the films it rules out, and the request it adds to or replaces (refinements accumulate; "no X" stays).
``Agent.read`` calls ``Tracker.understand`` once per message."""

from __future__ import annotations

import re

from chat_rec.catalog import Catalog
from chat_rec.config import AgentConfig
from chat_rec.dialogue.acts import FILLER, REQUESTY, Act, is_vague, outside_titles, read_act, vague_words
from chat_rec.people import People
from chat_rec.recommender.explain import short_title
from chat_rec.recommender.intent import (
    ANSWER_NO,
    ANSWER_YES,
    MOOD_GENRES,
    Intent,
    RuleParser,
    merge_intents,
    merge_soft,
)
from chat_rec.recommender.intent.titles import TitleMatcher
from chat_rec.session import Session

#: how many years "something older" / "more recent" moves the era by (a window, not everything before)
ERA_STEP = 20


#: before a name, words that ask for that person's films: "by Hitchcock", "starring", "more Tom Hanks"
_ASK_BEFORE = re.compile(
    r"(?:\b(?:by|starring|stars|featuring|feat\.?|directed by|director|more|anything|something|any|other|another|"
    r"some|all)|^|[.!?;:]|\bor|\band|\babout)\s*$",
    re.I,
)
#: "with Tom Hanks" asks for his films after these words ("a movie with", "something with", "with" first); after
#: "that", "the one", "seen it" it is about a film already named ("isn't that with Tom Hanks?")
_WITH_HEADS = re.compile(
    r"(?:^|[.!?;:,]|\b(?:a|an|any|some|more|other|another|good|great|new|funny|scary|\w+ies|\w+ers|something|"
    r"anything|stuff|else|especially|preferably|ideally|maybe|perhaps|like|want|need|recommend|suggest|watch|see|"
    r"(?<!that )(?<!the )(?<!this )(?:movies?|films?|flicks?|ones?|comed(?:y|ies)|dramas?|thrillers?)))\s*with\s+$",
    re.I,
)
#: after a name, words that ask for their films: "a George Clooney movie", "Tarantino films", "Spielberg's work"
_ASK_AFTER = re.compile(
    r"^(?:'s|’s|s|'|’)?\s+(?:\w+\s+)?(?:movies?|films?|flicks?|comed(?:y|ies)|dramas?|thrillers?|work|stuff|ones)\b",
    re.I,
)


#: words before a name that turn that person down ("I don't like Adam Sandler", "not a fan of", "can't stand")
_TURNED_DOWN = re.compile(
    r"\b(?:not?|never|don'?t|doesn'?t|didn'?t|can'?t|cannot|won'?t|hate[sd]?|dislike[sd]?|stand|except|but not|"
    r"tired of|sick of|enough)\b",
    re.I,
)


def asks_for(text: str, start: int, end: int) -> bool:
    """Whether the person named at ``text[start:end]`` is asked for (their films only) rather than named in passing:
    a cue before it ("by", "starring", "a movie with", "more"), a kind of film after it ("a George Clooney movie"),
    or a message that is little more than the name ("Tom Hanks?", "what about Nolan")."""
    before, after = text[:start], text[end:]
    if _ASK_AFTER.match(after) or _WITH_HEADS.search(before):
        return True
    if _ASK_BEFORE.search(before) and len(re.findall(r"[^\W\d_]+", after)) <= 1:
        return True  # "Tom Hanks please", "what about Nolan", "Tom Hanks?"
    return bool(re.search(r"\b(?:by|starring|featuring|directed by|more|anything|something)\s*$", before, re.I))


class Tracker:
    """Reads each message into the session: its intent, its act, and the accumulated request."""

    def __init__(self, catalog: Catalog, titles: TitleMatcher, people: People, config: AgentConfig = AgentConfig()):
        self.catalog, self.titles, self.people, self.config = catalog, titles, people, config
        self.parser = RuleParser(catalog, titles)

    def understand(
        self, text: str, session: Session, notices: list[str], llm_intent: Intent | None, readings: dict
    ) -> Intent:
        focus = (
            session.focus
            if session.focus is not None
            else (session.last_items[0] if len(session.last_items) == 1 else None)
        )
        rules = self.parser.parse(text, last_shown=session.last_items, focus=focus)
        self.answer_yes_no(text, session, rules)
        mentions = self.titles.find(text)
        act = read_act(text, mentions, last_items=session.last_items, focus=focus, mentioned=session.mentioned)
        named = {m.item_id for m in mentions}
        if (
            act.name == "question"
            and rules.wanted_genres
            and set(act.items) & set(rules.reference_items) & named
            and REQUESTY.search(text.lower())
        ):
            act = Act(unknown=act.unknown, ruled_out=act.ruled_out)  # "something scary like Alien??": a request
        found = self._people(text, mentions, act, rules)
        act.people = list(dict.fromkeys(p.name for p in found))
        if (
            found
            and act.name == "request"
            and focus is not None
            and re.fullmatch(
                r"\W*(?:(?:with|and|starring|is it|was it)\s+)?" + re.escape(found[0].surface) + r"\W*\?\W*",
                text,
                re.I,
            )
        ):
            # "Bruce Willis?" right after a film was named: is he in it
            act.name, act.items, act.fact = "question", [focus], "cast"
            rules.people = []
        spans = [(p.start, p.end) for p in found]

        # "Mel Brooks" is a person, not an unknown title; "Bad Santa (2003)", "the movie Ad Astra" are films
        def a_person(t: str) -> bool:
            return any(t.lower() in p.surface.lower() or p.surface.lower() in t.lower() for p in found)

        rules.unknown_titles = [t for t in rules.unknown_titles if not a_person(t)]
        act.unknown = [t for t in act.unknown if not a_person(t)]
        if act.name in ("request", "seen"):
            for title in outside_titles(text, mentions, spans):
                if title.lower() not in (t.lower() for t in rules.unknown_titles):
                    rules.unknown_titles.append(title)
        self._choice(text, session, act, rules)
        vague = vague_words(text)
        firm = bool(
            rules.wanted_genres
            or rules.unwanted_genres
            or rules.reference_items
            or rules.liked_items
            or rules.disliked_items
            or rules.year_min
            or rules.year_max
            or rules.people
            or rules.unknown_titles
            or any(len(k) >= 4 and k not in FILLER and k not in vague for k in rules.keywords)
        )
        if (
            act.name == "request"
            and not act.ruled_out
            and rules.kind in ("recommend", "chat", "refine")
            and is_vague(text, firm)
        ):
            act.name = "vague"
        session.act = act
        if re.search(r"\b(series|franchise|sequels?|all of them|any of them|all in that|the ones)\b", text, re.I):
            # "No Die Hard or any in the series", "seen all in that franchise": every film of the series
            for item in list(act.ruled_out):
                act.ruled_out += [i for i in self.series(item) if i not in act.ruled_out]
            for item in list(rules.disliked_items):
                rules.disliked_items += [i for i in self.series(item) if i not in rules.disliked_items]
            rules.reference_items = [i for i in rules.reference_items if i not in act.ruled_out]
        act.left_out = list(dict.fromkeys(act.ruled_out + rules.disliked_items))
        act.keep = bool(
            set(act.left_out) & set(session.last_items)
            and not (
                rules.wanted_genres
                or rules.unwanted_genres
                or rules.keywords
                or rules.unwanted_keywords
                or rules.year_min
                or rules.year_max
                or rules.mood
                or rules.people
                or rules.reference_items
                or rules.liked_items
                or rules.era_shift
                or rules.unknown_titles
            )
        )
        for item in act.ruled_out:
            if item not in session.ruled_out:
                session.ruled_out.append(item)
        if act.name in ("question", "compare"):
            rules.kind = "answer"
        elif act.name == "seen" and act.items:
            rules.reference_items = [i for i in rules.reference_items if i != act.items[0]] + [act.items[0]]
            rules.explain_item, rules.kind = None, "more_like"
        readings["rules"] = rules.model_copy(deep=True)
        if rules.kind == "answer":
            return rules
        if self.config.reader == "llm" and llm_intent is not None:
            intent = llm_intent
            if rules.kind == "chat":
                intent.kind = "chat"
        elif self.config.reader == "refine":
            intent = merge_soft(rules, llm_intent)
        else:
            intent = merge_intents(rules, llm_intent, text)
        intent.context = dict(session.context)
        # "something like it / that": the item we were just talking about
        if (
            re.search(
                r"(?<!not )(?<!n't )\b(like|similar to|more like)\s+(it|that|this|that one|this one)\b", text, re.I
            )
            and session.focus is not None
            and session.focus not in intent.reference_items
            and session.focus not in intent.disliked_items
        ):
            intent.reference_items.append(session.focus)
            if intent.kind in ("recommend", "chat"):
                intent.kind = "more_like"
        # the turn's own verdicts on films are the session's, whatever the request becomes
        for item_id in intent.liked_items:
            if item_id not in session.liked:
                session.liked.append(item_id)
        for item_id in intent.disliked_items:
            if item_id not in session.disliked:
                session.disliked.append(item_id)
        if intent.unknown_titles:
            act.unknown = list(intent.unknown_titles)
            own = readings["rules"].model_copy(update={"unknown_titles": []})
            if not intent.is_empty() and own.is_empty() and llm_intent is not None:
                act.basis = "what the language model knows of it (" + describe_reading(intent) + ")"
            elif not intent.is_empty():
                act.basis = "the rest of your message"
            elif session.intent is not None and not session.intent.is_empty():
                act.basis = "what you asked for before"
            elif intent.kind != "chat":
                words = [w.lower() for t in intent.unknown_titles for w in re.findall(r"\w{3,}", t)]
                intent.keywords = [w for w in words if w not in ("the", "and")][:5]
                act.basis = "the words of its title only"
        if intent.kind in ("chat", "explain"):
            return intent
        return self.accumulate(intent, session, notices)

    def series(self, item_id) -> list:
        """The catalog's films of the same series as ``item_id`` ("Die Hard" -> Die Hard 2, Die Hard: With a
        Vengeance; "Alien" -> Aliens, Alien 3), by the start of their titles."""
        if item_id not in self.catalog:
            return []
        base = _series_key(self.catalog.item(item_id).title)
        if len(base) < 4:
            return []
        return [it.id for it in self.catalog.items if it.id != item_id and _series_key(it.title).startswith(base)]

    def _people(self, text: str, mentions, act: Act, intent: Intent) -> list:
        """ "by Hitchcock", "with Tom Hanks": the people named become a constraint of a request."""
        if not self.people:
            return []
        found = self.people.find(text, skip=[(m.start, m.end) for m in mentions if m.item_id is not None])
        if not found or act.name not in ("request", "vague"):
            return found
        asked = [p for p in found if asks_for(text, p.start, p.end)]
        # named in passing ("I really like Will Ferrell", "Tom Hanks killed that role"): their films are favoured,
        # not a wall around them; never someone the person turns down ("not a fan of Adam Sandler")
        down = [p for p in found if _TURNED_DOWN.search(re.split(r"[.!?;]", text[: p.start])[-1])]
        intent.unwanted_people = list(dict.fromkeys(p.name for p in down))
        intent.liked_people = [p.name for p in found if p not in asked and p not in down]
        asked = [p for p in asked if p not in down]
        if not asked:
            return found
        intent.people = list(dict.fromkeys(p.name for p in asked))
        words = {w.lower() for p in asked for w in re.findall(r"[\w']+", p.surface)}
        words |= {w.lower() + "s" for w in words}
        intent.keywords = [
            k for k in intent.keywords if k.lower() not in words and k.lower().rstrip("'s") not in words
        ]
        if intent.kind == "chat":
            intent.kind = "recommend"
        return found

    def _choice(self, text: str, session: Session, act: Act, intent: Intent) -> None:
        """The answer to a vague request's question: "the first", "comedy", "something light" picks one of
        the readings offered (``session.choices``), which becomes the request."""
        if not session.choices or act.name != "request":
            return
        choices, session.choices = session.choices, []
        low = text.lower()
        pick, counted = None, False
        for word, rank in (
            ("first", 0),
            ("second", 1),
            ("third", 2),
            ("last", len(choices) - 1),
            ("1", 0),
            ("2", 1),
            ("3", 2),
        ):
            if re.search(rf"\b{word}\b", low) and rank < len(choices):
                pick, counted = choices[rank], True
                break
        if pick is None:
            for choice in choices:
                words = [w for w in re.findall(r"[a-z']+", choice["label"].lower()) if len(w) > 3]
                if any(w in low or w.rstrip("y") in low for w in words) or set(choice["genres"]) & set(
                    intent.wanted_genres
                ):
                    pick = choice
                    break
        if pick is None:
            return
        act.choice = pick["label"]
        act.keep_ids = list(pick.get("items") or [])  # the two offered for it stay first
        if counted:  # "the first one" named a reading, not a card on screen
            shown = set(session.last_items)
            intent.reference_items = [i for i in intent.reference_items if i not in shown]
            intent.liked_items = [i for i in intent.liked_items if i not in shown]
        for g in pick["genres"]:
            if g not in intent.wanted_genres:
                intent.wanted_genres.append(g)
        intent.all_genres = intent.all_genres or pick.get("all", False)
        intent.mood = intent.mood or pick.get("mood")
        if intent.kind == "chat":
            intent.kind = "recommend"

    def answer_yes_no(self, text: str, session: Session, intent: Intent) -> None:
        """A reply to the other side's yes/no question about genres ("Do you like horror movies?" - "not
        really", "No, I like romantic comedies", "I do"): the genres asked about become unwanted / wanted."""
        if not session.transcript or session.transcript[-1][0] != "assistant":
            return
        question = session.transcript[-1][1]
        if "?" not in question:
            return
        asked = re.split(r"[.!?]\s", question[: question.rindex("?")])[-1]
        genres = self.parser.parse(asked).wanted_genres
        if not genres:
            return
        if ANSWER_NO.match(text):
            for g in genres:
                if g not in intent.wanted_genres and g not in intent.unwanted_genres:
                    intent.unwanted_genres.append(g)
        elif ANSWER_YES.match(text) and not intent.wanted_genres and not intent.unwanted_genres:
            intent.wanted_genres = list(genres)

    def accumulate(self, new: Intent, session: Session, notices: list[str] | None = None) -> Intent:
        """Later turns refine earlier ones: a refinement adds to the session intent, a new request
        replaces the soft aspects but keeps the hard 'no X' constraints."""
        old = session.intent
        if new.era_shift and session.last_items:
            new = new.model_copy(update=self.shifted_era(new.era_shift, session.last_items, old))
        if old is None:
            session.intent = new
            return new
        refine = new.kind == "refine" or (
            not new.wanted_genres and not new.reference_items and not new.keywords and not new.liked_items
        )
        merged = old.model_copy(deep=True) if refine else new.model_copy(deep=True)
        if new.adds_genres and not new.all_genres and not old.all_genres:
            # "I'm into comedies" ... "or horror": either genre, not horror instead
            merged.wanted_genres = list(dict.fromkeys(old.wanted_genres + new.wanted_genres))
            new = new.model_copy(update={"wanted_genres": merged.wanted_genres})
        if refine:
            merged.kind = "refine"
            if new.wanted_genres:  # "something funny" after "something scary": comedy instead, not both
                merged.wanted_genres, merged.all_genres = list(new.wanted_genres), new.all_genres
            merged.keywords = list(dict.fromkeys(merged.keywords + new.keywords))[:12]
            merged.reference_items = list(dict.fromkeys(merged.reference_items + new.reference_items))
            if new.year_min is not None or new.year_max is not None:
                merged.year_min, merged.year_max = new.year_min, new.year_max
            merged.mood = new.mood or merged.mood
            toward, away = MOOD_GENRES.get(new.mood or "", ([], []))
            dark = [g for g in merged.wanted_genres if g in away]
            lift = next((g for g in toward if g in self.catalog.genre_names), None)
            if dark and lift and not new.wanted_genres:
                # "something lighter" after horror: comedies now, not the horror of before
                merged.wanted_genres, merged.all_genres = [lift], False
            elif new.mood and not merged.wanted_genres and merged.people:
                # "something lighter" after "movies with Tom Hanks": his comedies, not his dramas
                kind = next((g for g in toward if g in self.catalog.genre_names), None)
                merged.wanted_genres, merged.all_genres = ([kind] if kind else []), False
            merged.show_again = new.show_again
        if new.people:  # "with Tom Hanks" after "something funny": his comedies; a new name replaces the old
            merged.people = list(new.people)
        merged.unwanted_people = list(dict.fromkeys(old.unwanted_people + new.unwanted_people))
        merged.people = [p for p in merged.people if p not in merged.unwanted_people]
        if refine and new.liked_people:  # "I really like Will Ferrell" after "a comedy": his films come first
            merged.liked_people = list(dict.fromkeys(old.liked_people + new.liked_people))[-3:]
        for g in old.unwanted_genres + new.unwanted_genres:
            if g not in merged.unwanted_genres and g not in new.wanted_genres:
                merged.unwanted_genres.append(g)
        merged.wanted_genres = [g for g in merged.wanted_genres if g not in merged.unwanted_genres]
        merged.reference_items = [
            i
            for i in merged.reference_items
            if i in self.catalog and not set(self.catalog.item(i).genres) & set(merged.unwanted_genres)
        ]
        # Unwanted words are scoped to the topic: a new request for other genres drops the ones the person
        # did not repeat ("not too gory" for horror says nothing about the comedy asked for next).
        topic_changed = (
            not refine
            and not new.adds_genres
            and new.wanted_genres
            and set(new.wanted_genres) != set(old.wanted_genres)
        )
        kept_old = [] if topic_changed else old.unwanted_keywords
        dropped = [k for k in old.unwanted_keywords if k not in kept_old and k not in new.unwanted_keywords]
        if dropped and notices is not None:
            notices.append(
                "new topic, so I dropped what you ruled out before: "
                + ", ".join(dropped[:2])
                + (" …" if len(dropped) > 2 else "")
            )
        merged.unwanted_keywords = list(dict.fromkeys(kept_old + new.unwanted_keywords))
        merged.keywords = [k for k in merged.keywords if k not in merged.unwanted_keywords]
        merged.context = new.context
        session.intent = merged
        return merged

    def shifted_era(self, direction: str, shown: list, old: Intent | None) -> dict:
        """ "something older" / "more recent": an era moved from the films on screen (their median year by
        five years, past the oldest / newest of them) and ``ERA_STEP`` years wide, a step rather than a leap to
        the catalog's far end ("further back" steps again); an earlier bound that still leaves a decade is kept.
        """
        years = sorted(self.catalog.item(i).year for i in shown if i in self.catalog and self.catalog.item(i).year)
        if not years:
            return {}
        median, newest = years[len(years) // 2], self.parser.newest
        if direction == "older":
            hi = min(median - 5, years[0] - 1)
            lo = old.year_min if old is not None and old.year_min is not None and old.year_min <= hi - 9 else None
            return {"year_min": max(lo or 0, hi - ERA_STEP + 1), "year_max": hi}
        lo = min(max(median + 5, years[-1] + 1), newest - 2)
        hi = old.year_max if old is not None and old.year_max is not None and old.year_max >= lo + 9 else None
        return {"year_min": lo, "year_max": min(hi or 10**4, lo + ERA_STEP - 1)}


def _series_key(title: str) -> str:
    """A title's series stem: display form, no year or parenthesis, no part number or subtitle ("Die Hard 2" ->
    "die hard", "Alien: Resurrection" -> "alien")."""
    from chat_rec.catalog import display_title

    t = re.sub(r"\s*\(.*$", "", display_title(title)).lower()
    t = re.split(r"[:]", t)[0]
    t = re.sub(r"\s+(?:\d+|ii|iii|iv|v|vi|part .*)$", "", t).strip()
    return re.sub(r"^(the|a|an) ", "", t)


def describe_reading(intent: Intent) -> str:
    """A reading in a few words ("Sci-Fi / Action; virtual reality")."""
    bits = [" / ".join(intent.wanted_genres)] if intent.wanted_genres else []
    bits += [", ".join(intent.keywords[:3])] if intent.keywords else []
    return "; ".join(bits) or "its kind"


def describe_change(rules: Intent, refined: Intent, catalog) -> str:
    """What the language model's reading added to the rules' (e.g. "mood = light; topic: heist"), for the
    notice shown when the picks change."""
    bits = []
    if refined.mood and refined.mood != rules.mood:
        bits.append(f"mood = {refined.mood}")
    added = [k for k in refined.keywords if k not in rules.keywords]
    if added:
        bits.append("topic: " + ", ".join(added[:3]))
    avoid = [k for k in refined.unwanted_keywords if k not in rules.unwanted_keywords]
    if avoid:
        bits.append("avoiding: " + ", ".join(avoid[:3]))
    genres = [g for g in refined.wanted_genres if g not in rules.wanted_genres]
    if genres:
        bits.append("genres: " + ", ".join(genres))
    refs = [
        i for i in refined.reference_items + refined.liked_items if i not in rules.reference_items + rules.liked_items
    ]
    if refs:
        bits.append("like " + ", ".join(short_title(catalog.item(i)) for i in refs[:2] if i in catalog))
    if (refined.year_min, refined.year_max) != (rules.year_min, rules.year_max):
        bits.append(f"years {refined.year_min or '…'}–{refined.year_max or '…'}")
    return "; ".join(bits)
