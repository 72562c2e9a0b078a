"""People in a catalog: who directed and who plays in which item, and finding them in what a person writes
("anything by Hitchcock?", "movies with Tom Hanks", "I love Spielbergs films", "Tom Hnaks").

Built from the items' ``director`` and ``cast`` fields, so any catalog that brings those columns gets it.
A full name is found as written or misspelt (one or two letters off, as titles are); a surname alone
("Hitchcock", "Spielberg") is found when it follows a strong cue ("by", "starring") or is capitalised and names
someone with two films or more; either way it must name one person of the catalog more than any other and not
be an everyday word.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

from chat_rec.catalog import Catalog

#: words before a name that make it a person ("by hitchcock", "with tom hanks")
CUE = re.compile(
    r"\b(?:by|with|starring|stars|featuring|feat|directed by|director|actor|actress|from|of|likes?|loves?|"
    r"fan of|into)\s+$",
    re.I,
)
#: words before a lowercase surname that still make it a person ("anything by hitchcock")
STRONG_CUE = re.compile(r"\b(?:by|starring|featuring|directed by)\s+$", re.I)
#: surnames that are also everyday words are never read alone ("Stone", "Hill", "Wood", "King", "Love")
COMMON = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "bell",
        "best",
        "big",
        "black",
        "blue",
        "bond",
        "boy",
        "brown",
        "but",
        "by",
        "can",
        "case",
        "child",
        "cold",
        "cross",
        "day",
        "dead",
        "dean",
        "death",
        "do",
        "down",
        "east",
        "english",
        "fast",
        "field",
        "fisher",
        "ford",
        "fox",
        "free",
        "french",
        "friend",
        "frost",
        "garden",
        "gold",
        "good",
        "grant",
        "green",
        "hall",
        "hand",
        "hart",
        "hill",
        "holiday",
        "home",
        "hope",
        "house",
        "hunt",
        "hunter",
        "james",
        "jones",
        "just",
        "king",
        "lake",
        "lane",
        "law",
        "lee",
        "light",
        "little",
        "long",
        "love",
        "lover",
        "lucas",
        "major",
        "marvel",
        "man",
        "march",
        "mars",
        "mason",
        "may",
        "miles",
        "miller",
        "moon",
        "moore",
        "more",
        "morgan",
        "new",
        "night",
        "north",
        "o",
        "page",
        "park",
        "parker",
        "pink",
        "price",
        "rain",
        "rich",
        "river",
        "rock",
        "rose",
        "ross",
        "rush",
        "saint",
        "scott",
        "sea",
        "short",
        "silver",
        "small",
        "smith",
        "snow",
        "song",
        "spring",
        "star",
        "stone",
        "storm",
        "summer",
        "swan",
        "taylor",
        "town",
        "true",
        "turner",
        "walker",
        "wall",
        "ward",
        "washington",
        "water",
        "west",
        "white",
        "wild",
        "will",
        "williams",
        "wilson",
        "winter",
        "wolf",
        "wood",
        "woods",
        "worth",
        "young",
    ]
)


def fold(text: str) -> str:
    """Lowercase, accents and apostrophes off ("José Ferrer" -> "jose ferrer", "O'Toole" -> "otoole")."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9 ]+", " ", text.lower().replace("'", "")).strip()


@dataclass(frozen=True)
class PersonMatch:
    name: str  # as the catalog writes it
    roles: tuple[str, ...]  # "director", "cast"
    rows: tuple[int, ...]  # the catalog rows with them, in catalog order
    surface: str  # the words of the message that named them
    start: int
    end: int


