"""The rule reader: an ``Intent`` from one message, for any catalog, with no LLM.

Its word lists are data (``lexicon.yaml``); the patterns here are how the words combine (negation scopes,
references to the picks on screen, critiques, eras).
"""

from __future__ import annotations

import difflib
import re

from chat_rec.catalog import Catalog, ItemId
from chat_rec.recommender.intent.lexicon import (
    ERA_WORDS,
    GENRE_WORDS,
    KEYWORD_EXPANSIONS,
    META_WORDS,
    MOOD_AVOID_GENRES,
    MOOD_OPPOSITES,
    MOODS,
    NEGATION_CUES,
    ORDINALS,
    QUALIFIER_STOP,
    SCOPE_END,
    STOPWORDS,
    SUBGENRE_WORDS,
)
from chat_rec.recommender.intent.model import Intent
from chat_rec.recommender.intent.titles import TitleMatcher

# ----------------------------------------------------------------------------------------- patterns

#: "recent" = the catalog's newest RECENT_YEARS years; "older" = OLD_YEARS or more before its newest year.
RECENT_YEARS, OLD_YEARS = 5, 25
#: a negated verb of taste with an adverb between ("I don't really like", "I don't normally watch")
NEG_VERB = re.compile(
    r"\b(?:don't|dont|do not|doesn't|doesnt|does not|didn't|didnt|did not|won't|wont|can't|cant|"
    r"cannot|not|never)\s+(?:\w+ly\s+|really\s+|even\s+|much\s+|usually\s+)*(?:like|likes|watch|enjoy|"
    r"care for|care much for|love|dig|want|stand|handle|do|go for|get into|into|a fan of|a big fan of|"
    r"a huge fan of)\b"
)
#: negations that tell what the person has or has not done or known, not what they want: no scope
EXPERIENCE = re.compile(
    r"\s+(?:\w+\s+){0,2}?(?:heard|seen|saw|watched|understand|understood|know|knew|sure|remember|"
    r"picky|mind|tried|been|gotten|got|had a chance|aware|familiar)\b"
)
#: "Period movies are not my thing", "horror isn't for me": the negated subject comes first
NOT_MY_THING = re.compile(
    r"(?:\b(?:is|are|was|were|'s|'re)\s+(?:not|n't)|\b(?:isn't|aren't|isnt|arent))\s+"
    r"(?:really\s+|quite\s+|exactly\s+|usually\s+)?(?:my\s+(?:thing|cup of tea|genre|style|type|jam|favou?rite)|for "
    r"me)\b"
)
#: a genre adjective that describes a film already talked about ("that was hilarious", "it's really funny",
#: "I find them funny"), not a request
DESCRIPTIVE = re.compile(
    r"(?:\b(?:it|that|this|they|those|he|she)(?:\s+(?:one|movie|film))?\s*(?:'s|s|is|was|are|were|'re)|"
    r"\b(?:its|thats|it's|that's)|\b(?:is|was)\s+(?:it|that|this)|"
    r"\b(?:find|found|thought)\s+(?:it|them|that)|\b(?:it|that|this|they|those)\s+(?:sounds?|looks?|seems?))\s+"
    r"(?:(?:so|very|pretty|really|super|quite|more|kind of|kinda|a bit|actually|also|too)\s+)*$"
)
#: "too scary", "overly romantic": too much of something, an unwanted word rather than a genre
DEGREE = re.compile(r"\b(?:too|overly|way too)\s+(?:much\s+)?$")
#: a verdict on the item in focus ("I loved that one", "sounds good", "not a fan of it")
REACTION_POINTER = re.compile(
    r"\b(it|that|this|(?:the|that|this) (?:new |old |original |first |last )?one|that movie|this movie|the "
    r"movie|that film|"
    r"(?:the|your|that) (?:recommendation|suggestion))\b"
)
REACTION_NEG = re.compile(
    r"\b(?:(?:not|n't|never|didnt|didn't|dont|don't|wasn't|wasnt)\s+(?:\w+\s+){0,2}?(?:like|fan|"
    r"enjoy|good|great|care|into|my thing|for me|a fan)|hated?|boring|awful|terrible|bad|worst|meh|"
    r"overrated|no thanks|disappointing|disappointed)\b"
)
REACTION_POS = re.compile(
    r"\b(?:love[ds]?|liked?|enjoy(?:ed)?|great|good|amazing|awesome|fantastic|funny|hilarious|epic|"
    r"classic|favou?rite|best|accept|interesting|perfect|nice|cool|excellent|brilliant|wonderful|fun|"
    r"check (?:it|that|this) out|(?:watch|see|try) (?:it|that|this)|sounds like|will do)\b"
)
REACTION_MORE = re.compile(r"\b(?:anything|something|more|others?) (?:similar|like (?:it|that|this))\b")
QUESTION_START = re.compile(
    r"^\s*(?:is|are|was|does|do|did|what|who|how|when|where|why|can|could|would|will|has|have)\b"
    r"(?!\s+(?:not|n't))",
    re.I,
)
#: an answer to the assistant's yes/no question about genres ("Do you like horror?" - "not really")
ANSWER_NO = re.compile(
    r"^\W*(?:no|nope|nah|not really|not much|not so much|not at all|not a fan|actually no|"
    r"i do not|i don't|i dont|not for me)\b",
    re.I,
)
ANSWER_YES = re.compile(
    r"^\W*(?:yes|yeah|yep|yup|sure|i do|of course|definitely|absolutely|i love (?:them|it|those))\b", re.I
)
#: a genre put forward, then turned down in the same message ("Romcom? Oooh don't know about that!", "horror? nah")
REJECT_AFTER = re.compile(
    r"\W*(?:\w+\W+){0,2}?(?:(?:i\s+)?(?:don't|dont|do not) know about (?:that|those|it|them)|"
    r"not sure about (?:that|those|it|them)|nah\b|no thanks|not (?:really|so much)\b)"
)
#: "a little vulgar for my taste": the word is unwanted
FOR_MY_TASTE = re.compile(
    r"\b(?:a little|a bit|kind of|kinda|too|way too|bit|little|rather|somewhat)\s+([a-z]{3,})\s+"
    r"for my (?:taste|tastes|liking)\b"
)
CUE_TOKENS = {t for c in NEGATION_CUES for t in c.split()}
LIKE_CUES = (
    r"(?:i\s+)?(?:really\s+|absolutely\s+|just\s+)?(?:loved|love|liked|enjoyed|adored|adore|am a fan of|was "
    r"a fan of|big fan of|fan of|my favou?rite (?:movie |film )?(?:is|was))"
)
DISLIKE_CUES = (
    r"(?:i\s+)?(?:really\s+)?(?:hated|hate|disliked|dislike|didn't like|did not like|couldn't stand|can't "
    r"stand|was bored by)"
)
REFERENCE_CUES = (
    r"(?:something\s+)?(?:more\s+)?(?:like|lik|liek|similar to|such as|in the style of|along the lines "
    r"of|the vibe of|reminds me of|same as)"
)
POSITIVE_AFTER = (
    r"(?:was|is|were)\s+(?:so\s+|really\s+|very\s+|pretty\s+)?"
    r"(?:great|amazing|awesome|good|fantastic|brilliant|excellent|wonderful|fun|perfect|a masterpiece)"
)
NEGATIVE_AFTER = (
    r"(?:was|is|were)\s+(?:so\s+|really\s+|very\s+|pretty\s+|kind "
    r"of\s+|too\s+)?(?:boring|bad|awful|terrible|dull|meh|overrated|slow|stupid|a waste|the worst)"
)
GREETING = re.compile(
    r"^\s*(hi|hello|hey|hiya|yo|good (morning|evening|afternoon)|thanks|thank you|thx|cheers|bye|"
    r"goodbye|ok|okay|cool|great|nice|awesome)\b[\s!.,]*(there|you|so much|a lot)?[\s!.,]*$",
    re.I,
)
EXPLAIN = re.compile(
    r"\b(why|how come|what makes|tell me (more )?about|what is .* about|what's .* about|explain)\b", re.I
)
#: "the second one", "the last pick", "number 2", "#3": a pick on screen named by its place
ORDINAL_REF = re.compile(
    r"\b(?:the\s+)?(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last|top)\s+"
    r"(?:one|pick|movie|film|suggestion|title)\b|(?:#|\bnumber\s+|\bno\.\s*)([1-9])\b"
)


