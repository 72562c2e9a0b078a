"""Real human dialogues: ReDial (JSON Lines), INSPIRED (``dev.tsv``, and the UniCRS JSON Lines of its train
split), and the ReDial movie catalog.

ReDial record: ``{"conversationId", "movieMentions": {id: "Title (Year)"}, "initiatorQuestions": {id:
{"suggested", "seen", "liked"}}, "messages": [{"text", "senderWorkerId", ...}], "initiatorWorkerId", ...}``;
movies appear in text as ``@<id>``; the initiator is the seeker; ``liked``: 0 no, 1 yes, 2 did not say.
A line that is not a JSON object of that shape is skipped and counted, never fatal.
"""

from __future__ import annotations

import ast
import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from chat_rec.catalog import Catalog, Item
from chat_rec.errors import DataFormatError, DataNotFoundError

MENTION = re.compile(r"@(\d+)")
_YEAR = re.compile(r"\((\d{4})\)\s*$")


@dataclass
class Message:
    role: str  # "seeker" | "recommender"
    text: str


@dataclass
class Dialogue:
    id: str
    messages: list[Message]
    questions: dict[str, dict] = field(default_factory=dict)  # seeker's answers per movie id (ReDial)
    accepted: bool = True  # INSPIRED: the recommendation was accepted


@dataclass
class DialogueFile:
    dialogues: list[Dialogue]
    malformed: int = 0
    source: str = ""


def _csv_rows(path: Path) -> list[dict]:
    if not Path(path).is_file():
        raise DataNotFoundError(f"{path} not found: pass the file with its path (see ../shared/data/README.md)")
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _clean_title(title: str) -> str:
    return " ".join(title.split())


def load_redial_catalog(movies: Path, plots: Path | None = None, ml_movies: Path | None = None) -> Catalog:
    """ReDial's movie list (``movies_with_mentions.csv``) as a catalog.

    ``plots`` (``movie_plot.csv``) adds a plot where present (titles alone otherwise) and, with
    ``ml_movies`` (ML-latest-small ``movies.csv``), the MovieLens genres of the movies it maps.
    """
    rows = _csv_rows(movies)
    if rows and not {"movieId", "movieName"} <= set(rows[0]):
        raise DataFormatError(f"{movies}: expected columns movieId,movieName[,nbMentions], got {sorted(rows[0])}")
    plot_by_id, ml_by_id = {}, {}
    if plots:
        for r in _csv_rows(plots):
            plot_by_id[r.get("movie_id", "")] = (r.get("plot") or "").strip()
            if r.get("ml_id"):
                ml_by_id[r.get("movie_id", "")] = r["ml_id"]
    genres_by_ml = {}
    if ml_movies:
        for r in ml_latest_rows(ml_movies, ("movieId", "title", "genres")):
            genres_by_ml[r["movieId"]] = tuple(
                "Children's" if g == "Children" else g
                for g in r["genres"].split("|")
                if g and g != "(no genres listed)"
            )
    items = []
    for r in rows:
        title = _clean_title(r["movieName"])
        year = _YEAR.search(title)
        mid = r["movieId"]
        items.append(
            Item(
                int(mid),
                title,
                int(year.group(1)) if year else None,
                genres_by_ml.get(ml_by_id.get(mid, ""), ()),
                plot_by_id.get(mid, ""),
            )
        )
    return Catalog("redial", items)


def ml_latest_rows(path: Path, columns: tuple[str, ...]) -> list[dict]:
    """Rows of an ML-latest-small CSV, with or without its header row (the team copy has none)."""
    if not Path(path).is_file():
        raise DataNotFoundError(f"{path} not found: pass the ML-latest-small file with its path")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh) if r]
    if rows and rows[0][0] == columns[0]:
        rows = rows[1:]
    bad = [n for n, r in enumerate(rows[:50], 1) if len(r) < len(columns)]
    if bad:
        raise DataFormatError(f"{path}:{bad[0]}: expected columns {','.join(columns)}")
    return [dict(zip(columns, r)) for r in rows]


def ml_id_map(merged: Path) -> dict[int, int]:
    """ReDial id -> MovieLens id from ``movies_merged.csv`` (``ml_id,...,id,...``)."""
    out = {}
    for r in _csv_rows(merged):
        try:
            out[int(r["id"])] = int(r["ml_id"])
        except (KeyError, ValueError):
            continue
    return out


