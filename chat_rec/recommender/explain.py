"""Explanations as data first (facts with their evidence), prose last (template, or an LLM rewrite that
must pass a grounding check: no title, person or year absent from the facts or the user's words)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from chat_rec.catalog import YEAR_AT_END, Item, display_title
from chat_rec.recommender.intent import MOOD_GENRES, Intent
from chat_rec.recommender.pipeline import Recommender, Scored, UserState, decade_label


@dataclass(frozen=True)
class Fact:
    """One reason, with what it rests on. ``kind``: genre | keyword | era | similar | cf | mood | popular."""

    kind: str
    text: str
    evidence: tuple = ()


def short_title(item: Item) -> str:
    """The title as a person reads it, with its year ("Zootopia (2016)", where the catalog's title lacks it;
    the record's year where the title's own disagrees: ReDial's "Armageddon (1997)" is the 1998 film)."""
    title = display_title(item.title)
    if not item.year:
        return title
    own = YEAR_AT_END.search(title)
    if own:
        return title if int(own.group(1)) == item.year else f"{title[: own.start()]} ({item.year})"
    return f"{title} ({item.year})" if str(item.year) not in title else title


def facts_for(rec: Recommender, scored: Scored, intent: Intent, state: UserState, max_facts: int = 4) -> list[Fact]:
    """Why ``scored`` was recommended, from the intent, the item's record, and the person's history."""
    item = rec.catalog.items[scored.row]
    facts: list[Fact] = []
    matched = [g for g in intent.wanted_genres if g in item.genres]
    if matched:
        said = _said(state.request, matched)
        asked = f", as you asked (“{said}”)" if said else ""
        facts.append(Fact("genre", f"it is {_article(matched[0])} {' / '.join(matched)} film{asked}", tuple(matched)))
    # asked for ("by Nolan") or named in passing ("I really like Will Ferrell")
    for names, mid, end in ((intent.people, "", ", as you asked"), (intent.liked_people, ", whom you mentioned,", "")):
        for person in names:
            role = "directed it" if person in item.director else ("is in it" if person in item.cast else "")
            if role:
                facts.append(Fact("person", f"{person}{mid} {role}{end}", (person,)))
    text = rec._lower_texts[scored.row]
    words = [kw for kw in intent.keywords if re.search(rf"\b{re.escape(kw)}", text)]
    if words:
        facts.append(
            Fact("keyword", "its description mentions " + ", ".join(f"“{w}”" for w in words[:3]), tuple(words[:3]))
        )
    if (intent.year_min or intent.year_max) and item.year:
        facts.append(
            Fact(
                "era",
                f"it is from {item.year} (you asked for {decade_label(intent.year_min, intent.year_max)})",
                (item.year,),
            )
        )
    refs = [rec.catalog.row(i) for i in intent.reference_items + intent.liked_items if i in rec.catalog]
    key = rec.catalog.film_key
    # never the item itself (a 👍'd card re-scored on screen is not "close to" itself), nor its twin
    liked = [r for r in dict.fromkeys(refs + list(state.liked_rows)) if key[r] != key[scored.row]]
    if liked:
        sims = rec.vectors[liked] @ rec.vectors[scored.row]
        best = int(np.argmax(sims))
        if sims[best] > 0.45:
            other = rec.catalog.items[liked[best]]
            # "mentioned" only when the person's own words name it; a pick they pointed at ("more like the
            # second one", "I loved that one") was picked out; one only 👍'd was liked
            said_liked = liked[best] in state.liked_rows or other.id in intent.liked_items
            if said_liked and _named(other.title, state.request):
                how = "which you said you liked"  # "I loved Chasing Amy": named, and liked in words
            elif liked[best] in refs or liked[best] in state.mentioned_rows:
                how = "which you mentioned" if _named(other.title, state.request) else "which you picked out"
            else:
                how = "which you liked"
            facts.append(
                Fact("similar", f"it is close to {short_title(other)}, {how}", (other.id, round(float(sims[best]), 3)))
            )
    if rec.cf is not None and rec.side.cf_col is None and (state.history_rows or liked):
        source = _cf_source(rec, scored.row, state, liked)
        if source is not None:
            other = rec.catalog.items[source]
            facts.append(Fact("cf", f"people who liked {short_title(other)} also liked it", (other.id,)))
    if intent.mood in MOOD_GENRES:
        fits = [g for g in MOOD_GENRES[intent.mood][0] if g in item.genres]
        if fits:
            facts.append(Fact("mood", f"its {fits[0]} side suits a {intent.mood} mood", (fits[0],)))
    if not facts:
        if item.genres and item.genres != ("unknown",):
            facts.append(
                Fact("genre", f"it is {_article(item.genres[0])} {' / '.join(item.genres[:3])} film", item.genres[:3])
            )
        if rec.popularity[scored.row] > rec.popular_cut:
            facts.append(Fact("popular", "it is among the most watched titles in the catalog", ()))
    return facts[:max_facts]


def _cf_source(rec: Recommender, row: int, state: UserState, liked: list[int]) -> int | None:
    """The history item that contributes most to the EASE score of ``row`` (x_j · B[j, row])."""
    rows = list(state.history_rows) + liked
    weights = list(np.asarray(state.history_ratings, dtype=np.float32) / 5.0) + [1.0] * len(liked)
    if not rows:
        return None
    contrib = np.asarray(weights) * rec.cf.pair(rows, row)
    best = int(np.argmax(contrib))
    return rows[best] if contrib[best] > 0 else None


def _said(request: str, genres: list[str]) -> str:
    """The person's own word for one of ``genres`` ("scary" for Horror), the longest one they used."""
    from chat_rec.recommender.intent.lexicon import GENRE_WORDS

    low = request.lower()
    words = [
        w
        for w, gs in GENRE_WORDS.items()
        if set(gs) & set(genres)
        and any(not _negated(low[: m.start()]) for m in re.finditer(rf"(?<![\w-]){re.escape(w)}(?![\w-])", low))
    ]
    return max(words, key=len) if words else ""


def _negated(before: str) -> bool:
    """Whether a word is negated: a negation cue among the last six words of its clause ("but no superheroes",
    "not in the mood for anything scary"), the clause starting after punctuation, "but" or "and"."""
    from chat_rec.recommender.intent.lexicon import NEGATION_CUES

    clause = re.split(r"[,.;!?]|\bbut\b|\band\b", before)[-1]
    tail = " " + " ".join(re.findall(r"[\w']+", clause)[-6:]) + " "
    return any(f" {cue.strip()} " in tail for cue in NEGATION_CUES)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def template(item: Item, facts: list[Fact]) -> str:
    """Prose from facts only, e.g. "Alien (1979): it is a Horror film; it is from 1979, within the 1970s."""
    if not facts:
        return f"{short_title(item)}: a pick from the catalog."
    reasons = "; ".join(f.text for f in facts[:3])
    return f"{short_title(item)}: {reasons}."


# -------------------------------------------------------------------------------------- grounding

_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+(?:\s+(?:[A-Z][a-z]+|of|the|and))*)")


