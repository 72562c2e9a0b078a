"""Any catalog by data, not code: items CSV/JSONL and interactions CSV.

Items (CSV with a header row, or JSON Lines): ``id`` and ``title`` required; optional ``description``,
``genres`` (or ``tags``; ``|``-separated in CSV, a list or ``|``-string in JSONL), ``year``, ``director``,
``cast`` (``|``-separated), ``runtime`` (minutes), ``age_rating``. Interactions (CSV with a header): ``user``,
``item`` required; optional ``rating`` (default 1) and ``timestamp`` (default 0).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from chat_rec.catalog import Catalog, Interactions, Item, build_interactions
from chat_rec.errors import DataFormatError, DataNotFoundError

ITEM_COLUMNS = ("id", "title", "description", "genres|tags", "year", "director", "cast", "runtime", "age_rating")
INTERACTION_COLUMNS = ("user", "item", "rating", "timestamp")


def _records(path: Path) -> Iterator[tuple[int, dict]]:
    if not path.is_file():
        raise DataNotFoundError(f"file {path} does not exist")
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        with open(path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataFormatError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
                if not isinstance(record, dict):
                    raise DataFormatError(f"{path}:{lineno}: expected a JSON object per line")
                yield lineno, record
        return
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        for lineno, record in enumerate(reader, 2):
            yield lineno, record


def _check_columns(path: Path, record: dict, required: tuple[str, ...], expected: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in record]
    if missing:
        raise DataFormatError(
            f"{path}: missing required column(s) {', '.join(missing)}; "
            f"expected columns: {', '.join(expected)} (required: {', '.join(required)})"
        )


def _minutes(value) -> int | None:
    """A running time in minutes ("103", 103, "103 min"); None when absent or unreadable."""
    m = re.match(r"\s*(\d{1,4})", str(value or ""))
    return int(m.group(1)) if m and int(m.group(1)) > 0 else None


def _split(value) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(v.strip() for v in str(value).split("|") if v.strip())


def _year(value, path: Path, lineno: int) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        raise DataFormatError(f"{path}:{lineno}: year must be a number, got {value!r}") from None


def _normalise_ids(raw: list[str]) -> dict[str, int | str]:
    """Ids stay strings unless every one is an integer (so MovieLens-style ids print as numbers)."""
    try:
        return {r: int(r) for r in raw}
    except ValueError:
        return {r: r for r in raw}


def load_items(path: Path, name: str | None = None) -> Catalog:
    """Read an items file into a Catalog.

    Raises:
        DataNotFoundError: no such file.
        DataFormatError: missing ``id``/``title`` columns (the message lists the expected columns),
            a bad line (file and line named), or a duplicate id.
        EmptyCatalogError: the file has no items.
    """
    path = Path(path)
    raw = []
    for lineno, record in _records(path):
        _check_columns(path, record, ("id", "title"), ITEM_COLUMNS)
        item_id, title = str(record["id"] or "").strip(), str(record["title"] or "").strip()
        if not item_id or not title:
            raise DataFormatError(f"{path}:{lineno}: empty id or title")
        raw.append(
            (
                item_id,
                Item(
                    id=item_id,
                    title=title,
                    year=_year(record.get("year"), path, lineno),
                    genres=_split(record.get("genres") or record.get("tags")),
                    description=str(record.get("description") or "").strip(),
                    director=_split(record.get("director")),
                    cast=_split(record.get("cast")),
                    runtime=_minutes(record.get("runtime")),
                    age_rating=str(record.get("age_rating") or "").strip(),
                ),
            )
        )
    if not raw and path.suffix.lower() not in {".jsonl", ".ndjson"}:
        with open(path, encoding="utf-8-sig") as fh:
            header = fh.readline()
        if header.strip():
            _check_columns(path, {c.strip(): 1 for c in header.strip().split(",")}, ("id", "title"), ITEM_COLUMNS)
    ids = _normalise_ids([r for r, _ in raw])
    seen: set = set()
    items = []
    for r, item in raw:
        if ids[r] in seen:
            raise DataFormatError(f"{path}: duplicate item id {r!r}")
        seen.add(ids[r])
        items.append(replace(item, id=ids[r]))
    return Catalog(name or path.stem, items)


def load_interactions(path: Path, catalog: Catalog) -> Interactions:
    """Read an interactions CSV against ``catalog``; unknown item ids are an error naming the line."""
    path = Path(path)
    int_ids = all(isinstance(item.id, int) for item in catalog)
    rows = []
    for lineno, record in _records(path):
        _check_columns(path, record, ("user", "item"), INTERACTION_COLUMNS)
        item_raw = str(record["item"]).strip()
        try:
            item_id = int(item_raw) if int_ids else item_raw
            rating = float(record.get("rating") or 1.0)
            ts = int(float(record.get("timestamp") or 0))
        except ValueError:
            raise DataFormatError(
                f"{path}:{lineno}: rating and timestamp must be numbers, item {item_raw!r}"
            ) from None
        if item_id not in catalog:
            raise DataFormatError(f"{path}:{lineno}: item {item_raw!r} is not in the catalog")
        user = str(record["user"]).strip()
        rows.append((int(user) if user.isdigit() else user, item_id, rating, ts))
    return build_interactions(catalog, rows)
