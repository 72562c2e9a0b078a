"""MovieLens-100K in its official format (``u.data``, ``u.item``, ``u.user``), plus optional IMDb details."""

from __future__ import annotations

import ast
import csv
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np

from chat_rec.catalog import Catalog, Interactions, Item
from chat_rec.datasets.descriptions import SOURCE as PACKAGED_SOURCE
from chat_rec.datasets.descriptions import attach_packaged
from chat_rec.datasets.facts import SOURCE as FACTS_SOURCE
from chat_rec.datasets.facts import attach_facts
from chat_rec.errors import DataFormatError, DataNotFoundError

#: Genre flag order of ``u.item`` (also in ``u.genre``).
ML100K_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
REQUIRED_FILES = ("u.data", "u.item", "u.user")
ENCODING = "latin-1"  # the official files are ISO-8859-1


def is_ml100k_dir(path: Path) -> bool:
    return all((path / name).is_file() for name in REQUIRED_FILES)


def _year(release_date: str, title: str) -> int | None:
    """The film's own year: the one in its title ("Return of the Jedi (1983)"), else the release date's
    (ML-100K's release date is a re-release date for some films: 1997 for Return of the Jedi)."""
    match = re.search(r"\((\d{4})\)\s*$", title.strip())
    if match:
        return int(match.group(1))
    if release_date:
        try:
            return datetime.strptime(release_date, "%d-%b-%Y").year
        except ValueError:
            pass
    match = re.search(r"\((\d{4})\)", title)
    return int(match.group(1)) if match else None


def read_items(path: Path) -> list[Item]:
    """Parse ``u.item``: ``id|title|release date|video date|url|19 genre flags``."""
    items = []
    with open(path, encoding=ENCODING) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split("|")
            if len(fields) != 5 + len(ML100K_GENRES):
                raise DataFormatError(
                    f"{path}:{lineno}: expected {5 + len(ML100K_GENRES)} '|'-separated fields "
                    f"(id|title|release date|video date|url|19 genre flags), got {len(fields)}"
                )
            try:
                item_id = int(fields[0])
                flags = [int(f) for f in fields[5:]]
            except ValueError:
                raise DataFormatError(
                    f"{path}:{lineno}: item id and genre flags must be integers: {line[:80]!r}"
                ) from None
            genres = tuple(g for g, flag in zip(ML100K_GENRES, flags) if flag)
            items.append(Item(id=item_id, title=fields[1], year=_year(fields[2], fields[1]), genres=genres))
    return items


def read_ratings(path: Path) -> np.ndarray:
    """Parse ``u.data`` (``user<TAB>item<TAB>rating<TAB>timestamp``) into an (n, 4) int64 array."""
    rows = []
    with open(path, encoding=ENCODING) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            fields = line.split("\t")
            try:
                if len(fields) != 4:
                    raise ValueError
                rows.append([int(f) for f in fields])
            except ValueError:
                raise DataFormatError(
                    f"{path}:{lineno}: expected 4 tab-separated integers "
                    f"(user, item, rating, timestamp), got {line.rstrip()[:80]!r}"
                ) from None
    return np.asarray(rows, dtype=np.int64).reshape(-1, 4)


def read_users(path: Path) -> dict[int, dict]:
    """Parse ``u.user``: ``id|age|gender|occupation|zip``."""
    users = {}
    with open(path, encoding=ENCODING) as fh:
        for lineno, line in enumerate(fh, 1):
            fields = line.rstrip("\r\n").split("|")
            if fields == [""]:
                continue
            if len(fields) != 5 or not fields[0].isdigit() or not fields[1].isdigit():
                raise DataFormatError(
                    f"{path}:{lineno}: expected id|age|gender|occupation|zip, got {line.rstrip()[:80]!r}"
                )
            users[int(fields[0])] = {
                "age": int(fields[1]),
                "gender": fields[2],
                "occupation": fields[3],
                "zip": fields[4],
            }
    return users


