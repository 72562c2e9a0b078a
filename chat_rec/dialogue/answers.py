"""Answers about items from their records: what a film is about, who made it and who is in it, its year,
genres, length and age rating, how well the people in the interactions rated it, whether it suits kids or is
scary or violent, and two films side by side. Every sentence states only what the item's record holds (or
the interactions count); "I don't know" is said plainly when the record lacks the fact."""

from __future__ import annotations

import re

import numpy as np

from chat_rec.catalog import Catalog, Interactions, Item, display_title

#: what a question can ask about an item
FACTS = (
    "plot",
    "director",
    "cast",
    "year",
    "genres",
    "runtime",
    "age_rating",
    "rating",
    "kids",
    "scary",
    "violent",
    "funny",
)
#: words in an item's text that speak to a question (the stem starts a word of the text)
CONTENT = {
    "scary": (
        "scar",
        "terrif",
        "horror",
        "haunt",
        "monster",
        "killer",
        "slasher",
        "creep",
        "nightmare",
        "demon",
        "ghost",
        "vampire",
        "zombie",
        "supernatural",
        "possess",
        "menace",
        "stalk",
        "evil",
    ),
    "violent": (
        "violen",
        "brutal",
        "blood",
        "gore",
        "gory",
        "murder",
        "kill",
        "shoot",
        "gunfight",
        "massacre",
        "war ",
        "battle",
        "assassin",
        "revenge",
        "torture",
    ),
    "adult": ("sex", "erotic", "drug", "heroin", "prostitut", "rape", "nudity", "strip"),
}
KIDS_GENRES = ("Children's", "Animation")
MATURE_RATINGS = ("R", "NC-17", "X")


def name(item: Item) -> str:
    """The item's title as a person writes it, with its year: "The Shining (1980)"."""
    title = display_title(item.title)
    return title if (not item.year or str(item.year) in title) else f"{title} ({item.year})"


def premise(item: Item) -> str:
    """The description without the packaged keywords list."""
    text = (item.description or "").split(" Keywords:")[0].strip()
    return text


def first_sentence(text: str) -> str:
    """The text's first sentence, read past abbreviations and initials ("Dr. Arroway", "L.A.", "J. R. R.")."""
    m = re.search(r"(?<!\b[A-Z])(?<!\b(?:Dr|Mr|Ms|St|Jr|Sr|vs))(?<!\bMrs)[.!?](?=\s+[A-Z\"'])", text)
    return text[: m.end()] if m else text


def _join(names, n: int = 3) -> str:
    names = list(names)[:n]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _genres(item: Item) -> str:
    return " / ".join(item.genres) if item.genres else ""


def _article(word: str) -> str:
    return "an" if word[:1].upper() in "AEIOU" else "a"


