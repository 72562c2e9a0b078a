"""Make ``tests/data/ml-slice``: a small catalog in the MovieLens-100K format, so that every clone runs the
conversation scripts end to end (real MiniLM, real FAISS, EASE) without the team data folder.

What is in it, and where it comes from:

* ``u.item``: about 500 of the ML-100K films, chosen from the official ``u.item`` / ``u.data`` (the most-rated
  films of every genre and decade, and every film a conversation script names). Only the facts that
  identify a film are kept: id, title, year and genres (release date reduced to the year, no IMDb URL).
  Their descriptions come from the package's own ``chat_rec/datasets/data/ml100k_descriptions.tsv``.
* ``u.data``: **synthetic** ratings, not MovieLens's: seeded users with two favourite genres and a favourite
  era rate films drawn by popularity; the rating follows the taste plus noise.
* ``u.user``: synthetic profiles (age, gender, occupation, zip), one per synthetic user.

Run it with the official files (``chat-rec data fetch movielens-100k`` puts them in ``data/ml-100k``):
``python tests/data/make_slice.py data/ml-100k``. The output is deterministic (seed 0).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np

GENRES = [
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
]
#: films the conversation scripts name, or whose ids they check (Chasing Amy is listed twice in ML-100K)
NAMED = {1, 64, 100, 183, 176, 313, 246, 268, 679, 266, 680, 50, 172, 181, 195, 96, 127, 56, 174, 204, 210, 82, 89}
PER_CELL, OLD_PER_CELL, TOP, USERS, SEED = 6, 2, 260, 300, 0
OUT = Path(__file__).resolve().parent / "ml-slice"


def main(source: Path) -> None:
    rng = np.random.default_rng(SEED)
    rows = [line.split("|") for line in (source / "u.item").read_text(encoding="latin-1").splitlines() if line]
    counts = Counter(int(line.split("\t")[1]) for line in (source / "u.data").read_text().splitlines() if line)
    films = {}
    for r in rows:
        year = int(r[2][-4:]) if r[2][-4:].isdigit() else None
        genres = [g for g, flag in zip(GENRES, r[5:24]) if flag == "1"]
        if year and r[1] != "unknown":
            films[int(r[0])] = (r[1], year, genres, r[5:24])
    chosen = set(NAMED) | set(sorted(films, key=lambda i: -counts[i])[:TOP])
    for g in GENRES[1:]:
        for decade in range(1920, 2000, 10):
            cell = [i for i, f in films.items() if g in f[2] and decade <= f[1] < decade + 10]
            chosen |= set(sorted(cell, key=lambda i: -counts[i])[: PER_CELL if decade >= 1950 else OLD_PER_CELL])
    ids = sorted(chosen)
    OUT.mkdir(exist_ok=True)
    with open(OUT / "u.item", "w", encoding="latin-1", newline="\n") as fh:
        for i in ids:
            title, year, _, flags = films[i]
            fh.write("|".join([str(i), title, f"01-Jan-{year}", "", ""] + flags) + "\n")
    # synthetic users: two favourite genres (by how common they are), a favourite era, a rating habit
    genre_freq = Counter(g for i in ids for g in films[i][2])
    names = sorted(genre_freq)
    p_genre = np.array([genre_freq[g] for g in names], float) ** 0.7
    pop = np.array([counts[i] for i in ids], float) ** 0.6
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
        users.append(
            f"{u}|{int(rng.integers(16, 70))}|{'MF'[int(rng.integers(0, 2))]}|other|{int(rng.integers(10000, 99999))}"
        )
    (OUT / "u.data").write_text("\n".join(lines) + "\n")
    (OUT / "u.user").write_text("\n".join(users) + "\n")
    print(f"{len(ids)} films, {len(users)} users, {len(lines)} ratings -> {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "data/ml-100k"))
