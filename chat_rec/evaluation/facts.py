"""The packaged facts table (``chat_rec.datasets.facts``) checked against the team's IMDb details file.

A details record *covers* a film when it names a director (not "nan") and its own year is within one of the
year in the film's MovieLens title: the scrape matched some titles to another title (a TV episode, a remake,
a Siskel & Ebert show), whose crew says nothing about the film. Directors *agree* when one of ours and one of
theirs are the same person: the same words in any order ("Chen Kaige" / "Kaige Chen"), the same letters
without spaces or hyphens ("Marcus De Leon" / "Marcus DeLeon"), or the same surname and first initial. Both
counts are reported: over the films the file covers, and over every record with a director."""

from __future__ import annotations

import csv
import re
import unicodedata
from pathlib import Path

from chat_rec.datasets.facts import packaged_facts


def _tokens(name: str) -> list[str]:
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower().replace("-", " ")
    return re.sub(r"[^a-z ]", "", name).split()


def same_person(a: str, b: str) -> bool:
    ta, tb = _tokens(a), _tokens(b)
    if not ta or not tb:
        return False
    return (
        sorted(ta) == sorted(tb)
        or "".join(sorted(ta)) == "".join(sorted(tb))
        or "".join(ta) == "".join(tb)
        or (ta[-1] == tb[-1] and ta[0][0] == tb[0][0])
    )


def _names(value: str) -> list[str]:
    import ast

    try:
        parsed = ast.literal_eval(value) if value else []
    except (ValueError, SyntaxError):
        parsed = [value]
    return [str(n) for n in (parsed if isinstance(parsed, (list, tuple)) else [parsed]) if str(n) and str(n) != "nan"]


def check_facts(details: Path) -> dict:
    """Directors of the packaged table against the details file; every disagreement listed."""
    facts = packaged_facts()
    covered = agree = with_director = agree_any = 0
    disagreements = []
    with open(details, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            item_id = int(row["movie_id"])
            theirs = _names(row.get("director") or "")
            ours = facts.get(item_id)
            if not theirs or ours is None:
                continue
            ok = any(same_person(a, b) for a in ours.director for b in theirs)
            with_director += 1
            agree_any += ok
            m = re.search(r"\((\d{4})\)\s*$", ours.title.strip())
            try:
                own = int(float(row.get("year") or ""))
            except ValueError:
                own = None
            if m is None or own is None or abs(own - int(m.group(1))) > 1:
                continue  # a record of another title
            covered += 1
            agree += ok
            if not ok:
                disagreements.append(
                    {
                        "id": item_id,
                        "title": ours.title,
                        "ours": list(ours.director),
                        "details": theirs,
                        "confidence": ours.confidence,
                    }
                )
    return {
        "details": str(details),
        "films_in_table": len(facts),
        "with_director": sum(bool(f.director) for f in facts.values()),
        "with_cast": sum(bool(f.cast) for f in facts.values()),
        "with_runtime": sum(f.runtime is not None for f in facts.values()),
        "with_age_rating": sum(bool(f.age_rating) for f in facts.values()),
        "covered": covered,
        "agree": agree,
        "agreement": round(agree / covered, 4) if covered else 0.0,
        "records_with_director": with_director,
        "agree_any_record": agree_any,
        "agreement_any_record": round(agree_any / with_director, 4) if with_director else 0.0,
        "disagreements": disagreements,
    }


def _key(title: str) -> str:
    from chat_rec.catalog import display_title

    return " ".join(display_title(title).lower().split())


def check_redial_facts(details: Path, ml_movies: Path | None = None, merged: Path | None = None) -> dict:
    """The packaged ReDial facts (``datasets.redial_pack``) against the team data where both exist: directors
    against the IMDb details of the MovieLens-100K films of the same title and year (covered as for
    ``check_facts``), and genres against MovieLens-latest's genres of the films ``movies_merged.csv`` maps (a
    film's labels overlap). The plot file has no people in it, so it checks nothing here."""
    from chat_rec.datasets.dialogues import ml_id_map, ml_latest_rows
    from chat_rec.datasets.redial_pack import load_pack

    catalog = load_pack()
    ours = {_key(it.title): it for it in catalog.items if it.director}
    covered = agree = 0
    disagreements = []
    with open(details, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            item = ours.get(_key(row.get("movie_title") or ""))
            theirs = _names(row.get("director") or "")
            if item is None or not theirs:
                continue
            try:
                own = int(float(row.get("year") or ""))
            except ValueError:
                continue
            if item.year is None or abs(own - item.year) > 1:
                continue
            covered += 1
            ok = any(same_person(a, b) for a in item.director for b in theirs)
            agree += ok
            if not ok:
                disagreements.append(
                    {"id": item.id, "title": item.title, "ours": list(item.director), "details": theirs}
                )
    genres = {"compared": 0, "overlap": 0}
    if ml_movies is not None and merged is not None:
        to_ml = ml_id_map(merged)
        ml = {
            int(r["movieId"]): {"Children's" if g == "Children" else g for g in r["genres"].split("|")}
            for r in ml_latest_rows(ml_movies, ("movieId", "title", "genres"))
        }
        for it in catalog.items:
            theirs = ml.get(to_ml.get(it.id, -1))
            if it.genres and theirs and theirs != {"(no genres listed)"}:
                genres["compared"] += 1
                genres["overlap"] += bool(set(it.genres) & theirs)
        genres["agreement"] = round(genres["overlap"] / genres["compared"], 4) if genres["compared"] else 0.0
    described = [it for it in catalog.items if it.description]
    return {
        "catalog": "redial (packaged)",
        "films": len(catalog),
        "described": len(described),
        "with_director": sum(bool(it.director) for it in catalog.items),
        "with_cast": sum(bool(it.cast) for it in catalog.items),
        "with_genres": sum(bool(it.genres) for it in catalog.items),
        "directors_covered": covered,
        "directors_agree": agree,
        "director_agreement": round(agree / covered, 4) if covered else 0.0,
        "genres": genres,
        "disagreements": disagreements,
    }