class Answers:
    """Facts about the items of one catalog, in sentences.

    Args:
        catalog: the items.
        interactions: ratings, for "is it good?" (how many rated it, the average); None when the catalog has none.
        texts: the items' texts (``Recommender.texts``), for the content words of "is it scary?".
    """

    def __init__(self, catalog: Catalog, interactions: Interactions | None = None, texts: list[str] | None = None):
        self.catalog = catalog
        self.texts = texts
        n = len(catalog)
        self.count = np.zeros(n)
        self.mean = np.zeros(n)
        self.scale = 5.0
        if interactions is not None and len(interactions.ratings):
            rows = np.asarray(interactions.item_rows)
            r = np.asarray(interactions.ratings, dtype=np.float64)
            self.count = np.bincount(rows, minlength=n).astype(float)
            total = np.bincount(rows, weights=r, minlength=n)
            self.mean = np.divide(total, self.count, out=np.zeros(n), where=self.count > 0)
            self.scale = float(r.max()) if len(r) else 5.0
            self.explicit = len(np.unique(r)) > 1  # 1-5 stars, not clicks
        else:
            self.explicit = False

    def _text(self, row: int) -> str:
        if self.texts is not None:
            return self.texts[row].lower()
        item = self.catalog.items[row]
        return f"{item.title} {item.description}".lower()

    def _words(self, row: int, group: str) -> list[str]:
        text = self._text(row)
        return [s for s in CONTENT[group] if re.search(r"(?<![a-z])" + re.escape(s), text)]

    # ------------------------------------------------------------------------------------ one item
    def about(self, item: Item) -> str:
        """A short answer about the item: kind, year, director, then its premise."""
        head = name(item)
        kind = _genres(item)
        bits = [f"{head} is {_article(kind)} {kind} film" if kind else head]
        if item.director:
            bits.append(f"directed by {_join(item.director, 2)}")
        if item.cast:
            bits.append(f"with {_join(item.cast, 3)}")
        text = ", ".join(bits) + "."
        if premise(item):
            text += " " + premise(item)
        return text

    def answer(self, item: Item, fact: str) -> str:
        """One fact about ``item``, from its record."""
        row = self.catalog.row(item.id)
        head = name(item)
        if fact == "plot":
            if premise(item):
                return f"{head}: {premise(item)}"
            return f"I don't know what {head} is about: its record has no description" + (
                f"; it is {_article(_genres(item))} {_genres(item)} film." if item.genres else "."
            )
        if fact == "director":
            if item.director:
                return f"{head} was directed by {_join(item.director, 3)}."
            return f"I don't know who directed {head}: its record does not say."
        if fact == "cast":
            if item.cast:
                return f"{head} stars {_join(item.cast, 5)}."
            return f"I don't know who is in {head}: its record has no cast."
        if fact == "year":
            return f"{head} is from {item.year}." if item.year else f"I don't know the year of {head}."
        if fact == "genres":
            return (
                f"{head} is {_article(_genres(item))} {_genres(item)} film."
                if item.genres
                else (f"I don't know the genre of {head}.")
            )
        if fact == "runtime":
            if item.runtime:
                return f"{head} runs {item.runtime} minutes ({item.runtime // 60} h {item.runtime % 60:02d})."
            return f"I don't know how long {head} is: its record has no running time."
        if fact == "age_rating":
            if item.age_rating:
                return f"{head} is rated {item.age_rating}."
            return f"I don't know the age rating of {head}: its record has none."
        if fact == "rating":
            return self._rating(row, head)
        if fact == "funny":
            if "Comedy" in item.genres:
                return f"{head} is a comedy ({_genres(item)})."
            return (
                f"{head} is not listed as a comedy: it is {_article(_genres(item))} {_genres(item)} film."
                if item.genres
                else (f"I don't know whether {head} is funny.")
            )
        if fact in ("kids", "scary", "violent"):
            return getattr(self, "_" + fact)(item, row, head)
        raise ValueError(f"unknown fact {fact!r}; one of {', '.join(FACTS)}")

    def has_person(self, item: Item, person: str, role: str) -> str:
        """ "Is Jim Carrey in it?", "is that by Oliver Stone?": yes or no from the record."""
        from chat_rec.people import fold

        names = item.director if role == "director" else item.cast
        if not names:
            return ""
        if any(fold(n) == fold(person) for n in (*item.director, *item.cast)):
            return (
                f"Yes — {person} {'directed' if any(fold(n) == fold(person) for n in item.director) else 'is in'} it."
            )
        return f"Not as its record has it: {person} is not {'its director' if role == 'director' else 'in its cast'}."

    def _rating(self, row: int, head: str) -> str:
        count = int(self.count[row])
        if not count:
            return f"I don't know how well {head} is liked: nobody has rated it here."
        if not self.explicit:
            return f"{head} was chosen by {count:,} people here."
        return (
            f"{head} is rated {self.mean[row]:.1f} out of {self.scale:g} on average by the {count:,} people here "
            f"who rated it."
        )

    def _kids(self, item: Item, row: int, head: str) -> str:
        bits = []
        kids = [g for g in KIDS_GENRES if g in item.genres]
        if kids:
            bits.append(f"it is listed as {_join(kids)}")
        if item.age_rating:
            bits.append(f"it is rated {item.age_rating}")
        if "Horror" in item.genres:
            bits.append("it is a horror film")
        adult = self._words(row, "adult") + self._words(row, "violent")
        if adult:
            bits.append("its description mentions " + _join(sorted(set(adult)), 3).replace("violen", "violence"))
        if not bits:
            return (
                f"I can't tell for sure whether {head} suits kids: its record has no age rating; it is "
                f"{_article(_genres(item))} {_genres(item)} film."
            )
        verdict = (
            "Probably not for young kids"
            if item.age_rating in MATURE_RATINGS or "Horror" in item.genres or (adult and not kids)
            else "Likely fine for kids"
            if kids or item.age_rating in ("G", "PG")
            else "Maybe, for older kids"
        )
        return f"{head}: {verdict.lower()} — " + "; ".join(bits) + "."

    def _scary(self, item: Item, row: int, head: str) -> str:
        words = self._words(row, "scary")
        scary_genres = [g for g in ("Horror", "Thriller") if g in item.genres]
        if not words and not scary_genres:
            kind = f"{_article(_genres(item))} {_genres(item)} film"
            return f"{head} does not look scary: it is {kind} and its description has no horror words."
        bits = []
        if scary_genres:
            bits.append(f"it is listed as {_join(scary_genres)}")
        if words:
            bits.append("its description mentions " + _join(words, 3))
        lead = "yes, it is meant to scare" if "Horror" in item.genres else "somewhat"
        return f"{head}: {lead} — " + "; ".join(bits) + "."

    def _violent(self, item: Item, row: int, head: str) -> str:
        words = self._words(row, "violent")
        rough = [g for g in ("War", "Action", "Crime", "Horror") if g in item.genres]
        bits = []
        if rough:
            bits.append(f"it is {_article(rough[0])} {' / '.join(rough)} film")
        if words:
            bits.append(
                "its description mentions " + _join([w.strip() for w in words], 3).replace("violen", "violence")
            )
        if item.age_rating:
            bits.append(f"it is rated {item.age_rating}")
        if not words and not rough:
            return (
                f"{head} does not look violent from its record: it is {_article(_genres(item))} {_genres(item)} film"
                + (f", rated {item.age_rating}." if item.age_rating else ".")
            )
        return (
            ("Probably, yes: " if words or item.age_rating in MATURE_RATINGS else "Some: ")
            + "; ".join(bits)
            + f" ({head})."
        )

    # ------------------------------------------------------------------------------------ two items
    def compare(self, items: list[Item], aspect: str | None = None) -> str:
        """Two (or three) items side by side: kind, year, length, rating, people; then the aspect asked
        about ("funnier", "scarier", "better", "longer"), where the records can tell."""
        lines = []
        for item in items[:3]:
            row = self.catalog.row(item.id)
            bits = [_genres(item) or "no genre listed"]
            if item.year:
                bits.append(str(item.year))
            if item.runtime:
                bits.append(f"{item.runtime} min")
            if item.age_rating:
                bits.append(f"rated {item.age_rating}")
            if item.director:
                bits.append(f"directed by {_join(item.director, 2)}")
            if self.count[row] and self.explicit:
                bits.append(f"{self.mean[row]:.1f}/{self.scale:g} from {int(self.count[row]):,} ratings")
            lead = first_sentence(premise(item)).rstrip(".")
            lines.append(f"{name(item)}: {', '.join(bits)}." + (f" {lead}." if lead else ""))
        verdict = self._verdict(items[:3], aspect)
        # "which one is better?": the answer first, then what it rests on
        return (f"{verdict} " if verdict else "") + "Side by side — " + " ".join(lines)

    def _verdict(self, items: list[Item], aspect: str | None) -> str:
        if aspect in ("funny", "scary"):
            genre = {"funny": "Comedy", "scary": "Horror"}[aspect]
            has = [name(i) for i in items if genre in i.genres]
            word = {"funny": "a comedy", "scary": "a horror film"}[aspect]
            if len(has) == 1:
                return f"Only {has[0]} is {word}."
            if not has:
                return f"Neither is listed as {word}."
            return f"Both are listed as {word}."
        if aspect == "rating" and self.explicit:
            rows = [self.catalog.row(i.id) for i in items]
            if all(self.count[r] for r in rows):
                best = max(range(len(items)), key=lambda k: self.mean[rows[k]])
                return f"{name(items[best])} is rated higher here."
        if aspect == "runtime" and all(i.runtime for i in items):
            longest = max(items, key=lambda i: i.runtime)
            return f"{name(longest)} is the longer one."
        if aspect == "year" and all(i.year for i in items):
            oldest = min(items, key=lambda i: i.year)
            return f"{name(oldest)} is the older one."
        return ""