class _Spot:
    """A place in the text that names an item (``_titles`` reads the words around it)."""

    def __init__(self, start: int, end: int, item_id: ItemId, surface: str):
        self.start, self.end, self.item_id, self.surface = start, end, item_id, surface


REFINE_START = re.compile(
    r"^\s*(actually|instead|hmm+|no wait|wait|also|and |but |make it|maybe|what about|how about|"
    r"only|just|less|more|something (lighter|darker|older|newer|shorter)|older|newer|"
    r"no |not |without|anything but|nothing)",
    re.I,
)
#: a critique of the list on screen, anywhere in the message: it refines, it is not a new request
CRITIQUE = re.compile(
    r"\b(closer to|none of (these|those|them)|not (these|those|quite)|nope|"
    r"(these|those|they)( are|'re| were)( all)? too|too (recent|new|modern|old|dated)|"
    r"(go|further|farther|way) back|more (recent|modern)|(something|one|ones|story|stories) (a bit |more "
    r")?(closer|similar)|"
    r"(a|the) story (with|about)|less (violent|scary|gory|dark|sad))\b",
    re.I,
)


def _norm(text: str) -> str:
    """Lowercase, one character for one (positions stay those of the original message)."""
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text).replace("’", "'").replace("`", "'")


class RuleParser:
    """Deterministic intent extraction from one message, for any catalog.

    Example:
        >>> RuleParser(catalog).parse("something scary from the 80s, but not too gory").wanted_genres
        ['Horror']
    """

    def __init__(self, catalog: Catalog, titles: TitleMatcher | None = None):
        self.catalog = catalog
        self.titles = titles or TitleMatcher(catalog)
        known = {g.lower(): g for g in catalog.genre_names}
        self.genre_words: dict[str, tuple[str, ...]] = {}
        for word, genres in GENRE_WORDS.items():
            mapped = tuple(known[g.lower()] for g in genres if g.lower() in known)
            if mapped:
                self.genre_words[word] = mapped
        for g in catalog.genre_names:  # a generic catalog's own genre names work as words too
            if g.lower() != "unknown":
                self.genre_words.setdefault(g.lower(), (g,))
        years = catalog.years[catalog.years > 0]
        self.newest = int(years.max()) if len(years) else 2024
        self.genre_tokens = {t for w in self.genre_words for t in w.split()}
        words = "|".join(sorted(map(re.escape, self.genre_words), key=len, reverse=True))
        # A catalog without genres has no genre words: the pattern then never matches (an empty group would).
        self._genre_re = re.compile(r"(?<![\w-])(" + words + r")(?![\w-])" if words else r"(?!x)x")

    # ---------------------------------------------------------------------------------- public API
    def parse(self, message: str, *, last_shown: list[ItemId] | None = None, focus: ItemId | None = None) -> Intent:
        """``focus``: the one item the conversation is on (just explained, or the only one shown), for
        "I loved that one" / "I didn't like it"."""
        text = _norm(message)
        intent = Intent()
        mentions = self.titles.find(message)
        masked = self._respell(self._mask_spans(text, [(m.start, m.end) for m in mentions]))
        self._titles(text, mentions, intent)
        negated = self._negated_spans(masked)
        self._genres(masked, negated, intent)
        self._eras(masked, negated, intent)
        self._mood(masked, negated, intent)
        self._keywords(masked, negated, intent)
        if last_shown and not EXPLAIN.search(text):
            self._ordinal_refs(text, intent, last_shown)
        if (
            focus is not None
            and not (intent.liked_items or intent.disliked_items or intent.reference_items or intent.unknown_titles)
            and not EXPLAIN.search(text)
        ):
            self._reaction(text, intent, focus)  # not "something like Inception": that one is about Inception
        intent.kind = self._kind(message, text, intent, last_shown)
        if intent.kind == "explain":
            self._explain_target(text, intent, mentions)
        if re.search(r"\b(again|show (them|those) again|repeat)\b", text):
            intent.show_again = True
        if intent.wanted_genres and re.search(r"^\W*(or|and|also|plus)\b|\b(too|as well|also)\W*$", text):
            intent.adds_genres = True
        return intent

    # ---------------------------------------------------------------------------------- pieces
    def _respell(self, text: str) -> str:
        """Misspelt genre words ("scarey", "horrer", "documentry") read as the word they are close to;
        only longer words, and never a word the parser already knows."""
        single = [w for w in self.genre_words if " " not in w and len(w) >= 5]
        known = set(STOPWORDS) | set(self.genre_words) | set(KEYWORD_EXPANSIONS)

        def fix(m: re.Match) -> str:
            word = m.group(0)
            if len(word) < 5 or word in known:
                return word
            close = [
                c
                for c in difflib.get_close_matches(word, single, n=3, cutoff=0.85)
                if c[0] == word[0] and abs(len(c) - len(word)) <= 1
            ]  # "familiar" is not "family"
            return close[0] if close else word

        return re.sub(r"[a-z][a-z'-]+", fix, text)

    @staticmethod
    def _mask_spans(text: str, spans: list[tuple[int, int]]) -> str:
        chars = list(text)
        for start, end in spans:
            for i in range(start, min(end, len(chars))):
                chars[i] = " "
        return "".join(chars)

    def _titles(self, text: str, mentions, intent: Intent) -> None:
        for m in mentions:
            before = text[max(0, m.start - 40) : m.start]
            after = text[m.end : m.end + 40]
            if m.item_id is None:
                intent.unknown_titles.append(m.surface)
                continue
            if (
                re.search(DISLIKE_CUES + r"\s*$", before)
                or re.match(r"[!?]*\s*" + NEGATIVE_AFTER, after)
                or re.search(
                    r"\b(not|nothing|no)\s+(like|similar to)\s+(?:(?:the|that|this|original|first|new|old)\s+){0,2}$",
                    before,
                )
                or re.match(
                    r"\W*(?:which|that)\s+i\s+(?:didn't|did not|don't|do not|never)\s+(?:really\s+)?"
                    r"(?:like|liked|care for|cared for|enjoy|enjoyed)\b",
                    after,
                )
                or (
                    # "not Toy Story", "anything except Cars": ruled out, not a film to match (but "I've seen
                    # Up but not Cars" says what was not seen)
                    re.search(
                        r"(?:^|[,;.!?]|\b(?:but|and|or|just|anything))\s*(?:not|no|except|skip|without)\s*$", before
                    )
                    and not re.search(r"\b(?:seen|saw|watched|heard of)\b", text[: m.start], re.I)
                )
            ):
                intent.disliked_items.append(m.item_id)
            elif re.search(LIKE_CUES + r"\s*$", before) or re.match(r"[!?]*\s*" + POSITIVE_AFTER, after):
                intent.liked_items.append(m.item_id)
                if not re.search(r"\b(why|about)\b", before):
                    intent.reference_items.append(m.item_id)
            elif re.search(REFERENCE_CUES + r"\s*$", before) or re.search(r"\b(than|as)\s*$", before):
                intent.reference_items.append(m.item_id)
            elif re.search(r"\b(why|about|explain)\b", before + " " + after) or EXPLAIN.search(text):
                intent.explain_item = intent.explain_item or m.item_id
            else:
                intent.reference_items.append(m.item_id)

    def _reaction(self, text: str, intent: Intent, focus: ItemId) -> None:
        """ "I loved that one", "sounds great", "I didn't like it", "anything similar?": a verdict on the item
        in focus, said in words instead of 👍/👎. Questions about it ("is it funny?") are not verdicts."""
        words = re.findall(r"[\w']+", text)
        if not words or QUESTION_START.match(text) or not (REACTION_POINTER.search(text) or len(words) <= 4):
            return
        if REACTION_NEG.search(text):
            intent.disliked_items.append(focus)
        elif REACTION_MORE.search(text) or REACTION_POS.search(text):
            intent.liked_items.append(focus)
            intent.reference_items.append(focus)

    def _ordinal_refs(self, text: str, intent: Intent, last_shown: list[ItemId]) -> None:
        """ "more like the second one", "I liked the first one", "not the third one": picks on screen named
        by their place, read like a title at that spot (liked, disliked or a reference)."""
        for m in ORDINAL_REF.finditer(text):
            rank = ORDINALS[m.group(1)] if m.group(1) else int(m.group(2))
            if rank > len(last_shown):
                continue
            item = last_shown[rank - 1] if rank > 0 else last_shown[-1]
            before = text[: m.start()]
            cued = re.search(
                rf"(?:{LIKE_CUES}|{DISLIKE_CUES}|{REFERENCE_CUES}|\b(?:than|as|about|not|no|except|skip|"
                rf"without|and|or|but))\s*$",
                before,
            )
            if (
                not cued
                and before.strip(" ,.!?")
                and not re.match(rf"\s*(?:{POSITIVE_AFTER}|{NEGATIVE_AFTER}|looks)", text[m.end() :])
            ):
                continue  # "I am the first one here": not a pick
            if re.search(r"\b(not|no|except|skip|without)\s*$", before):
                if item not in intent.disliked_items:
                    intent.disliked_items.append(item)
                continue
            found = len(intent.reference_items) + len(intent.liked_items) + len(intent.disliked_items)
            self._titles(text, [_Spot(m.start(), m.end(), item, m.group(0))], intent)
            if len(intent.reference_items) + len(intent.liked_items) + len(intent.disliked_items) == found:
                intent.reference_items.append(item)

    def _negated_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans inside a negation's scope: from the cue to the clause end or a scope-ending word."""
        spans = []
        cue_re = re.compile(
            r"(?<![\w'])("
            + "|".join(re.escape(c) for c in sorted(NEGATION_CUES, key=len, reverse=True))
            + r")(?![\w'])"
        )
        cues = sorted(list(cue_re.finditer(text)) + list(NEG_VERB.finditer(text)), key=lambda m: m.start())
        for cue in cues:
            described = (
                cue.group(0) in ("not", "never", "no")
                and re.search(r"\b(?:was|were)\s*$", text[: cue.start()])
                and not re.match(r"\s+(?:a\s+(?:big\s+|huge\s+)?fan|into|my|for me|crazy about)", text[cue.end() :])
            )
            if EXPERIENCE.match(text, cue.end()) or described:
                continue  # "not heard of it", "haven't seen it", "it was not scary": no wish stated
            start = cue.end()
            end = start
            for n, token in enumerate(re.finditer(r"[^\s,.;!?]+|[,.;!?]", text[start:])):
                word = token.group(0)
                if word in ",.;!?" or (word in SCOPE_END and n > 0):
                    break
                end = start + token.end()
            spans.append((cue.start(), end))
        for m in NOT_MY_THING.finditer(text):
            clause = max(text.rfind(c, 0, m.start()) for c in ".,;!?")  # the subject: back to the clause start
            spans.append((clause + 1, m.end()))
        return spans

    @staticmethod
    def _inside(pos: int, spans: list[tuple[int, int]]) -> bool:
        return any(a <= pos < b for a, b in spans)

    def _genres(self, text: str, negated, intent: Intent) -> None:
        negated_words = []
        for m in self._genre_re.finditer(text):
            word = m.group(1)
            if word == "space" and re.search(r"\b(some|any|a little|more|less)\s+space\b", text):
                continue
            if word == "comic" and re.match(r"[\s-]*(books?|strips?)\b", text[m.end() :]):
                continue  # "comic book movies": superheroes, not comedies
            before = text[max(0, m.start() - 40) : m.start()]
            if DESCRIPTIVE.search(before):
                continue  # "that was hilarious": about a film, not a wish
            if REJECT_AFTER.match(text, m.end()) and re.search(r"[?.!]|^\W*$", text[m.end() : m.end() + 3]):
                for genre in self.genre_words[word]:
                    if genre not in intent.unwanted_genres:
                        intent.unwanted_genres.append(genre)
                continue  # "Romcom? Oooh don't know about that!"
            if DEGREE.search(before):  # "nothing too scary", "too romantic": an unwanted word, not a genre
                if word not in intent.unwanted_keywords:
                    intent.unwanted_keywords.append(word)
                continue
            # "non animated", "non-animated", "not animated": the word itself negated
            if re.search(r"\b(?:was|were)\s+not\s+(?:that\s+|very\s+|really\s+)?$", before):
                continue  # "Get Out was not scary": about a film, not a wish
            flipped = re.search(r"\b(non|not)[\s-]*$", text[max(0, m.start() - 5) : m.start()]) is not None
            inside = self._inside(m.start(), negated)
            qualifier = re.search(r"\b([a-z][a-z-]{2,})\s+$", before) if inside and not flipped else None
            if qualifier and self._qualifies(qualifier.group(1)):
                # "not into the foreign horror", "no potty humor": the qualifier is unwanted, not the genre
                if qualifier.group(1) not in intent.unwanted_keywords:
                    intent.unwanted_keywords.append(qualifier.group(1))
                continue
            if (flipped or inside) and word in SUBGENRE_WORDS:
                if word not in intent.unwanted_keywords:  # "no Marvel movies": not no action at all
                    intent.unwanted_keywords.append(word)
                continue
            target = intent.unwanted_genres if flipped or inside else intent.wanted_genres
            if target is intent.unwanted_genres:
                negated_words.append(word)
            for genre in self.genre_words[word]:
                if genre not in target:
                    target.append(genre)
            if target is intent.wanted_genres and len(self.genre_words[word]) > 1:
                intent.all_genres = True  # one word naming two genres: a film that is both

        # "a light comedy, no crude humor": a genre asked for is not undone by a negated synonym, which
        # becomes an unwanted keyword instead ("horror but no zombies"). Negating the genre's own name
        # ("scary, but no horror") is a contradiction: both stay, and the agent asks which one is meant.
        def own_name(word: str, genre: str) -> bool:
            return word.rstrip("s") == genre.lower().rstrip("s") or (word == "comedies" and genre == "Comedy")

        contradicted = {g for w in negated_words for g in self.genre_words[w] if own_name(w, g)}
        intent.unwanted_genres = [
            g for g in intent.unwanted_genres if g not in intent.wanted_genres or g in contradicted
        ]
        for word in negated_words:
            if (
                all(g in intent.wanted_genres and g not in contradicted for g in self.genre_words[word])
                and word not in intent.unwanted_keywords
            ):
                intent.unwanted_keywords.append(word)

    def _qualifies(self, word: str) -> bool:
        """A content word that narrows a genre ("foreign", "potty"), not a cue, article or adverb."""
        return not (
            word in STOPWORDS
            or word in CUE_TOKENS
            or word in self.genre_words
            or word.endswith("ly")
            or word in self.genre_tokens
            or word in QUALIFIER_STOP
        )

    def _eras(self, text: str, negated, intent: Intent) -> None:
        """Year bounds. A bound inside a negation's scope is turned round ("nothing before 1990" -> 1990 or
        later), a negated decade ("no 80s stuff") is not a range one pair of bounds can hold and is left out
        (never inverted). Vague words count only as a request ("something older", "classic films"), not as
        praise ("it's a classic", "the older It", "for older people")."""
        neg = lambda m: self._inside(m.start(), negated)  # noqa: E731
        taken: list[tuple[int, int]] = []

        def decade(d: int, m) -> None:
            if not neg(m):
                intent.year_min, intent.year_max = d, d + 9

        def decade_start(century: str | None, digit: str) -> int:
            d = int(digit)
            return (int(century) * 100 if century else (2000 if d <= 2 else 1900)) + d * 10

        def bound(kind: str, year: int, m) -> None:
            upper = kind in ("before", "prior to", "older than", "earlier than", "pre", "until", "up to", "through")
            exclusive = kind in (
                "before",
                "prior to",
                "older than",
                "earlier than",
                "pre",
                "after",
                "newer than",
                "later than",
                "post",
            )
            if neg(m):  # "nothing before 1990": 1990 or later; "not newer than 1985": 1985 or earlier
                upper, exclusive = not upper, not exclusive
            if upper:
                intent.year_max = year - 1 if exclusive else year
            else:
                intent.year_min = year + 1 if exclusive else year

        # "pre 2000s", "before the 80s", "after the 90s", "since the 70s": a bound at a decade's edge
        for m in re.finditer(
            r"\b(before|prior to|older than|earlier than|pre|after|since|post|newer than|later than)"
            r"[\s-]+(?:the\s+)?(?:(19|20)?(\d)0)'?s\b",
            text,
        ):
            start = decade_start(m.group(2), m.group(3))
            kind = m.group(1)
            if kind in ("before", "prior to", "older than", "earlier than", "pre"):
                bound("before", start, m)
            elif kind == "since":
                bound("since", start, m)
            else:
                bound("after", start + 9, m)
            taken.append(m.span())
        for m in re.finditer(r"\b(?:early|mid|late)?[\s-]*(?:(19|20)?(\d)0)'?s\b", text):
            if self._inside(m.start() + len(m.group(0)) - 1, taken):
                continue
            decade(decade_start(m.group(1), m.group(2)), m)
            if neg(m):
                continue
            prefix = text[max(0, m.start() - 6) : m.start() + 6]
            if "early" in prefix:
                intent.year_max = intent.year_min + 4
            elif "late" in prefix:
                intent.year_min += 5
            if re.match(
                r"\s*(?:up\s+)?(?:till|until|to|through)\s+(?:now|today|the present|present day)|"
                r"\s*(?:and|or)\s+(?:up|later|newer|after)|\s*on(?:wards?)?\b",
                text[m.end() :],
            ):
                intent.year_max = None  # "from the 90s up till now", "80s and up", "90s onwards"
        if m := re.search(r"\b(?:los|las|les|the|années|anni|jahre)\s+(?:19)?([2-9])0\b(?!\d)", text):
            decade(1900 + int(m.group(1)) * 10, m)
        for word, d in ERA_WORDS.items():
            if m := re.search(rf"\b{word}\b", text):
                decade(d, m)
        if (m := re.search(r"\bbetween\s+(\d{4})\s+and\s+(\d{4})\b", text)) and not neg(m):
            intent.year_min, intent.year_max = sorted((int(m.group(1)), int(m.group(2))))
        for m in re.finditer(
            r"\b(before|until|up to|through|prior to|older than|earlier than|pre)[\s-]+(?:the year\s+)?(\d{4})\b", text
        ):
            bound(m.group(1), int(m.group(2)), m)
        for m in re.finditer(
            r"\b(after|since|from|newer than|later than|post|in)[\s-]+(?:the year\s+)?(\d{4})(\s+(?:on|onwards?|and "
            r"later|or later|and after|\+))?",
            text,
        ):
            year, kind = int(m.group(2)), m.group(1)
            if kind in ("from", "in") and not m.group(3):
                if not neg(m):
                    intent.year_min, intent.year_max = year, year
            else:
                bound(kind, year, m)
        if intent.year_min is None and intent.year_max is None:
            self._vague_era(text, negated, intent)

    #: "something older", "older movies", "oldies", "vintage", "golden age", "classic films", "some classics"
    OLD_RE = re.compile(
        r"\b(?:(?:something|anything|bit|little|much|more|even|go|further)\s+(?:a\s+)?(?:bit\s+|little\s+)?older"
        r"|old(?:er)?(?:[\s-]+(?:school|fashioned))?\s+(?:movies?|films?|ones?|stuff|flicks?|pictures?|classics?)"
        r"|too\s+old|oldies|vintage|golden age|classic\s+(?:movies?|films?|ones?|stuff|flicks?|hollywood)"
        r"|(?:some|any|the|old|good)\s+classics|older)\b"
    )
    #: "recent", "newer", "latest", "modern", "new releases": a bare "new" ("a new movie to watch") is not an era
    NEW_RE = re.compile(
        r"\b(?:recent|recently released|newer|newest|latest|modern|new releases?|came out recently|"
        r"new(?:er)?\s+(?:movies|films|ones|stuff)|current|in (?:the )?(?:theaters?|theatres?|cinemas?)|"
        r"(?:in|from|within) the (?:last|past) (?:two|three|few|couple(?: of)?|\d) years|this year)\b"
    )
    #: praise, not a request: "is a classic", "it's an old favourite", "the older It"
    PRAISE_RE = re.compile(
        r"(?:\b(?:is|was|are|were|'s|s|such)\s+(?:a|an|such a|my)?\s*(?:\w+\s+)?(?:classic|old)"
        r"|\bcult\s+classic|\b(?:getting|get|grow|growing|grew|got|i'm|im|am)\s+older"
        r"|\bthe older\s+(?!ones?\b|movies?\b|films?\b|stuff\b)\w|older\s+(?:people|kids|children|"
        r"son|daughter|brother|sister|crowd|audience|folks|generation|version|one\b(?!s)))"
    )

    #: "too recent" wants older films; "too old" wants newer ones
    TOO_RE = re.compile(r"\btoo\s+(?:(recent|new|modern)|(old|dated))\b")
    #: comparatives: a move from the list on screen, not an absolute era
    SHIFT_RE = re.compile(
        r"\b(?:(older|earlier (?:ones|movies|films|stuff)|further back|farther back|go back|way back|"
        r"less recent)|(newer|more recent|more modern|later (?:ones|movies|films|stuff)|less old))\b"
    )

    def _vague_era(self, text: str, negated, intent: Intent) -> None:
        too = list(self.TOO_RE.finditer(text))
        spans = [(m.start(), m.end()) for m in too]
        free = lambda m: not any(a <= m.start() < b for a, b in spans)  # noqa: E731
        old = [
            m
            for m in self.OLD_RE.finditer(text)
            if free(m) and not self.PRAISE_RE.search(text[max(0, m.start() - 24) : m.end() + 12])
        ]
        new = [m for m in self.NEW_RE.finditer(text) if free(m)]
        older = [m for m in too if m.group(1)] + [
            m
            for m in self.SHIFT_RE.finditer(text)
            if m.group(1)
            and not self._inside(m.start(), negated)
            and not self.PRAISE_RE.search(text[max(0, m.start() - 24) : m.end() + 12])
        ]
        newer = [m for m in too if m.group(2)] + [
            m for m in self.SHIFT_RE.finditer(text) if m.group(2) and not self._inside(m.start(), negated)
        ]
        if older and not newer:
            intent.era_shift = "older"
        elif newer and not older:
            intent.era_shift = "newer"
        wants_old = [m for m in old if not self._inside(m.start(), negated)] + [
            m for m in new if self._inside(m.start(), negated)
        ]
        wants_new = [m for m in new if not self._inside(m.start(), negated)] + [
            m for m in old if self._inside(m.start(), negated)
        ]
        # "too recent" asks for older films and "(nothing) too old" for newer ones, negated or not
        wants_old += [m for m in too if m.group(1)]
        wants_new += [m for m in too if m.group(2)]
        if wants_new and not wants_old:
            intent.year_min = self.newest - RECENT_YEARS
        elif wants_old and not wants_new:
            intent.year_max = self.newest - OLD_YEARS

    def _mood(self, text: str, negated, intent: Intent) -> None:
        ruled_out = None
        for mood, words in MOODS.items():
            for word in words:
                for m in re.finditer(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text):
                    if not self._inside(m.start(), negated):
                        intent.mood = intent.mood or mood
                    else:
                        ruled_out = ruled_out or mood
                        if not DEGREE.search(text[max(0, m.start() - 20) : m.start()]):
                            known = set(self.catalog.genre_names)
                            for genre in MOOD_AVOID_GENRES.get(mood, ()):  # "nothing dark": no horror either
                                if genre in known and genre not in intent.unwanted_genres + intent.wanted_genres:
                                    intent.unwanted_genres.append(genre)
        # "not in the mood for anything sad": the opposite mood, never the one ruled out
        if intent.mood is None and ruled_out in MOOD_OPPOSITES:
            intent.mood = MOOD_OPPOSITES[ruled_out]

    def _keywords(self, text: str, negated, intent: Intent) -> None:
        for m in FOR_MY_TASTE.finditer(text):
            if m.group(1) not in STOPWORDS and m.group(1) not in intent.unwanted_keywords:
                intent.unwanted_keywords.append(m.group(1))
        genre_tokens = self.genre_tokens
        mood_tokens = {w for words in MOODS.values() for w in words}
        cue_tokens = {t for c in NEGATION_CUES for t in c.split()} | {"didn't", "don't", "can't"}
        for m in re.finditer(r"[^\W\d_][\w'-]{2,}", text):
            word = m.group(0).strip("'-")
            if word in mood_tokens and self._inside(m.start(), negated):
                for w in KEYWORD_EXPANSIONS.get(word, (word,)):
                    if w not in intent.unwanted_keywords:
                        intent.unwanted_keywords.append(w)
                continue
            if (
                word in STOPWORDS
                or word in META_WORDS
                or word in genre_tokens
                or word in mood_tokens
                or word in cue_tokens
                or word in ERA_WORDS
                or word in ORDINALS
                or re.fullmatch(r"\d+s?", word)
            ):
                continue
            if self._inside(m.start(), negated) or DEGREE.search(text[max(0, m.start() - 20) : m.start()]):
                # a misspelt unwanted word ("gorey") means the word it is close to ("gory")
                close = difflib.get_close_matches(word, KEYWORD_EXPANSIONS, n=1, cutoff=0.8)
                for w in KEYWORD_EXPANSIONS.get(close[0] if close else word, (word,)):
                    if w not in intent.unwanted_keywords:
                        intent.unwanted_keywords.append(w)
            elif word not in intent.keywords and len(intent.keywords) < 12:
                intent.keywords.append(word)

    def _kind(self, message: str, text: str, intent: Intent, last_shown) -> str:
        if EXPLAIN.search(text) and (last_shown or intent.explain_item is not None or intent.reference_items):
            return "explain"
        if GREETING.match(message) or (
            intent.is_empty()
            and not intent.unwanted_keywords
            and not intent.unknown_titles
            and re.search(r"\b(hi|hello|hey|thanks|thank you|bye)\b", text)
            and not REQUEST.search(text)
        ):
            return "chat"
        if (REFINE_START.match(text) or CRITIQUE.search(text) or intent.era_shift) and last_shown:
            return "refine"
        if intent.reference_items:
            return "more_like"
        return "recommend"

    def _explain_target(self, text: str, intent: Intent, mentions) -> None:
        if intent.explain_item is None and intent.reference_items and not intent.liked_items:
            intent.explain_item = intent.reference_items.pop(0)
        for word, rank in ORDINALS.items():
            if re.search(rf"\b{word}\b", text):
                intent.explain_rank = rank
                break
        if m := re.search(r"(?:#|number\s+|no\.?\s*)(\d{1,2})\b", text):
            intent.explain_rank = int(m.group(1))
        if intent.explain_item is None and intent.explain_rank is None:
            intent.explain_rank = 1 if re.search(r"\b(it|this|that one|this one)\b", text) else None


REQUEST = re.compile(
    r"\b(something|anything|movies?|films?|recommend|suggest|show|like|want|more|another|give|"
    r"watch|looking for|need|find)\b",
    re.I,
)
