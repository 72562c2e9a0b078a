"""The ReDial movie catalog as chat-rec ships it (``CHATREC_CATALOG=redial``): a modern catalog (films up to
2018) a fresh install serves from the repository alone.

Package data in ``data/redial/``, rebuilt by ``chat-rec data pack-redial`` (``make redial``) from the team data:

* ``movies.tsv``: ``movie_id``, ``title``, ``mentions``: the 6,924 films of ReDial's
  ``movies_with_mentions.csv`` (Li et al. 2018, CC BY 4.0);
* ``facts.tsv``: for the most-mentioned films, facts and a short description written for chat-rec from general
  knowledge (no copied plot text; the project's licence): ``year``, ``genres`` (MovieLens labels),
  ``director``, ``cast``, ``runtime``, ``age_rating``, ``keywords``, ``premise``, ``confidence``. Attached by id
  and title, like the MovieLens-100K ones;
* ``dialogues.jsonl.gz``: the ReDial training dialogues the chat's dialogue signals and its CF are learned from
  (``train_recovered``, CC BY 4.0), reduced to what the signals read: each dialogue's messages (role, text with
  ``@id`` mentions) and the seeker's liked answers. The validation dialogues are never in it, so ``eval redial
  --ranker packaged`` scores exactly what the chat loads.

The fitted ranker for this catalog is ``recommender/ranker-redial.json`` (``chat-rec train ranker --catalog
redial``).
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from chat_rec.catalog import Catalog, Item
from chat_rec.datasets.dialogues import _YEAR, Dialogue, Message, _clean_title, _csv_rows
from chat_rec.datasets.movielens import ML100K_GENRES
from chat_rec.errors import DataFormatError

NAME = "redial"
MOVIES, FACTS, CORPUS = "movies.tsv", "facts.tsv", "dialogues.jsonl.gz"
FACT_COLUMNS = (
    "movie_id",
    "title",
    "year",
    "genres",
    "director",
    "cast",
    "runtime",
    "age_rating",
    "keywords",
    "premise",
    "confidence",
)
#: MovieLens-100K's genre labels: the packaged facts use these, so the reader's genre words work unchanged.
GENRES = tuple(g for g in ML100K_GENRES if g != "unknown")
SOURCE = "ReDial's films (CC BY 4.0); facts and descriptions written for chat-rec (package data)"


def pack_dir() -> Path:
    return Path(str(resources.files("chat_rec.datasets").joinpath("data", NAME)))


def _tsv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def _names(value: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in (value or "").split("|") if n.strip())


def _int(value: str) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


def load_pack(folder: Path | None = None) -> Catalog:
    """The packaged ReDial catalog: every film's title and year, and for the described ones their genres,
    description (premise and keywords), people, running time and age rating."""
    folder = Path(folder or pack_dir())
    if not (folder / MOVIES).is_file():
        raise DataFormatError(
            f"{folder / MOVIES} is missing: reinstall chat-rec, or rebuild the pack with `make redial`"
        )
    facts = {row["movie_id"]: row for row in _tsv(folder / FACTS)} if (folder / FACTS).is_file() else {}
    items = []
    for row in _tsv(folder / MOVIES):
        title = row["title"]
        year = _YEAR.search(title)
        f = facts.get(row["movie_id"])
        if f is None or f["title"] != title or f.get("confidence") == "none":
            items.append(Item(int(row["movie_id"]), title, int(year.group(1)) if year else None))
            continue
        premise, keywords = f["premise"].strip(), f["keywords"].strip()
        description = f"{premise} Keywords: {keywords}." if keywords else premise
        items.append(
            Item(
                int(row["movie_id"]),
                title,
                _int(f["year"]) or (int(year.group(1)) if year else None),  # ReDial's list has some years wrong
                tuple(g for g in _names(f["genres"]) if g in GENRES),
                description,
                _names(f["director"]),
                _names(f["cast"])[:5],
                _int(f["runtime"]),
                f["age_rating"].strip(),
            )
        )
    catalog = Catalog(NAME, items)
    described = sum(bool(it.description) for it in items)
    catalog.text_source = f"{SOURCE}: {described:,} of {len(items):,} films described"
    return catalog


def pack_dialogues(folder: Path | None = None) -> list[Dialogue]:
    """The packaged training dialogues (``dialogues.jsonl.gz``)."""
    path = Path(folder or pack_dir()) / CORPUS
    if not path.is_file():
        raise DataFormatError(f"{path} is missing: reinstall chat-rec, or rebuild the pack with `make redial`")
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            out.append(
                Dialogue(
                    d["id"],
                    [Message("seeker" if role == "s" else "recommender", text) for role, text in d["m"]],
                    {k: {"liked": v} for k, v in (d.get("liked") or {}).items()},
                )
            )
    return out


def write_pack(
    movies_csv: Path, dialogues: Sequence[Dialogue], facts_files: Sequence[Path], folder: Path | None = None
) -> dict:
    """Write the pack from the team's files: ``movies_with_mentions.csv``, the training dialogues (ReDial
    records only: the corpus is redistributed) and the written facts (TSV files of ``FACT_COLUMNS``)."""
    folder = Path(folder or pack_dir())
    folder.mkdir(parents=True, exist_ok=True)
    rows = _csv_rows(movies_csv)
    titles = {}
    with open(folder / MOVIES, "w", encoding="utf-8", newline="") as fh:
        fh.write("movie_id\ttitle\tmentions\n")
        for r in rows:
            title = _clean_title(r["movieName"]).replace("\t", " ")
            titles[r["movieId"]] = title
            fh.write(f"{r['movieId']}\t{title}\t{r.get('nbMentions', '')}\n")
    facts, problems = {}, []
    for path in facts_files:
        for n, f in enumerate(_tsv(Path(path)), 2):
            if set(FACT_COLUMNS) - set(f):
                raise DataFormatError(f"{path}: expected columns {', '.join(FACT_COLUMNS)}")
            if titles.get(f["movie_id"]) != f["title"]:
                problems.append(f"{path}:{n}: id {f['movie_id']} is not titled {f['title']!r} in ReDial's list")
                continue
            bad = [g for g in _names(f["genres"]) if g not in GENRES]
            if bad:
                problems.append(f"{path}:{n}: unknown genres {bad}")
            facts[f["movie_id"]] = f
    with open(folder / FACTS, "w", encoding="utf-8", newline="") as fh:
        fh.write("\t".join(FACT_COLUMNS) + "\n")
        for mid in titles:
            if mid in facts:
                fh.write("\t".join((facts[mid].get(c) or "").replace("\t", " ") for c in FACT_COLUMNS) + "\n")
    with gzip.open(folder / CORPUS, "wt", encoding="utf-8", compresslevel=9) as fh:
        for d in dialogues:
            liked = {k: v.get("liked") for k, v in d.questions.items() if v.get("liked") in (0, 1)}
            record = {"id": d.id, "m": [["s" if m.role == "seeker" else "r", m.text] for m in d.messages]}
            if liked:
                record["liked"] = liked
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return {"films": len(titles), "described": len(facts), "dialogues": len(dialogues), "problems": problems}
