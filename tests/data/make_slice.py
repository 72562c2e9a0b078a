"""The test slice: a small catalog written in the MovieLens-100K format at test time, so that every clone runs
the conversation scripts end to end (real MiniLM, real FAISS, EASE) without the team data folder.

No file in the dataset's format is committed. What is committed, and where it comes from:

* ``slice_films.tsv``: 398 films chosen from ML-100K (the most-rated films of every genre and decade, and every
  film a conversation script names): the facts that identify a film (MovieLens id, title, year, genres) and how
  many ratings it has there (an aggregate, used as its popularity). Descriptions come from the package's own
  ``chat_rec/datasets/data/ml100k_descriptions.tsv``.
* the users and ratings are **synthetic**, made here: seeded users with two favourite genres and a favourite era
  rate films drawn by popularity; the rating follows the taste plus noise. No MovieLens rating or user is used.

``write_slice(folder)`` writes ``u.item``, ``u.data``, ``u.user`` (deterministic, seed 0; well under a second).
``python tests/data/make_slice.py select data/ml-100k`` chooses the films again from the official files.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np

from chat_rec.datasets.movielens import ML100K_GENRES

GENRES = list(ML100K_GENRES)
#: films the conversation scripts name, or whose ids they check (Chasing Amy is listed twice in ML-100K)
NAMED = {1, 64, 100, 183, 176, 313, 246, 268, 679, 266, 680, 50, 172, 181, 195, 96, 127, 56, 174, 204, 210, 82, 89}
PER_CELL, OLD_PER_CELL, TOP, USERS, SEED = 6, 2, 260, 300, 0
FILMS = Path(__file__).resolve().parent / "slice_films.tsv"


def select(source: Path) -> None:
    """Choose the films from the official ``u.item`` / ``u.data`` and write ``slice_films.tsv``."""
    rows = [line.split("|") for line in (source / "u.item").read_text(encoding="latin-1").splitlines() if line]
    counts = Counter(int(line.split("\t")[1]) for line in (source / "u.data").read_text().splitlines() if line)
    films = {}
    for r in rows:
        year = int(r[2][-4:]) if r[2][-4:].isdigit() else None
        genres = [g for g, flag in zip(GENRES, r[5:24]) if flag == "1"]
        if year and r[1] != "unknown":
            films[int(r[0])] = (r[1], year, genres)
    chosen = set(NAMED) | set(sorted(films, key=lambda i: -counts[i])[:TOP])
    for g in GENRES[1:]:
        for decade in range(1920, 2000, 10):
            cell = [i for i, f in films.items() if g in f[2] and decade <= f[1] < decade + 10]
            chosen |= set(sorted(cell, key=lambda i: -counts[i])[: PER_CELL if decade >= 1950 else OLD_PER_CELL])
    lines = ["movie_id\ttitle\tyear\tgenres\tratings"]
    lines += [f"{i}\t{films[i][0]}\t{films[i][1]}\t{'|'.join(films[i][2])}\t{counts[i]}" for i in sorted(chosen)]
    FILMS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(chosen)} films -> {FILMS}")


def write_slice(out: Path) -> Path:
    """``u.item``, ``u.data`` (synthetic ratings) and ``u.user`` (synthetic users) in ``out``."""
    rng = np.random.default_rng(SEED)
    rows = [line.split("\t") for line in FILMS.read_text(encoding="utf-8").splitlines()[1:] if line]
    films = {int(r[0]): (r[1], int(r[2]), [g for g in r[3].split("|") if g], int(r[4])) for r in rows}
    ids = sorted(films)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "u.item", "w", encoding="latin-1", newline="\n") as fh:
        for i in ids:
            title, year, genres, _ = films[i]
            flags = ["1" if g in genres else "0" for g in GENRES]
            fh.write("|".join([str(i), title, f"01-Jan-{year}", "", "", *flags]) + "\n")
    # synthetic users: two favourite genres (by how common they are), a favourite era, a rating habit
    genre_freq = Counter(g for i in ids for g in films[i][2])
    names = sorted(genre_freq)
    p_genre = np.array([genre_freq[g] for g in names], float) ** 0.7
    pop = np.array([films[i][3] for i in ids], float) ** 0.6
    lines, users = [], []
    for u in range(1, USERS + 1):
        fav = set(rng.choice(names, size=2, replace=False, p=p_genre / p_genre.sum()).tolist())
        era = rng.normal(1988, 12)
        match = np.array([len(fav & set(films[i][2])) for i in ids], float)
        closeness = np.exp(-np.abs(np.array([films[i][1] for i in ids]) - era) / 15)
        p = pop * (1 + 8 * match) * (0.2 + closeness)
        n = int(rng.integers(30, 60))
        seen = rng.choice(len(ids), size=n, replace=False, p=p / p.sum())
        bias = rng.normal(0, 0.4)
        t = 874_000_000 + int(rng.integers(0, 10_000_000))
        for j in seen:
            score = 3.0 + bias + 0.9 * match[j] + 0.8 * (closeness[j] - 0.5) + rng.normal(0, 0.8)
            t += int(rng.integers(30, 5000))
            lines.append(f"{u}\t{ids[j]}\t{int(np.clip(round(score), 1, 5))}\t{t}")
        age, sex, zipcode = int(rng.integers(16, 70)), "MF"[int(rng.integers(0, 2))], int(rng.integers(10000, 99999))
        users.append(f"{u}|{age}|{sex}|other|{zipcode}")
    (out / "u.data").write_text("\n".join(lines) + "\n")
    (out / "u.user").write_text("\n".join(users) + "\n")
    return out


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "select":
        select(Path(sys.argv[2]))
    else:
        print(write_slice(Path(sys.argv[1] if len(sys.argv) > 1 else "slice")))
