"""Find catalog titles in free text: exact n-gram matches, then fuzzy matches after cue words.

Survives the catalog's "Shawshank Redemption, The (1994)" form, missing years, case and small typos.
A capitalised or cue-introduced phrase that matches nothing is reported as an unknown title.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass

import numpy as np

from chat_rec.catalog import Catalog, ItemId, display_title

CUES = (
    "like",
    "lik",
    "liek",
    "loved",
    "love",
    "liked",
    "enjoyed",
    "adored",
    "hated",
    "disliked",
    "similar to",
    "why",
    "about",
    "than",
    "as",
    "watched",
    "saw",
    "seen",
    "fan of",
    "such as",
    "style of",
    "is",
    "was",
    "not",
)
COMMON = {
    "a",
    "an",
    "the",
    "and",
    "or",
    "of",
    "to",
    "in",
    "on",
    "at",
    "by",
    "for",
    "with",
    "from",
    "it",
    "is",
    "was",
    "be",
    "i",
    "me",
    "my",
    "we",
    "you",
    "he",
    "she",
    "they",
    "this",
    "that",
    "what",
    "why",
    "how",
    "who",
    "when",
    "where",
    "love",
    "like",
    "big",
    "heat",
    "speed",
    "fear",
    "crash",
    "men",
    "man",
    "woman",
    "women",
    "up",
    "down",
    "out",
    "home",
    "boys",
    "girls",
    "kids",
    "children",
    "family",
    "war",
    "horror",
    "drama",
    "comedy",
    "action",
    "crime",
    "romance",
    "western",
    "musical",
    "mystery",
    "thriller",
    "fantasy",
    "adventure",
    "animation",
    "documentary",
    "noir",
    "sci",
    "fi",
    "space",
    "scary",
    "funny",
    "dark",
    "night",
    "day",
    "time",
    "life",
    "world",
    "city",
    "story",
    "new",
    "old",
    "good",
    "bad",
    "best",
    "great",
    "little",
    "young",
    "ice",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "house",
    "end",
    "run",
    "go",
    "something",
    "anything",
    "more",
    "less",
    "really",
    "very",
    "no",
    "not",
    "some",
    "any",
    "yes",
    "yeah",
    "yep",
    "nope",
    "ok",
    "okay",
    "lol",
    "haha",
    "sure",
    "maybe",
    "please",
    "sorry",
    "thanks",
    "hi",
    "hello",
    "hey",
    "bye",
    "wow",
    "cool",
    "nice",
    "fun",
    "cute",
    "them",
    "her",
    "him",
    "us",
    "his",
    "hers",
    "its",
    "our",
    "your",
    "their",
    "hope",
    "friday",
    "loved",
    "liked",
    "hated",
    "awesome",
    "amazing",
    "perfect",
    "movie",
    "movies",
    "film",
    "films",
    "thing",
    "things",
    "thrillers",
    "comedies",
    "dramas",
    "westerns",
    "musicals",
    "mysteries",
    "romances",
    "cartoons",
    "documentaries",
    "kid",
    "date",
}
_WORD = re.compile(r"[\w']+(?:[-:][\w']+)*|&", re.UNICODE)


def normalise_title(title: str) -> str:
    """Lowercase key without year, leading article or punctuation:
    "Shawshank Redemption, The (1994)" -> "shawshank redemption"."""
    title = re.sub(r"\s*\((?:\d{4}|[IVX]+|V)\)\s*", " ", title)
    title = display_title(title.strip()).lower().replace("&", " and ")
    title = re.sub(r"^(the|a|an)\s+", "", title.strip())
    title = re.sub(r"[^\w\s']", " ", title)
    return re.sub(r"\s+", " ", title).strip()


@dataclass(frozen=True)
class Mention:
    start: int  # character span in the message
    end: int
    surface: str  # the words as the person wrote them
    item_id: ItemId | None  # None: looked like a title but matches nothing in the catalog
    score: float = 100.0


class TitleMatcher:
    """Title lookup over a catalog. ``popularity`` (per row) picks among same-named items."""

    def __init__(self, catalog: Catalog, popularity: np.ndarray | None = None):
        self.catalog = catalog
        pop = popularity if popularity is not None else np.zeros(len(catalog))
        self.keys: dict[str, list[int]] = {}
        for row, item in enumerate(catalog.items):
            key = normalise_title(item.title)
            if key and key not in ("unknown", "a", "an", "the"):
                self.keys.setdefault(key, []).append(row)
            # "Seven (Se7en) (1995)", "Shall We Dance? (Shall We Dansu?) (1996)": known by either name
            alt = re.match(r"^(.*?)\s*\(([^()]*[A-Za-z][^()]*)\)\s*(?:\(\d{4}\))?\s*$", item.title)
            if alt:
                for name in alt.groups():
                    extra = normalise_title(name)
                    if extra and extra != key and len(extra) >= 3 and row not in self.keys.get(extra, []):
                        self.keys.setdefault(extra, []).append(row)
        for rows in self.keys.values():
            rows.sort(key=lambda r: -pop[r])
        self._key_list = list(self.keys)
        self.max_words = max((len(k.split()) for k in self.keys), default=1)
        # a large catalog: word -> the keys having it, as one sorted array (``_word_keys``) cut by word
        self._word_ids: dict[str, int] = {}
        if len(self._key_list) > self.FUZZY_SCAN_MAX:
            pairs_w, pairs_k = array("l"), array("l")
            for j, k in enumerate(self._key_list):
                for w in set(k.split()):
                    if len(w) >= 3:
                        pairs_w.append(self._word_ids.setdefault(w, len(self._word_ids)))
                        pairs_k.append(j)
            w_arr = np.frombuffer(pairs_w, dtype=np.int64)
            order = np.argsort(w_arr, kind="stable")
            self._word_keys = np.frombuffer(pairs_k, dtype=np.int64)[order].astype(np.int32)
            self._word_starts = np.searchsorted(w_arr[order], np.arange(len(self._word_ids) + 1))

    #: Fuzzy matching scans every title up to this many (about 3 ms per call); a larger catalog scans only the
    #: titles that share a word with the text (rarest words first, at most this many titles), so a title
    #: misspelt in every word is not found there.
    FUZZY_SCAN_MAX = 50_000

    def _choices(self, key: str) -> list[str]:
        if len(self._key_list) <= self.FUZZY_SCAN_MAX:
            return self._key_list
        ids = [self._word_ids[w] for w in set(key.split()) if w in self._word_ids]
        lists = sorted((self._word_keys[self._word_starts[i] : self._word_starts[i + 1]] for i in ids), key=len)
        picked: dict[int, None] = {}
        for keys in lists:
            if picked and len(picked) + len(keys) > self.FUZZY_SCAN_MAX:
                break
            picked.update(dict.fromkeys(keys[: self.FUZZY_SCAN_MAX].tolist()))
        return [self._key_list[j] for j in picked]

    def _pick(self, key: str, year: int | None) -> ItemId | None:
        """The item of ``key`` from ``year`` (the one written after the title); None when the year names another
        film than every catalog item of that title ("The Pink Panther (2006)" is not "Panther (1995)")."""
        rows = self.keys[key]
        if year is not None:
            for r in rows:
                if self.catalog.items[r].year == year:
                    return self.catalog.items[r].id
            years = [_own_year(self.catalog.items[r]) for r in rows]
            if all(y is not None and abs(y - year) > 2 for y in years):
                return None
        return self.catalog.items[rows[0]].id

    def lookup(self, text: str, fuzzy: bool = True) -> ItemId | None:
        """The item a title-like string names, or None."""
        year = re.search(r"\((\d{4})\)", text)
        key = normalise_title(text)
        if key in self.keys:
            return self._pick(key, int(year.group(1)) if year else None)
        if fuzzy and len(key) >= 4:
            hit = self._fuzzy(key)
            if hit:
                return self._pick(hit[0], int(year.group(1)) if year else None)
        return None

    def _fuzzy(self, key: str, cutoff: float = 88.0):
        from rapidfuzz import fuzz, process

        hit = process.extractOne(key, self._choices(key), scorer=fuzz.ratio, score_cutoff=cutoff)
        return (hit[0], hit[1]) if hit else None

    def find(self, message: str) -> list[Mention]:
        """Title mentions in ``message``, longest first, without overlaps."""
        words = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(message)]
        lower = [normalise_title(w) or w.lower() for w, _, _ in words]
        used = [False] * len(words)
        found: list[Mention] = []
        for n in range(min(self.max_words + 1, 9), 0, -1):
            for i in range(len(words) - n + 1):
                if any(used[i : i + n]):
                    continue
                span = lower[i : i + n]
                if span[0] in ("the", "a", "an") and n > 1:
                    continue  # matched without the article at i + 1
                key = " ".join(span)
                if key not in self.keys or not self._plausible(message, words, i, n):
                    continue
                start, end = words[i][1], words[i + n - 1][2]
                year = re.match(r"\s*\(?(\d{4})\)?", message[end:])
                item_id = self._pick(key, int(year.group(1)) if year else None)
                if i > 0 and lower[i - 1] in ("the", "a", "an"):
                    start = words[i - 1][1]
                found.append(Mention(start, end, message[start:end], item_id))
                used[i : i + n] = [True] * n
        found += self._after_cues(message, words, used)
        return sorted(found, key=lambda m: m.start)

    def _plausible(self, message: str, words, i: int, n: int) -> bool:
        tokens = [w.lower() for w, _, _ in words[i : i + n]]
        if re.match(r"\s*\(\d{4}\)", message[words[i + n - 1][2] :]) and words[i][0][:1].isupper():
            return True  # "Carrie (1976) is a good film": a title written with its year
        if n >= 2 and not all(t in COMMON for t in tokens):
            return True
        before = " ".join(w.lower() for w, _, _ in words[max(0, i - 2) : i])
        cue = any(re.search(rf"\b{re.escape(c)}$", before) for c in CUES if c not in ("is", "was", "not", "as"))
        capitalised = all(
            w[0].isupper() for w, _, _ in words[i : i + n] if w.lower() not in ("the", "a", "an", "of", "and")
        )
        quoted = words[i][1] > 0 and message[words[i][1] - 1] in "\"'“"
        if all(t in COMMON for t in tokens):
            return (capitalised and (cue or quoted)) or (quoted and n >= 2)
        return cue or quoted or (capitalised and i > 0)

    def _after_cues(self, message: str, words, used) -> list[Mention]:
        """Fuzzy matches and unknown titles in the phrase right after a cue word or inside quotes."""
        out = []
        lower = [w.lower() for w, _, _ in words]
        for i, w in enumerate(lower):
            if w not in (
                "like",
                "lik",
                "liek",
                "loved",
                "liked",
                "enjoyed",
                "hated",
                "to",
                "why",
                "about",
                "than",
                "adored",
                "watched",
                "saw",
            ):
                continue
            if w == "to" and (i == 0 or lower[i - 1] != "similar"):
                continue
            j = i + 1
            phrase = []
            while j < len(words) and len(phrase) < 6 and not used[j]:
                between = message[words[j - 1][2] : words[j][1]]
                if phrase and re.search(r"[,.;!?]", between):
                    break
                if lower[j] in ("but", "and", "or", "because", "from", "with", "that", "which", "so", "in", "it"):
                    break
                phrase.append(j)
                j += 1
            if not phrase:
                continue
            mention = self._best_prefix(message, words, phrase)
            if mention:
                out.append(mention)
                for k in phrase:
                    if words[k][1] < mention.end:
                        used[k] = True
        return out

    def _best_prefix(self, message: str, words, phrase: list[int]) -> Mention | None:
        # a capitalised name is matched whole: "Bird Box" is not "Birds", "John Wick" is not "Johns"
        named = 0
        for k in phrase:
            if words[k][0][:1].isupper() or (named and words[k][0].lower() in ("of", "the", "and", "a")):
                named += 1
            else:
                break
        for n in range(len(phrase), 0, -1):
            if named > 1 and n < named:
                break
            idx = phrase[:n]
            start, end = words[idx[0]][1], words[idx[-1]][2]
            surface = message[start:end]
            key = normalise_title(surface)
            if len(key) < 4 or all(t in COMMON for t in key.split()):
                continue
            hit = self._fuzzy(key)
            if hit:
                return Mention(start, end, surface, self._pick(hit[0], None), hit[1])
        # A capitalised phrase after a cue that matches nothing: an unknown title ("like The Matrix").
        caps = []
        for k in phrase:
            word = words[k][0]
            if word[0].isupper() or (caps and word.lower() in ("of", "the", "and", "a")):
                caps.append(k)
            else:
                break
        while caps and words[caps[-1]][0].lower() in ("of", "the", "and", "a"):
            caps.pop()
        if caps and not all(words[k][0].lower() in COMMON | {"i"} for k in caps):
            start, end = words[caps[0]][1], words[caps[-1]][2]
            return Mention(start, end, message[start:end], None, 0.0)
        return None


def _own_year(item) -> int | None:
    """The film's own year: the one in its title when there is one, else the catalog's."""
    m = re.search(r"\((\d{4})\)\s*$", item.title)
    return int(m.group(1)) if m else item.year
