"""Reading what a turn *does* beyond asking for picks: a question about a shown or named film, a comparison
of two, "have you seen X?", a film ruled out ("I've seen that one"), a person as a constraint, a vague
request. The rules here are deterministic and catalog-agnostic; ``Act`` is what they return.

A turn's act decides its reply (``dialogue.replies``): a question is answered from the record and the picks
on screen stay; only a request (the intent reader's kinds) gets a new list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from chat_rec.catalog import ItemId
from chat_rec.recommender.intent.rules import ORDINAL_REF, ORDINALS, _norm

#: a fact a question asks for -> the words that ask it (checked in this order; the first that matches wins)
FACT_WORDS: tuple[tuple[str, str], ...] = (
    ("plot", r"\bwhat(?:'s| is| was| are)\b[^?]{0,40}\babout\b|\bbased on\b"),
    (
        "director",
        r"\bwho(?:'s| is| was)?\s+(?:directed|direct|made|the director|did it)\b|\bdirector\b|\bdirected\b|"
        r"\b(?:is|was) (?:it|that|this)(?: one| movie| film)? by\b",
    ),
    (
        "cast",
        r"\bwho(?:'s| is| was| are| were)?\s+(?:in|starring|stars|star|acts|acted|plays|played)\b|"
        r"\bcast\b|\bactors?\b|"
        r"\bactress(?:es)?\b|\bstarring\b|\bwho stars\b|"
        r"\b(?:is|was|are)\b.+\b(?:in|starring in) (?:it|that|this)(?: one| movie| film)?\b|"
        r"\bthe one with\b|^\W*with [a-z]+ [a-z]+\s*\?",
    ),
    ("runtime", r"\bhow long\b|\blength\b|\bruntime\b|\brunning time\b|\bhow many minutes\b"),
    ("age_rating", r"\brated\s+(?:r|pg|pg-13|g|nc-17)\b|\bage rating\b|\bmpaa\b|\bwhat(?:'s| is) it rated\b"),
    (
        "kids",
        r"\b(?:kids?|children|child|family|my son|my daughter|little ones|young ones)\b|\bappropriate\b|"
        r"\bfamily[- ]friendly\b",
    ),
    ("scary", r"\b(?:scary|scarey|scared|frightening|creepy|horror|terrifying|spooky|gory|gore|bloody)\b"),
    ("violent", r"\b(?:violent|violence|graphic|brutal)\b"),
    ("funny", r"\b(?:funny|comedy|comedic|humou?r|laugh)\b"),
    (
        "year",
        r"\bwhat year\b|\bwhen (?:was|did|is) (?:it|that|this|.+?) (?:made|come out|came out|released|out)\b|"
        r"\bhow old is\b|\brelease date\b",
    ),
    (
        "genres",
        r"\bwhat (?:kind|type|genre|sort) of (?:movie|film)\b|\bgenre\b|\bis (?:it|that) (?:a|an) \w+\b|"
        r"\b(?:sci[- ]?fi|science fiction|drama|thriller|romance|romantic|action|animated|cartoon|documentary|western|"
        r"musical|war movie|crime|mystery|fantasy|adventure)\b",
    ),
    (
        "rating",
        r"\b(?:any|really|that|very|pretty|so) good\b|\bis (?:it|that|this)(?: one| movie| film)? good\b|\bgood\?|"
        r"\bworth\b|\bhow good\b|\bwell (?:rated|reviewed|received|liked)\b|\breviews?\b|\brating\b|\bratings\b|"
        r"\bdid (?:people|you|they) like\b|\bdo (?:people|you) like\b|\bhow (?:is|was) (?:it|that|this)\b|"
        r"\bis it any\b|\bboring\b",
    ),
    (
        "plot",
        r"\babout\b|\bplot\b|\bstory(?:line)?\b|\bsynopsis\b|\bsummary\b|\bwhat happens\b|\bpremise\b|"
        r"\bdescribe\b|\bwhat(?:'s| is| was) (?:it|that|this)\b|^\W*what(?:'s| is| was)\b",
    ),
)
_FACTS = [(fact, re.compile(rx, re.I)) for fact, rx in FACT_WORDS]
QUESTION = re.compile(
    r"\?|"
    r"^\s*(?:who|whos|who's|what|whats|what's|when|how|is|was|does|did|can|could|are|tell me|any idea|do you know)\b",
    re.I,
)
#: a question that is really a request ("any good horror movies?", "what should I watch?")
REQUESTY = re.compile(
    r"\b(?:recommend|suggest|suggestions?|something|sumthing|somethin|anything|"
    r"any(?:\s+\w+){0,2}\s+(?:movies|films)|some\s+\w+\s+(?:movies|films)|"
    r"what should i|can you find|looking for|movies like|films like|else)\b",
    re.I,
)
POINTER = re.compile(
    r"\b(?:it|its|it's|that|this|(?:the|that|this) (?:one|movie|film|flick)|that one|this one|those|"
    r"these|them|both)\b",
    re.I,
)
COMPARE = re.compile(
    r"\b(?:difference|differ|differences|compare|comparison|versus|vs\.?|better|funnier|scarier|longer|shorter|"
    r"older|newer|which (?:one|is|of|would|should)|which\b.*\bor\b)",
    re.I,
)
ASPECT = (
    ("funny", r"\bfunnier|funniest|more fun\b"),
    ("scary", r"\bscarier|scariest|more scary|creepier\b"),
    ("runtime", r"\blonger|shorter\b"),
    ("year", r"\bolder|newer\b"),
    ("rating", r"\bbetter|best|rated higher\b"),
)
SEEN_ASK = re.compile(
    r"^\W*(?:(?:so|and|ok|okay|well|hmm|oh|also),?\s+)?(?:have|did|do|ever)\s+you\s+(?:ever\s+|already\s+)?"
    r"(?:seen|see|watched|watch|heard of|know|like|liked)\b(?!\s+(?:what|who|when|where|how|if|whether|why|which))|"
    r"\bwhat about\b|\bhow about\b|"
    r"\bdo you (?:know|remember)\b(?!\s+(?:what|who|when|where|how|if|whether|why|which))|"
    r"\bever seen\b|\bhave you seen\b|\bwhat do you think (?:of|about)\b|\bthoughts on\b|"
    r"\b(?:have you|ever|you) heard of\b",
    re.I,
)
#: "I've seen it", "already saw that one", "seen them all": films the person rules out (not a dislike)
SEEN_IT = re.compile(
    r"(?:\b(?:i(?:'ve| have)?|i've|already|we(?:'ve| have)?|ve)\s+(?:already\s+|also\s+|just\s+|"
    r"both\s+)?|^\W*(?:already\s+)?)"
    r"(?:seen|saw|watched|watch)\b"
    r"(?!\s+(?:a|any|anything|some|something|many|lots|more|most|much|movies|films)\b)",
    re.I,
)
NOT_SEEN = re.compile(
    r"\b(?:haven't|have not|havent|never|not|don't think|dont think|didn't|did not)\b[^.!?]{0,20}?\b"
    r"(?:seen|saw|watched|see|watch)\b",
    re.I,
)
VAGUE = re.compile(
    r"\b(?:not sure|unsure|no idea|don't know what|dont know what|do not know what|dunno|"
    r"anything (?:is fine|really|goes|works|at all)|whatever|surprise me|open to (?:anything|suggestions|all|any)|"
    r"all kinds|any kind|any genre|all genres|everything|i'm easy|im easy|up for anything|"
    r"anything you (?:like|recommend|suggest)|no preference|doesn't matter|does not matter|"
    r"something to watch with (?:my )?\w+|watch with my (?:parents|family|mom|dad|mum|friends|wife|husband|girlfriend|"
    r"boyfriend|grandparents|kids)|something good|a good movie|good movies?|any suggestions|"
    r"what (?:do|would) you (?:recommend|suggest)|what should i watch|all types|any types?|pretty much any|"
    r"whatever you(?:'ve)? got|open to (?:most|pretty much)|anything (?:worth|engaging|good|interesting|fun)|"
    r"anythings? good|a variety|variety of|any movies? to recommend|anything with (?:a )?good (?:plot|story)|"
    r"any kind of movie|most everything|i like everything|i'm open|im open|i am open|"
    r"as long as (?:it'?s|they'?re) good)\b",
    re.I,
)


@dataclass
class Act:
    """What one turn does. ``name``: question, compare, seen, vague (or ``request``: a plain request, read by
    the intent reader). ``items``: the films the act is about, resolved to catalog ids; ``unknown``: titles
    named that the catalog lacks; ``fact``: what a question asks; ``aspect``: what a comparison asks about."""

    name: str = "request"
    items: list[ItemId] = field(default_factory=list)
    fact: str | None = None
    aspect: str | None = None
    unknown: list[str] = field(default_factory=list)
    ruled_out: list[ItemId] = field(default_factory=list)
    ambiguous: bool = False  # "is it good?" with several films on screen and none in focus
    basis: str = ""  # a film outside the catalog: what the picks went by instead
    choice: str = ""  # the reading of a vague request the person chose
    people: list[str] = field(default_factory=list)  # people the message names ("is Jim Carrey in it?")
    left_out: list[ItemId] = field(default_factory=list)  # films this turn rules out or dislikes, said back
    keep: bool = False  # the turn only rules films on screen out: the others stay
    keep_ids: list[ItemId] = field(default_factory=list)  # films on screen that stay first (a chosen reading's)


def fact_asked(text: str) -> str | None:
    for fact, rx in _FACTS:
        if rx.search(text):
            return fact
    return None


def ordinal_items(text: str, last_items: list[ItemId]) -> list[ItemId]:
    """Picks on screen named by their place ("the first and the second", "the 2nd one", "#3")."""
    out = []
    low = _norm(text)
    for m in ORDINAL_REF.finditer(low):
        rank = ORDINALS[m.group(1)] if m.group(1) else int(m.group(2))
        if rank <= len(last_items) and last_items:
            out.append(last_items[rank - 1] if rank > 0 else last_items[-1])
    # "the first and the second", "between the first and third"
    for m in re.finditer(
        r"\b(?:the\s+)?(first|second|third|fourth|fifth|last|1st|2nd|3rd|4th|5th)\b(?!\s+(?:one|pick|movie|film))", low
    ):
        rank = ORDINALS.get(m.group(1))
        if rank is not None and last_items and abs(rank) <= len(last_items):
            item = last_items[rank - 1] if rank > 0 else last_items[-1]
            if item not in out and re.search(r"\b(?:and|or|between|vs|versus|the)\s+(?:the\s+)?" + m.group(1), low):
                out.append(item)
    return list(dict.fromkeys(out))


def read_act(text: str, mentions, *, last_items: list[ItemId], focus: ItemId | None, mentioned: list[ItemId]) -> Act:
    """The act of one message. ``mentions``: the title matcher's finds in it (``TitleMatcher.find``);
    ``last_items``: the films on screen, in order; ``focus``: the film the conversation is on (the one just
    explained, or named alone by the other side)."""
    low = _norm(text)
    named = [m.item_id for m in mentions if m.item_id is not None]
    unknown = [m.surface for m in mentions if m.item_id is None]
    ordinals = ordinal_items(text, last_items)
    targets = list(dict.fromkeys(named + ordinals))
    act = Act(unknown=unknown)
    # ruled out: "I've seen it", "already saw Fargo", "seen them all" (not "I haven't seen it")
    seen = SEEN_IT.search(low)
    if seen and not NOT_SEEN.search(low) and not SEEN_ASK.search(low) and "?" not in low[seen.end() : seen.end() + 40]:
        after = low[seen.start() :]
        if targets:
            act.ruled_out = list(targets)
        elif re.search(r"\b(?:them|those|these|both|all)\b", after):
            act.ruled_out = list(last_items)
        elif POINTER.search(after) and (focus is not None or len(last_items) == 1):
            act.ruled_out = [focus if focus is not None else last_items[0]]
    is_question = bool(QUESTION.search(low))
    # comparison: two films named or counted, or "which one is better?" over the films in focus
    if is_question and COMPARE.search(low):
        pool = targets if len(targets) >= 2 else []
        if not pool and re.search(r"\b(?:which|both|the two|them|those|these)\b", low) and 2 <= len(last_items) <= 3:
            pool = list(last_items)
        if len(pool) >= 2:
            act.name, act.items = "compare", pool[:3]
            act.aspect = next((a for a, rx in ASPECT if re.search(rx, low)), None)
            return act
    # "have you seen X?", "what about X?": a short answer about X, then films like it
    if SEEN_ASK.search(low) and (named or unknown) and not REQUESTY.search(low.replace("what about", "")):
        act.name, act.items = "seen", named[:1]
        return act
    # a question about one film: named, counted, or pointed at
    if is_question:
        fact = fact_asked(low)
        if fact is None and re.search(r"\b(?:right|correct|isn't it|is that it)\s*\?\s*$", low):
            fact = "plot"  # "they pretend their dead boss is alive, right?": checking what it is about
        target = targets[:1]
        pointed = POINTER.search(low)
        last = re.split(r"(?<=[.!])\s+", low.strip())[-1]
        if (
            not target
            and not pointed
            and focus is not None
            and re.match(r"\W*(?:is|was|does|did)\s+(?!there\b)", last)
        ):
            pointed = True  # "is ist about a dog?" right after a film was named: a yes/no question about it
        if not target and pointed and not REQUESTY.search(low):
            if focus is not None:
                target = [focus]
            elif len(last_items) == 1:
                target = list(last_items)
            elif last_items and fact is not None:
                act.name, act.fact, act.ambiguous = "question", fact, True
                return act
        wants_like = REQUESTY.search(low) and re.search(r"\b(?:like|similar to|such as)\b", low)
        if (
            target
            and fact is not None
            and not wants_like
            and not (REQUESTY.search(low) and not ordinals and not pointed and not named)
        ):
            act.name, act.items, act.fact = "question", target, fact
            return act
    return act


#: a film named the way people name one ("Bad Santa (2003)", "the movie Ad Astra", "Knives Out is my favorite",
#: "John Wick was really good"): checked against the catalog by the caller
_YEAR = re.compile(r"\s*\((\d{4})\)")
_CONNECTORS = frozenset(["of", "the", "a", "an", "and", "in", "on", "to", "for", "at", "vs"])
_NAMED = (
    re.compile(
        r"\b(?:the|that|this) (?:movie|film|"
        r"flick)\s+['\"“]?([A-Za-z0-9][\w' &:-]{1,40}?)['\"”]?(?=\s*(?:[,.;!?]|$|\bwas\b|\bis\b|\bwhich\b))",
        re.I,
    ),
    re.compile(
        r"^\W*(?:i (?:think|thought|guess) )?([A-Za-z0-9][\w' &:-]{1,40}?)\s+(?:is|"
        r"was) (?:one of )?my (?:all[- ]time )?(?:favou?rite|fave)\b",
        re.I,
    ),
    re.compile(
        r"^\W*(?:i (?:think|thought) )?([A-Z][\w'&:-]*(?:\s+[A-Za-z][\w'&:-]*){0,4}?)\s+(?:was|"
        r"is) (?:a |an )?(?:really |pretty |so |very )?(?:good|great|funny|amazing|awesome|fun|excellent)\b"
    ),
    re.compile(r"['\"“]([A-Z][\w' &:-]{1,40}?)['\"”]"),
    re.compile(r"\b(?:i )?(?:really )?(?:liked|loved|love|enjoyed|saw)\s+([A-Z][\w'&:-]*(?:\s+[A-Z][\w'&:-]*){0,4})"),
)
_NOT_TITLES = frozenset(
    [
        "i",
        "it",
        "a",
        "an",
        "the",
        "this",
        "that",
        "they",
        "he",
        "she",
        "we",
        "you",
        "movie",
        "movies",
        "film",
        "films",
        "something",
        "anything",
        "everything",
        "one",
        "some",
        "all",
        "any",
        "every",
        "no",
        "genre",
        "genres",
        "kind",
        "kinds",
        "type",
        "types",
        "netflix",
        "youtube",
        "hbo",
        "marvel",  # studios and services are kinds of film, not titles ("I love Marvel", "Pixar for the kids")
        "pixar",
        "disney",
        "dreamworks",
        "ghibli",
        "dc",
        "hulu",
        "amazon",
    ]
)


def outside_titles(text: str, mentions, skip: list[tuple[int, int]]) -> list[str]:
    """Films the message names that the title matcher did not place in the catalog (``mentions`` holds its
    finds, ``skip`` spans already read as something else, e.g. people)."""
    taken = [(m.start, m.end) for m in mentions] + list(skip)
    out = []

    def add(surface: str, start: int, end: int, yeared: bool = False) -> None:
        surface = surface.strip(" '\"“”,.")
        words = surface.lower().split()
        common = all(w in _NOT_TITLES for w in words) or words[0] in _NOT_TITLES
        if not words or (common and not yeared) or len(surface) < 2:
            return
        if not yeared and re.match(r"\s+(?:movies?|films?|flicks?|franchise|universe|series)\b", text[end:], re.I):
            return  # "I love Marvel movies", "Christopher Guest films": a kind of film, not a title
        if any(a < end and start < b for a, b in taken):
            return
        out.append(surface)
        taken.append((start, end))

    for m in _YEAR.finditer(text):  # "Title (Year)": the capitalised words just before the year
        words = list(re.finditer(r"[\w'&:.,!-]+", text[: m.start()]))
        keep = []
        for w in reversed(words):
            token = w.group(0).strip(",.")
            if token[:1].isupper() or token[:1].isdigit() or (keep and token.lower() in _CONNECTORS):
                keep.append(w)
                if len(keep) >= 8:
                    break
            else:
                break
        while keep and keep[-1].group(0).lower() in _CONNECTORS:
            keep.pop()
        if keep:
            add(text[keep[-1].start() : keep[0].end()], keep[-1].start(), keep[0].end(), yeared=True)
    for rx in _NAMED:
        for m in rx.finditer(text):
            add(m.group(1), m.start(1), m.end(1))
    return list(dict.fromkeys(out))


#: words of a vague request that name nothing to rank by ("I like all kinds, as long as it's good")
FILLER = frozenset(
    [
        "pretty",
        "really",
        "seeing",
        "opinion",
        "worth",
        "open",
        "type",
        "types",
        "kinds",
        "kind",
        "good",
        "great",
        "recently",
        "honestly",
        "usually",
        "watched",
        "watching",
        "bored",
        "netflix",
        "weekend",
        "depends",
        "variety",
        "enjoy",
        "plot",
        "story",
        "just",
        "give",
        "whatever",
        "haha",
        "momlife",
        "everything",
        "most",
        "much",
        "sure",
        "talk",
        "favorite",
        "favourite",
        "recommend",
        "movies",
        "movie",
        "films",
        "film",
        "something",
        "anything",
        "watch",
        "tonight",
        "lot",
        "interesting",
        "engaging",
        "fun",
        "ideas",
        "idea",
        "lost",
        "got",
        "give",
        "just",
        "talk",
        "about",
        "into",
        "stuff",
        "things",
        "thing",
        "suggest",
        "suggestion",
        "suggestions",
        "genre",
        "genres",
        "types",
    ]
)


def vague_words(text: str) -> set[str]:
    """The words inside the message's vague phrases."""
    return {w for m in VAGUE.finditer(_norm(text)) for w in re.findall(r"[a-z']+", m.group(0))}


def is_vague(text: str, firm: bool) -> bool:
    """A request with nothing firm in it ("I'm not sure what I want", "something to watch with my parents")."""
    return not firm and bool(VAGUE.search(_norm(text)))