class People:
    """Who made and who plays in which item.

    Example:
        >>> people = People(catalog)
        >>> [m.name for m in people.find("anything by Hitchcock?")]
        ['Alfred Hitchcock']
    """

    def __init__(self, catalog: Catalog):
        rows: dict[str, set[int]] = defaultdict(set)
        roles: dict[str, set[str]] = defaultdict(set)
        written: dict[str, str] = {}
        for row, item in enumerate(catalog.items):
            for role, names in (("director", item.director), ("cast", item.cast[:5])):
                for name in names:
                    key = fold(name)
                    if len(key) < 4 or " " not in key:
                        continue
                    rows[key].add(row)
                    roles[key].add(role)
                    written.setdefault(key, name)
        self.rows = {k: tuple(sorted(v)) for k, v in rows.items()}
        self.roles = {k: tuple(sorted(v)) for k, v in roles.items()}
        self.written = written
        by_last: dict[str, list[str]] = defaultdict(list)
        for key in self.rows:
            by_last[key.split()[-1]].append(key)
        # a surname alone names the person it names most often, when that one has clearly more films
        self.by_last = {}
        for last, keys in by_last.items():
            keys.sort(key=lambda k: -len(self.rows[k]))
            if (
                len(last) >= 4
                and last not in COMMON
                and (len(keys) == 1 or len(self.rows[keys[0]]) >= 2 * len(self.rows[keys[1]]))
            ):
                self.by_last[last] = keys[0]
        self._first_words = {k.split()[0] for k in self.rows}
        self._fuzzy_keys = [k for k in self.rows if len(self.rows[k]) >= 2]

    def __len__(self) -> int:
        return len(self.rows)

    def __bool__(self) -> bool:
        return bool(self.rows)

    def of(self, name: str) -> tuple[int, ...]:
        return self.rows.get(fold(name), ())

    def find(self, message: str, skip: list[tuple[int, int]] | None = None) -> list[PersonMatch]:
        """The people named in ``message`` (full names, misspelt full names, surnames alone), in order.
        ``skip``: character spans already read as something else (a title)."""
        if not self.rows:
            return []
        skip = skip or []
        words = [(m.start(), m.end(), m.group(0)) for m in re.finditer(r"[^\W\d_][\w'’.-]*", message)]
        folded = [fold(w) for _, _, w in words]
        found: list[PersonMatch] = []
        taken: set[int] = set()

        def free(i: int, j: int) -> bool:
            a, b = words[i][0], words[j - 1][1]
            return not any(i2 in taken for i2 in range(i, j)) and not any(s < b and a < e for s, e in skip)

        def add(key: str, i: int, j: int) -> None:
            a, b = words[i][0], words[j - 1][1]
            found.append(PersonMatch(self.written[key], self.roles[key], self.rows[key], message[a:b], a, b))
            taken.update(range(i, j))

        for n in (3, 2):  # full names, as written
            for i in range(len(words) - n + 1):
                key = " ".join(folded[i : i + n])
                if key in self.rows and free(i, i + n):
                    add(key, i, i + n)
        for i in range(len(words) - 1):  # misspelt full names ("tom hnaks", "stephen spielburg")
            if not free(i, i + 2):
                continue
            key = " ".join(folded[i : i + 2])
            if len(key) < 8 or not (words[i][2][:1].isupper() or CUE.search(message[: words[i][0]])):
                continue
            close = difflib.get_close_matches(key, self._fuzzy_keys, n=1, cutoff=0.86)
            if close and close[0][0] == key[0]:
                add(close[0], i, i + 2)
        for i, (start, _end, word) in enumerate(words):  # a surname alone
            key = (
                folded[i].removesuffix("s") if folded[i].endswith("s") and folded[i] not in self.by_last else folded[i]
            )
            if not free(i, i + 1) or key not in self.by_last:
                continue
            if key in self._first_words and not STRONG_CUE.search(message[:start]):
                continue
            if STRONG_CUE.search(message[:start]) or (word[:1].isupper() and len(self.rows[self.by_last[key]]) >= 2):
                # capitalised alone, only someone with two films or more: a capital also starts a sentence
                # ("Worth the time"), and a one-film name is more often a word than that person
                add(self.by_last[key], i, i + 1)
        found.sort(key=lambda m: m.start)
        return found
