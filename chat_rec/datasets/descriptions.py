"""Descriptions of the MovieLens-100K films written for chat-rec, shipped as package data.

MovieLens-100K itself carries titles, years and genres only, and the IMDb descriptions exist only in the
team's data folder. So that a fresh install can find Alien for "space survival horror", the package ships
``data/ml100k_descriptions.tsv``: for 1,608 of the 1,682 films, a premise (one sentence) and keywords
(subject, setting, themes, tone), written for this project in our own words, with no person names; 74 films
we could not describe with confidence are left empty. Licence: the project's (Apache-2.0).

Columns: ``movie_id``, ``title`` (as in ``u.item``), ``keywords`` ("; "-separated), ``premise``,
``confidence`` (``high``, ``medium``, ``none``). A row is attached only to the item with the same id *and*
title, so another catalog that reuses the ids never gets them.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from importlib import resources

from chat_rec.catalog import Item

FILE = "ml100k_descriptions.tsv"
SOURCE = "descriptions written for chat-rec (package data)"


def packaged_descriptions() -> dict[int, tuple[str, str]]:
    """``movie_id -> (title, description)`` for the described films."""
    text = resources.files("chat_rec.datasets").joinpath("data", FILE).read_text(encoding="utf-8")
    out = {}
    for row in csv.DictReader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE):
        premise, keywords = row["premise"].strip(), row["keywords"].strip()
        if premise or keywords:
            out[int(row["movie_id"])] = (row["title"], f"{premise} Keywords: {keywords}." if keywords else premise)
    return out


def attach_packaged(items: list[Item]) -> tuple[list[Item], int]:
    """The items with the packaged descriptions where id and title match, and how many got one."""
    known, out, n = packaged_descriptions(), [], 0
    for item in items:
        hit = known.get(item.id) if isinstance(item.id, int) else None
        if hit is not None and hit[0].strip() == item.title.strip() and not item.description:
            out.append(replace(item, description=hit[1]))
            n += 1
        else:
            out.append(item)
    return out, n