def grounded(
    sentence_text: str, allowed_text: str, titles=None, own_title: str = "", own_id=None, own_year=None
) -> tuple[bool, str]:
    """Check a generated explanation: at most two sentences; every year, capitalised name and catalog
    title it contains must appear in ``allowed_text`` (the facts, the item's record, the user's words); the
    item's own title (``own_id``), however written ("The Nightmare on Elm Street"), is allowed. With ``own_year``,
    a year other than the item's own may stand only in a title's brackets ("like Alien (1979)"): a year in the
    facts is not the item's ("it was released in 1979" about a 1980 film is refused).

    Returns (ok, reason).
    """
    text = sentence_text.strip()
    if not text:
        return False, "empty"
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    if len(sentences) > 2:
        return False, "more than two sentences"
    allowed = allowed_text.lower()
    own_words = set(re.findall(r"\w+", own_title.lower()))
    for year in _YEAR.findall(text):
        if year not in allowed:
            return False, f"year {year} is not in the facts"
        if own_year is not None and year != str(own_year) and not re.search(rf"\(\s*{year}\s*\)", text):
            return False, f"year {year} is not the item's own"
    for sentence in sentences:
        for m in _NAME.finditer(sentence.strip()):
            name = m.group(1)
            if m.start() == 0 or len(name) < 3:
                continue
            if name.lower() not in allowed and not set(name.lower().split()) <= own_words:
                return False, f"name {name!r} is not in the facts"
    if titles is not None:
        for mention in titles.find(text):
            if (
                mention.item_id is not None
                and (own_id is None or mention.item_id != own_id)
                and mention.surface.lower() not in allowed
                and mention.surface.lower() not in own_title.lower()
            ):
                return False, f"title {mention.surface!r} is not in the facts"
    return True, "ok"


def word_influence(rec: Recommender, message: str, row: int, max_words: int = 12) -> list[tuple[str, float]]:
    """How much each word of the request moves this item's semantic score (occlusion: the score of the
    full request minus the score without the word). Positive = the word speaks for the item."""
    words = list(dict.fromkeys(w for w in re.findall(r"[\w'-]+", message) if len(w) > 2))[:max_words]
    if not words:
        return []
    texts = [message] + [re.sub(rf"(?<![\w'-]){re.escape(w)}(?![\w'-])", " ", message) for w in words]
    vectors = rec.encoder.encode(texts)
    scores = vectors @ rec.vectors[row]
    return [(w, round(float(scores[0] - scores[i + 1]), 4)) for i, w in enumerate(words)]


def _named(title: str, words: str) -> bool:
    """Whether the person's words name the title (its key words, as the title matcher reads them)."""
    import difflib

    from chat_rec.recommender.intent.titles import normalise_title

    key = normalise_title(title)
    tokens = re.sub(r"[^\w\s']", " ", words.lower()).split()
    n = len(key.split())
    if not key or not tokens:
        return False
    return any(
        difflib.SequenceMatcher(None, key, " ".join(tokens[i : i + n])).ratio() >= 0.8  # typos kept
        for i in range(max(1, len(tokens) - n + 1))
    )
