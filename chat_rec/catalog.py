"""Items, catalogs and interactions: the data every other layer works on.

External ids (``Item.id``, the ids in the source files) and internal rows (positions in arrays) are
kept apart in names: ``row`` is always an internal position, ``item_id``/``user_id`` always external.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from chat_rec.errors import DataFormatError, EmptyCatalogError

ItemId = int | str


@dataclass(frozen=True, slots=True)
class Item:
    """One catalog entry. Only ``id`` and ``title`` are required. (Slots: about 300 bytes less per item, 300 MB
    at a million items.)"""

    id: ItemId
    title: str
    year: int | None = None
    genres: tuple[str, ...] = ()
    description: str = ""
    director: tuple[str, ...] = ()
    cast: tuple[str, ...] = ()
    runtime: int | None = None  # minutes
    age_rating: str = ""  # e.g. "PG-13"


#: a year at the end of a title ("The Matrix (1999)"); group 1 is the year
YEAR_AT_END = re.compile(r"\s*\((\d{4})\)$")
_ARTICLE_SUFFIX = re.compile(r"^(.*), (The|A|An|Il|La|Le|Les|L'|Das|Der|Die|El)$", re.IGNORECASE)


def display_title(title: str) -> str:
    """``"Shawshank Redemption, The (1994)"`` -> ``"The Shawshank Redemption (1994)"``."""
    match = re.match(r"^(.*?)(\s*\(.*\))?$", title)
    base, tail = (match.group(1), match.group(2) or "") if match else (title, "")
    moved = _ARTICLE_SUFFIX.match(base)
    if moved:
        article = moved.group(2)
        base = f"{article}{'' if article.endswith(chr(39)) else ' '}{moved.group(1)}"
    return base + tail


def item_text(item: Item, max_cast: int = 5) -> str:
    """The text an item is embedded and re-ranked by: title, year, genres, then details when known."""
    head = display_title(item.title).strip()
    if item.year and str(item.year) not in item.title:
        head += f" ({item.year})"
    parts = [head + "."]
    if item.genres:
        parts.append("Genres: " + ", ".join(item.genres) + ".")
    if item.description:
        parts.append(item.description.strip())
    if item.director:
        parts.append("Director: " + ", ".join(item.director) + ".")
    if item.cast:
        parts.append("Cast: " + ", ".join(item.cast[:max_cast]) + ".")
    text = " ".join(parts)
    return text[:-1] if len(parts) == 1 else text


_SENTENCE = re.compile(r"[^.!?]+[.!?]*")


def _sentences(text: str) -> list[str]:
    return [m.group(0) for m in _SENTENCE.finditer(text) if m.group(0).strip()]


def strip_boilerplate(items: list[Item], min_items: int = 5, min_share: float = 0.002) -> list[Item]:
    """Descriptions without data boilerplate, found by frequency, never by a list of titles: a sentence
    that appears word for word in the descriptions of at least ``max(min_items, min_share * n)`` different
    items ("It looks like we don't have any Plot Summaries for this title yet. Be the first to
    contribute!") is not about any one of them and is removed. A description left empty stays empty."""
    threshold = max(min_items, int(min_share * len(items)))
    counts: dict[int, int] = {}  # by the sentence's hash: a large catalog keeps no set of all its sentences
    for item in items:
        for h in {hash(" ".join(x.split()).lower()) for x in _sentences(item.description)}:
            counts[h] = counts.get(h, 0) + 1
    frequent = {h for h, n in counts.items() if n >= threshold}
    del counts
    common = (
        {
            s
            for item in items
            if item.description
            for s in (" ".join(x.split()).lower() for x in _sentences(item.description))
            if len(s) > 12 and hash(s) in frequent
        }
        if frequent
        else set()
    )
    if not common:
        return items
    out = []
    for item in items:
        if item.description and any(" ".join(x.split()).lower() in common for x in _sentences(item.description)):
            kept = "".join(x for x in _sentences(item.description) if " ".join(x.split()).lower() not in common)
            item = replace(item, description=" ".join(kept.split()))
        out.append(item)
    return out


@dataclass
class Catalog:
    """An ordered set of items with id <-> row lookup and array views used for filtering.

    Raises:
        EmptyCatalogError: when ``items`` is empty.
        ValueError: when two items share an id.
    """

    name: str
    items: list[Item]
    _rows: dict[ItemId, int] = field(init=False, repr=False)
    #: where the item texts come from beyond titles and genres, for the person and the logs ("" = unknown)
    text_source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.items:
            raise EmptyCatalogError(f"catalog {self.name!r} has no items; check the items file")
        self.items = strip_boilerplate(self.items)
        self._rows = {}
        for row, item in enumerate(self.items):
            if item.id in self._rows:
                raise DataFormatError(f"catalog {self.name!r}: duplicate item id {item.id!r}")
            self._rows[item.id] = row
        self.years = np.array([item.year if item.year else -1 for item in self.items], dtype=np.int32)
        self.genre_names = sorted({g for item in self.items for g in item.genres})
        index = {g: i for i, g in enumerate(self.genre_names)}
        self.genre_matrix = np.zeros((len(self.items), len(self.genre_names)), dtype=bool)
        for row, item in enumerate(self.items):
            for g in item.genres:
                self.genre_matrix[row, index[g]] = True
        self.has_genre = self.genre_matrix.any(axis=1)  # rows with any genre data
        # the same film under two ids (MovieLens-100K has 18 such pairs, ReDial 76: "The Matrix" and "The
        # Matrix (1999)"): rows that share a normalised title (without a year at its end) and year; a list
        # never shows both, and excluding one excludes the other
        by_film: dict[tuple[str, int], list[int]] = {}
        for row, item in enumerate(self.items):
            title = YEAR_AT_END.sub("", " ".join(item.title.lower().split()))
            by_film.setdefault((title, item.year or 0), []).append(row)
        self.film_key = np.zeros(len(self.items), dtype=np.int64)
        self._twins: dict[int, list[int]] = {}
        for key, rows_of_film in enumerate(by_film.values()):
            self.film_key[rows_of_film] = key
            if len(rows_of_film) > 1:
                for r in rows_of_film:
                    self._twins[r] = [x for x in rows_of_film if x != r]

    def twins(self, row: int) -> list[int]:
        """Other rows of the same film (same title and year under another id); usually none."""
        return self._twins.get(int(row), [])

    def with_twins(self, rows: Iterable[int]) -> set[int]:
        """``rows`` and every other row of the same films."""
        rows = {int(r) for r in rows}
        return rows | {t for r in rows for t in self._twins.get(r, ())}

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def __contains__(self, item_id: ItemId) -> bool:
        return item_id in self._rows

    def row(self, item_id: ItemId) -> int:
        """Internal row of an external id. Raises KeyError naming the id."""
        try:
            return self._rows[item_id]
        except KeyError:
            raise KeyError(f"item id {item_id!r} is not in catalog {self.name!r}") from None

    def rows(self, item_ids: Iterable[ItemId], *, skip_unknown: bool = False) -> np.ndarray:
        if skip_unknown:
            out = [self._rows[i] for i in item_ids if i in self._rows]
        else:
            out = [self.row(i) for i in item_ids]
        return np.asarray(out, dtype=np.int64)

    def item(self, item_id: ItemId) -> Item:
        return self.items[self.row(item_id)]

    def genre_mask(self, genres: Sequence[str], *, any_of: bool = True) -> np.ndarray:
        """Rows having any (or, with ``any_of=False``, all) of ``genres``, matched case-insensitively.

        A genre the catalog does not know matches no row.
        """
        lookup = {g.lower(): i for i, g in enumerate(self.genre_names)}
        known = [lookup[g.lower()] for g in genres if g.lower() in lookup]
        if any_of:
            return self.genre_matrix[:, known].any(axis=1)
        if len(known) < len(genres):
            return np.zeros(len(self), dtype=bool)
        return self.genre_matrix[:, known].all(axis=1)

    def texts(self) -> list[str]:
        return [item_text(item) for item in self.items]

    def fingerprint(self) -> str:
        """Stable hash of the ids and texts: keys caches so a changed catalog never reuses stale vectors.
        Computed once (seconds for a million items); the items are not changed after the catalog is made."""
        if getattr(self, "_fingerprint", None) is None:
            digest = hashlib.sha256()
            for item in self.items:
                digest.update(f"{item.id}\x1f{item_text(item)}\x1e".encode())
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint


class ItemTexts(Sequence):
    """``item_text`` of each catalog row, made when read: a large catalog keeps no second copy of its texts."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def __len__(self) -> int:
        return len(self.catalog.items)

    def __getitem__(self, row):
        if isinstance(row, slice):
            return [item_text(item) for item in self.catalog.items[row]]
        return item_text(self.catalog.items[row])


@dataclass
class Interactions:
    """User-item events as parallel arrays over catalog rows.

    ``user_ids[u]`` is the external id of user row ``u``; ``ratings`` defaults to 1 for implicit data.
    """

    catalog: Catalog
    user_ids: list[ItemId]
    user_rows: np.ndarray
    item_rows: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray
    users: dict[ItemId, dict] = field(default_factory=dict)  # optional profile per external user id

    def __post_init__(self) -> None:
        n = len(self.user_rows)
        for name in ("item_rows", "ratings", "timestamps"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Interactions.{name} has {len(getattr(self, name))} entries, expected {n}")
        self._user_index = {uid: row for row, uid in enumerate(self.user_ids)}

    def __len__(self) -> int:
        return len(self.user_rows)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    def user_row(self, user_id: ItemId) -> int:
        try:
            return self._user_index[user_id]
        except KeyError:
            raise KeyError(f"user id {user_id!r} has no interactions in {self.catalog.name!r}") from None

    def history(self, user_id: ItemId) -> tuple[np.ndarray, np.ndarray]:
        """(item rows, ratings) of one user, in file order (an index over users is built at the first call,
        so a call reads that user's events only)."""
        u = self.user_row(user_id)
        if getattr(self, "_by_user", None) is None:
            order = np.argsort(self.user_rows, kind="stable")
            self._by_user = (order, np.searchsorted(self.user_rows[order], np.arange(self.n_users + 1)))
        order, starts = self._by_user
        events = order[starts[u] : starts[u + 1]]
        return self.item_rows[events], self.ratings[events]

    def subset(self, mask: np.ndarray) -> Interactions:
        """The events where ``mask`` is true (same users and catalog)."""
        return Interactions(
            self.catalog,
            self.user_ids,
            self.user_rows[mask],
            self.item_rows[mask],
            self.ratings[mask],
            self.timestamps[mask],
            self.users,
        )


def build_interactions(
    catalog: Catalog, rows: Iterable[tuple[ItemId, ItemId, float, int]], users: dict[ItemId, dict] | None = None
) -> Interactions:
    """Interactions from (user id, item id, rating, timestamp) tuples; item ids must be in the catalog."""
    user_index: dict[ItemId, int] = {}
    u, i, r, t = [], [], [], []
    for user_id, item_id, rating, ts in rows:
        u.append(user_index.setdefault(user_id, len(user_index)))
        i.append(catalog.row(item_id))
        r.append(rating)
        t.append(ts)
    return Interactions(
        catalog,
        list(user_index),
        np.asarray(u, dtype=np.int64),
        np.asarray(i, dtype=np.int64),
        np.asarray(r, dtype=np.float32),
        np.asarray(t, dtype=np.int64),
        users or {},
    )