def _as_tuple(value: str) -> tuple[str, ...]:
    if not value:
        return ()
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return (value,)
    return tuple(str(v) for v in parsed) if isinstance(parsed, (list, tuple)) else (str(parsed),)


def read_details(path: Path) -> dict[int, dict]:
    """IMDb details (``movielens100k_details.csv``): description, director, cast per item id.

    Its ``genre`` column is unreliable and deliberately ignored (``u.item`` genres are used).
    """
    out = {}
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"movie_id", "description"} - set(reader.fieldnames or ())
        checkable = {"movie_title", "year"} <= set(reader.fieldnames or ())
        if missing:
            raise DataFormatError(
                f"{path}: missing columns {sorted(missing)}; expected movie_id, description, director, cast"
            )
        for row in reader:
            try:
                item_id = int(row["movie_id"])
            except ValueError:
                continue
            record = {"description": (row.get("description") or "").strip()}
            if not checkable or _same_film(row.get("movie_title") or "", row.get("year")):
                # people only from a record of this very film: the scrape matched some titles to another
                # title (a TV episode, a remake), whose crew would be wrong; the packaged facts fill those
                record["director"] = tuple(n for n in _as_tuple(row.get("director") or "") if n != "nan")
                record["cast"] = tuple(n for n in _as_tuple(row.get("cast") or "") if n != "nan")
            out[item_id] = record
    return out


def _same_film(title: str, year) -> bool:
    """Whether a details record is of the film its title names: its own year within one of the title's."""
    m = re.search(r"\((\d{4})\)\s*$", title.strip())
    try:
        own = int(float(year))
    except (TypeError, ValueError):
        return False
    return m is not None and abs(own - int(m.group(1))) <= 1


def load_movielens_100k(
    directory: Path, details: Path | None = None, *, packaged: bool = False
) -> tuple[Catalog, Interactions]:
    """Load the official files from ``directory``; attach descriptions from ``details`` when given, else the
    package's own (``datasets.descriptions``) when ``packaged``. ``catalog.text_source`` says which.

    Raises:
        DataNotFoundError: the directory or one of ``u.data``/``u.item``/``u.user`` is missing.
        DataFormatError: a malformed line (the message names file and line).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataNotFoundError(f"data directory {directory} does not exist; run `chat-rec data fetch movielens-100k`")
    missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
    if missing:
        raise DataNotFoundError(f"{directory} lacks {', '.join(missing)}; run `chat-rec data fetch movielens-100k`")
    items = read_items(directory / "u.item")
    source = "titles and genres only (descriptions turned off)"
    if details is not None:
        extra = read_details(Path(details))
        items = [replace(item, **extra[item.id]) if item.id in extra else item for item in items]
        source = f"IMDb descriptions ({details})"
    elif packaged:
        items, n = attach_packaged(items)
        source = f"{PACKAGED_SOURCE}: {n:,} of {len(items):,} films"
    if details is not None or packaged:
        items, n = attach_facts(items)
        if n:
            source += f"; {FACTS_SOURCE} for {n:,} films"
    catalog = Catalog("movielens-100k", items, text_source=source)
    ratings = read_ratings(directory / "u.data")
    unknown = set(np.unique(ratings[:, 1]).tolist()) - {item.id for item in items}
    if unknown:
        raise DataFormatError(f"{directory / 'u.data'}: item ids {sorted(unknown)[:5]} are not in u.item")
    users = read_users(directory / "u.user")
    user_ids = sorted(set(ratings[:, 0].tolist()))
    user_index = {uid: row for row, uid in enumerate(user_ids)}
    row_of_item = np.zeros(max(item.id for item in items) + 1, dtype=np.int64)
    for row, item in enumerate(items):
        row_of_item[item.id] = row
    interactions = Interactions(
        catalog,
        user_ids,
        user_rows=np.asarray([user_index[u] for u in ratings[:, 0].tolist()], dtype=np.int64),
        item_rows=row_of_item[ratings[:, 1]],
        ratings=ratings[:, 2].astype(np.float32),
        timestamps=ratings[:, 3],
        users=users,
    )
    return catalog, interactions