def read_redial(path: Path) -> DialogueFile:
    """ReDial dialogues; malformed lines are skipped and counted."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{path} not found: pass a ReDial JSON Lines file")
    dialogues, bad = [], 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                seeker = d["initiatorWorkerId"]
                messages = [
                    Message("seeker" if m["senderWorkerId"] == seeker else "recommender", str(m.get("text") or ""))
                    for m in d["messages"]
                ]
                questions = d.get("initiatorQuestions") or {}
                if not isinstance(questions, dict):
                    questions = {}
                dialogues.append(
                    Dialogue(
                        str(d.get("conversationId", len(dialogues))),
                        messages,
                        {str(k): v for k, v in questions.items() if isinstance(v, dict)},
                    )
                )
            except (ValueError, KeyError, TypeError, AttributeError):
                bad += 1
    return DialogueFile(dialogues, bad, str(path))


def read_inspired(path: Path, catalog: Catalog) -> DialogueFile:
    """INSPIRED dialogues (``dev.tsv``): movie titles in ``movies`` become ``@id`` mentions of ``catalog``
    items (exact title match, else title without year); the dialogue's ``coarse_label`` says whether the
    recommendation was accepted."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{path} not found: pass INSPIRED's dev.tsv")
    by_title = {it.title.lower(): it.id for it in catalog.items}
    by_base = {}
    for it in catalog.items:
        by_base.setdefault(_YEAR.sub("", it.title).strip().lower(), it.id)
    dialogues: dict[str, Dialogue] = {}
    bad = 0
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            try:
                did, speaker, text = row["dialog_id"], row["speaker"], row["text"] or ""
            except KeyError:
                bad += 1
                continue
            d = dialogues.setdefault(
                did, Dialogue(did, [], accepted=str(row.get("coarse_label", "")).startswith("accept"))
            )
            for title in _titles(row.get("movies") or ""):
                mid = by_title.get(title.lower()) or by_base.get(_YEAR.sub("", title).strip().lower())
                if mid is not None and title in text:
                    text = text.replace(title, f"@{mid}")
                elif mid is not None:
                    text += f" @{mid}"
            d.messages.append(Message("seeker" if speaker.upper() == "SEEKER" else "recommender", text))
    return DialogueFile(list(dialogues.values()), bad, str(path))


class _TitleIds:
    """INSPIRED names films by title: exact title (with year) first, else the title without its year."""

    def __init__(self, catalog: Catalog):
        self.by_title = {it.title.lower(): it.id for it in catalog.items}
        self.by_base: dict[str, object] = {}
        for it in catalog.items:
            self.by_base.setdefault(_YEAR.sub("", it.title).strip().lower(), it.id)

    def __call__(self, title: str):
        t = " ".join(title.split())
        return self.by_title.get(t.lower()) or self.by_base.get(_YEAR.sub("", t).strip().lower())


def _with_mentions(text: str, titles: list[str], ids: _TitleIds) -> str:
    """``text`` with each named film written as ``@id`` (appended when the text does not spell it out)."""
    for title in titles:
        mid = ids(title)
        if mid is None:
            continue
        base = _YEAR.sub("", title).strip()
        if title in text:
            text = text.replace(title, f"@{mid}")
        elif base and base in text:
            text = text.replace(base, f"@{mid}", 1)
        else:
            text += f" @{mid}"
    return text


def inspired_outside(path: Path, catalog: Catalog) -> dict:
    """INSPIRED ``dev.tsv``: the recommenders' first mentions in accepted dialogues, and how many of them name
    a film ``catalog`` lacks (they cannot be cases of a protocol over that catalog)."""
    ids, seen, counts = _TitleIds(catalog), {}, {"first_mentions": 0, "outside_catalog": 0}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if not str(row.get("coarse_label", "")).startswith("accept"):
                continue
            mentioned = seen.setdefault(row.get("dialog_id"), set())
            for title in _titles(row.get("movies") or ""):
                key = " ".join(title.split()).lower()
                if (row.get("speaker") or "").upper() != "SEEKER" and key not in mentioned:
                    counts["first_mentions"] += 1
                    counts["outside_catalog"] += ids(title) is None
                mentioned.add(key)
    return counts


def read_inspired_unicrs(path: Path, catalog: Catalog) -> DialogueFile:
    """INSPIRED in the UniCRS preprocessed format (``train_unicrs.jsonl``): one JSON list of turns a line,
    ``{text, role: SEEKER/RECOMMENDER, movie: ["Title (Year)", ...], ...}``. The films each turn names become
    ``@id`` mentions of ``catalog`` items; films the catalog lacks are left as words. The format keeps no
    outcome label, so every dialogue counts as accepted."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{path} not found: pass INSPIRED's train_unicrs.jsonl")
    ids, dialogues, bad = _TitleIds(catalog), [], 0
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if not line.strip():
                continue
            try:
                turns = json.loads(line)
                messages = [
                    Message(
                        "seeker" if str(t["role"]).upper() == "SEEKER" else "recommender",
                        _with_mentions(str(t.get("text") or ""), [str(m) for m in t.get("movie") or []], ids),
                    )
                    for t in turns
                ]
                dialogues.append(Dialogue(f"inspired-train-{n}", messages))
            except (ValueError, KeyError, TypeError, AttributeError):
                bad += 1
    return DialogueFile(dialogues, bad, str(path))


def read_dialogues(path: Path, catalog: Catalog) -> DialogueFile:
    """Any of the dialogue files by shape: INSPIRED ``.tsv``, UniCRS JSON lists, or ReDial records."""
    path = Path(path)
    if path.suffix == ".tsv":
        return read_inspired(path, catalog)
    if not path.is_file():
        raise DataNotFoundError(f"{path} not found: pass a ReDial or INSPIRED dialogue file")
    with open(path, encoding="utf-8") as fh:
        first = next((line for line in fh if line.strip()), "")
    return read_inspired_unicrs(path, catalog) if first.lstrip().startswith("[") else read_redial(path)


def _titles(cell: str) -> list[str]:
    cell = cell.strip()
    if not cell:
        return []
    if cell.startswith("["):
        try:
            return [str(t) for t in ast.literal_eval(cell)]
        except (ValueError, SyntaxError):
            pass
    return [t.strip() for t in cell.split(";") if t.strip()] if ";" in cell else [cell]
