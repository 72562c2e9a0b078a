"""Facts about the MovieLens-100K films written for chat-rec, shipped as package data: director(s), up to five
leading actors, running time and US age rating.

MovieLens-100K has no people in it, and the IMDb details exist only in the team's data folder, so on a fresh
install "anything by Hitchcock" or "who is in the first one?" could not be answered. These are facts (names,
minutes, ratings), written for this project from general knowledge, and checked against the team's IMDb
details where both exist (``chat-rec data check-facts``; the agreement is in ``results/facts-check.json``).
Licence: the project's (Apache-2.0).

Columns of ``data/ml100k_facts.tsv``: ``movie_id``, ``title`` (as in ``u.item``), ``director`` and ``cast``
(``|``-separated), ``runtime`` (minutes), ``age_rating`` (G, PG, PG-13, R, NC-17, or empty), ``confidence``
(``high``, ``medium``, ``low``: how sure the writer was of the director). A row is attached only to the
item with the same id *and* title, and only fills what the item lacks: a catalog's own fields (the IMDb
details, a user's ``director`` / ``cast`` / ``runtime`` / ``age_rating`` columns) come first.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources

from chat_rec.catalog import Item

FILE = "ml100k_facts.tsv"
SOURCE = "people and facts written for chat-rec (package data)"


@dataclass(frozen=True)
class Facts:
    title: str
    director: tuple[str, ...]
    cast: tuple[str, ...]
    runtime: int | None
    age_rating: str
    confidence: str


def _names(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split("|") if v.strip())


@lru_cache(maxsize=1)
def packaged_facts() -> dict[int, Facts]:
    """``movie_id -> Facts`` for every film of the packaged table (empty when the file is absent)."""
    path = resources.files("chat_rec.datasets").joinpath("data", FILE)
    if not path.is_file():
        return {}
    out = {}
    for row in csv.DictReader(path.read_text(encoding="utf-8").splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE):
        runtime = (row.get("runtime") or "").strip()
        out[int(row["movie_id"])] = Facts(
            row["title"],
            _names(row.get("director", "")),
            _names(row.get("cast", ""))[:5],
            int(runtime) if runtime.isdigit() and int(runtime) > 0 else None,
            (row.get("age_rating") or "").strip(),
            (row.get("confidence") or "").strip(),
        )
    return out


def attach_facts(items: list[Item]) -> tuple[list[Item], int]:
    """The items with the packaged facts filled in where id and title match and the item lacks them, and how
    many items got at least one fact."""
    known, out, n = packaged_facts(), [], 0
    for item in items:
        hit = known.get(item.id) if isinstance(item.id, int) else None
        if hit is None or hit.title.strip() != item.title.strip():
            out.append(item)
            continue
        update = {}
        if not item.director and hit.director:
            update["director"] = hit.director
        if not item.cast and hit.cast:
            update["cast"] = hit.cast
        if item.runtime is None and hit.runtime is not None:
            update["runtime"] = hit.runtime
        if not item.age_rating and hit.age_rating:
            update["age_rating"] = hit.age_rating
        n += bool(update)
        out.append(replace(item, **update) if update else item)
    return out, n
