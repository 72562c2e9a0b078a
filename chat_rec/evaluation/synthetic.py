"""A synthetic catalog of any size, for the scale benchmark (``chat-rec bench scale``).

Everything is drawn from a seeded generator over a fixed vocabulary, so a size and a seed give the same
catalog, interactions and vectors on any machine:

* **Items.** Each item has a theme (one of ``THEMES``, drawn by a Zipf law over themes), a title (an
  adjective, a noun of its theme and a made-up name, e.g. "The Silent Harbor of Velkaro"), a year
  (1930-2025), one to three genres from its theme's genres, and a one-sentence description of six words
  of its theme and two of another.
* **Popularity.** Item ``i`` of a random permutation has weight ``1 / (rank + 10) ** POPULARITY_EXPONENT``
  (a Zipf-like law with a flattened head, as in rating data: a few hundred titles take a large share).
* **Interactions.** ``users = n_items // 4`` users (at least 2,000); each has one or two favourite themes
  and a geometric number of events (mean ``EVENTS_PER_USER``); 70 % of the events are drawn by
  popularity within a favourite theme, 30 % by popularity over the whole catalog. Ratings 1-5, higher
  within the favourite themes.
* **Vectors (the cheap method).** Embedding a million texts with MiniLM takes about 9 hours on two cores.
  Instead every word of the vocabulary (and every genre) is embedded once, for real, with the served
  encoder; an item's vector is the normalised mean of the vectors of its description's and genres'
  words plus Gaussian noise of ``NOISE`` per dimension (a made-up name carries no meaning), so items of
  one theme form a cloud of near neighbours, as real item embeddings do. A subset of
  ``real_subset`` items is embedded for real with the encoder and replaces the cheap vectors of those
  items; the benchmark reports how well the cheap vectors agree with the real ones on that subset.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from chat_rec.catalog import Catalog, Interactions, Item

POPULARITY_EXPONENT = 0.9
EVENTS_PER_USER = 20
NOISE = 0.045  # per dimension, on vectors of norm 1 (MiniLM: 384 dimensions)
SEED = 7

#: theme -> (genres, nouns, adjectives); the words an item's title and description are made of
THEMES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "space": (
        ("Sci-Fi", "Adventure", "Thriller"),
        ("astronaut", "starship", "galaxy", "planet", "orbit", "colony", "comet", "station", "alien", "moon"),
        ("distant", "cosmic", "stranded", "silent", "frozen"),
    ),
    "haunting": (
        ("Horror", "Thriller", "Mystery"),
        ("ghost", "mansion", "curse", "spirit", "cellar", "ritual", "graveyard", "doll", "demon", "attic"),
        ("haunted", "cursed", "creeping", "eerie", "dark"),
    ),
    "slasher": (
        ("Horror", "Thriller"),
        ("killer", "mask", "camp", "scream", "knife", "teenagers", "cabin", "night", "victim", "chase"),
        ("bloody", "masked", "brutal", "terrifying", "lonely"),
    ),
    "heist": (
        ("Crime", "Thriller", "Action"),
        ("thief", "vault", "casino", "robbery", "crew", "diamond", "getaway", "safe", "plan", "bank"),
        ("daring", "clever", "slick", "risky", "final"),
    ),
    "detective": (
        ("Crime", "Mystery", "Film-Noir"),
        ("detective", "murder", "clue", "suspect", "alibi", "inspector", "witness", "case", "corpse", "secret"),
        ("hardboiled", "rainy", "shadowy", "cold", "twisted"),
    ),
    "war": (
        ("War", "Drama", "Action"),
        ("soldier", "battalion", "trench", "general", "battle", "front", "sniper", "platoon", "invasion", "bunker"),
        ("wounded", "brave", "besieged", "bitter", "heroic"),
    ),
    "western": (
        ("Western", "Action", "Adventure"),
        ("cowboy", "sheriff", "outlaw", "ranch", "saloon", "frontier", "gunslinger", "horse", "desert", "bounty"),
        ("dusty", "lawless", "wild", "lone", "rugged"),
    ),
    "romance": (
        ("Romance", "Drama", "Comedy"),
        ("lovers", "wedding", "letter", "summer", "kiss", "bride", "heart", "promise", "dance", "affair"),
        ("tender", "bittersweet", "forbidden", "charming", "passionate"),
    ),
    "family": (
        ("Children's", "Comedy", "Animation"),
        ("puppy", "kids", "holiday", "treehouse", "grandma", "school", "adventure", "toy", "cat", "birthday"),
        ("funny", "cheerful", "magical", "silly", "warm"),
    ),
    "fantasy": (
        ("Fantasy", "Adventure", "Children's"),
        ("dragon", "wizard", "kingdom", "sword", "quest", "elf", "castle", "prophecy", "spell", "knight"),
        ("enchanted", "ancient", "mythical", "legendary", "golden"),
    ),
    "music": (
        ("Musical", "Drama", "Romance"),
        ("singer", "band", "concert", "piano", "song", "stage", "dancer", "tour", "record", "melody"),
        ("rhythmic", "soulful", "aspiring", "glittering", "joyful"),
    ),
    "sports": (
        ("Drama", "Comedy"),
        ("coach", "team", "championship", "boxer", "stadium", "match", "rookie", "trophy", "league", "training"),
        ("underdog", "winning", "tough", "inspiring", "final"),
    ),
    "nature": (
        ("Documentary", "Adventure"),
        ("ocean", "wildlife", "forest", "whales", "mountain", "river", "jungle", "birds", "glacier", "reef"),
        ("wild", "breathtaking", "endangered", "vast", "remote"),
    ),
    "politics": (
        ("Drama", "Thriller", "Documentary"),
        (
            "senator",
            "election",
            "scandal",
            "president",
            "journalist",
            "campaign",
            "conspiracy",
            "leak",
            "congress",
            "spy",
        ),
        ("corrupt", "powerful", "secret", "ambitious", "fearless"),
    ),
    "courtroom": (
        ("Drama", "Crime"),
        ("lawyer", "trial", "jury", "judge", "verdict", "testimony", "defendant", "appeal", "prosecutor", "evidence"),
        ("innocent", "guilty", "tense", "principled", "legal"),
    ),
    "zombie": (
        ("Horror", "Action", "Sci-Fi"),
        (
            "zombie",
            "outbreak",
            "virus",
            "survivors",
            "mall",
            "horde",
            "infection",
            "apocalypse",
            "shelter",
            "quarantine",
        ),
        ("undead", "infected", "desperate", "gory", "relentless"),
    ),
    "comedy_office": (
        ("Comedy",),
        ("office", "boss", "intern", "meeting", "promotion", "coworker", "prank", "deadline", "party", "printer"),
        ("awkward", "hilarious", "clumsy", "absurd", "witty"),
    ),
    "road": (
        ("Comedy", "Drama", "Adventure"),
        ("road", "car", "highway", "motel", "brothers", "trip", "map", "diner", "hitchhiker", "journey"),
        ("restless", "freewheeling", "long", "sunny", "reckless"),
    ),
    "cyber": (
        ("Sci-Fi", "Thriller", "Action"),
        ("hacker", "robot", "android", "network", "implant", "corporation", "virtual", "code", "drone", "machine"),
        ("neon", "dystopian", "artificial", "digital", "rogue"),
    ),
    "period": (
        ("Drama", "Romance", "War"),
        ("queen", "empire", "duke", "palace", "servant", "revolution", "estate", "countess", "throne", "ballroom"),
        ("royal", "victorian", "elegant", "scandalous", "grand"),
    ),
}
NAME_SYLLABLES = (
    "ka",
    "vel",
    "ro",
    "mi",
    "tan",
    "dor",
    "li",
    "sa",
    "qu",
    "en",
    "bar",
    "to",
    "zi",
    "mor",
    "ne",
    "ash",
    "fi",
    "lo",
    "ur",
    "pa",
    "gen",
    "thal",
    "wi",
    "su",
)
FILLER = ("story", "tale", "life", "world", "night", "day", "city", "town", "family", "friends")
TITLE_NOUNS = (
    "Harbor",
    "Echo",
    "Road",
    "Crown",
    "Signal",
    "Garden",
    "Shadow",
    "River",
    "Storm",
    "Letter",
    "Mirror",
    "Winter",
    "Engine",
    "Island",
    "Promise",
    "Tower",
    "Border",
    "Lantern",
    "Circle",
    "Frontier",
)
TITLE_ADJECTIVES = (
    "Silent",
    "Last",
    "Broken",
    "Golden",
    "Hidden",
    "Long",
    "Red",
    "Lost",
    "Wild",
    "Quiet",
    "Burning",
    "Second",
    "Iron",
    "Paper",
    "Velvet",
    "Hollow",
    "Bright",
    "Cold",
    "Distant",
    "Secret",
)


def vocabulary() -> list[str]:
    """Every word an item's vector is made of (theme nouns and adjectives, fillers, genres), sorted."""
    words = set(FILLER)
    for genres, nouns, adjectives in THEMES.values():
        words |= set(nouns) | set(adjectives) | set(genres)
    return sorted(words)


def _made_up_name(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(names, the three syllable indices of each)."""
    syl = np.asarray(NAME_SYLLABLES)
    idx = rng.integers(0, len(syl), (n, 3))
    parts = [syl[idx[:, j]] for j in range(3)]
    return np.char.capitalize(np.char.add(np.char.add(parts[0], parts[1]), parts[2])), idx


def synthetic_catalog(n_items: int, seed: int = SEED) -> tuple[Catalog, np.ndarray, list[list[str]]]:
    """(catalog, theme index per row, the words of each item's vector)."""
    rng = np.random.default_rng(seed)
    themes = list(THEMES)
    theme_weight = 1.0 / np.arange(1, len(themes) + 1) ** 0.6
    theme = rng.choice(len(themes), size=n_items, p=theme_weight / theme_weight.sum())
    other = (theme + rng.integers(1, len(themes), n_items)) % len(themes)
    years = rng.integers(1930, 2026, n_items)
    names, syllables = _made_up_name(rng, n_items)
    adjective = rng.integers(0, len(TITLE_ADJECTIVES), n_items)
    title_noun = rng.integers(0, len(TITLE_NOUNS), n_items)
    n_genres = rng.integers(1, 4, n_items)
    picks = rng.integers(0, 10, (n_items, 8))
    fill = rng.integers(0, len(FILLER), n_items)
    items, words = [], []
    seen: set[str] = set()
    for i in range(n_items):
        genres_t, nouns, adjectives = THEMES[themes[theme[i]]]
        _, nouns_o, adjectives_o = THEMES[themes[other[i]]]
        genres = tuple(dict.fromkeys(genres_t[j % len(genres_t)] for j in range(n_genres[i])))
        p = picks[i]
        desc_words = [
            adjectives[p[0] % 5],
            nouns[p[1]],
            nouns[p[2]],
            adjectives[p[3] % 5],
            nouns[p[4]],
            nouns[p[5]],
            adjectives_o[p[6] % 5],
            nouns_o[p[7]],
        ]
        description = (
            f"A {desc_words[0]} {FILLER[fill[i]]} of a {desc_words[1]} and a {desc_words[2]}: {desc_words[3]} "
            f"{desc_words[4]}, {desc_words[5]} and a {desc_words[6]} {desc_words[7]}."
        )
        title = f"The {TITLE_ADJECTIVES[adjective[i]]} {TITLE_NOUNS[title_noun[i]]} of {names[i]}"
        if title in seen:  # titles are unique, so no two rows read as one film
            title = f"{title} {i}"
        seen.add(title)
        items.append(Item(i + 1, title, int(years[i]), genres, description))
        words.append(
            desc_words
            + [FILLER[fill[i]], *genres, f"t:{TITLE_ADJECTIVES[adjective[i]]}", f"t:{TITLE_NOUNS[title_noun[i]]}"]
            + [f"s{j}:{NAME_SYLLABLES[x]}" for j, x in enumerate(syllables[i])]
            + [f"y:{years[i] // 10}"]
        )
    return Catalog(f"synthetic-{n_items}", items), theme, words


def popularity_weights(n_items: int, seed: int = SEED) -> np.ndarray:
    """Per row, the probability of being drawn: ``1 / (rank + 10) ** POPULARITY_EXPONENT`` over a random
    order of the rows."""
    rng = np.random.default_rng(seed + 1)
    rank = rng.permutation(n_items)
    w = 1.0 / (rank + 10.0) ** POPULARITY_EXPONENT
    return w / w.sum()


def synthetic_interactions(catalog: Catalog, theme: np.ndarray, seed: int = SEED) -> Interactions:
    n_items = len(catalog)
    rng = np.random.default_rng(seed + 2)
    pop = popularity_weights(n_items, seed)
    n_users = max(2_000, n_items // 4)
    n_events = np.minimum(rng.geometric(1.0 / EVENTS_PER_USER, n_users), 300)
    users = np.repeat(np.arange(n_users), n_events)
    n = len(users)
    n_themes = int(theme.max()) + 1
    favourite = rng.integers(0, n_themes, (n_users, 2))
    which = favourite[users, rng.integers(0, 2, n)]
    in_theme = rng.random(n) < 0.7
    # popularity within each theme: cumulative weights over the theme's rows, searched by a uniform draw
    order = np.argsort(theme, kind="stable")
    starts = np.searchsorted(theme[order], np.arange(n_themes + 1))
    cum = np.zeros(n_items)
    for t in range(n_themes):
        rows = order[starts[t] : starts[t + 1]]
        if len(rows):
            cum[starts[t] : starts[t + 1]] = np.cumsum(pop[rows]) / pop[rows].sum()
    items = np.empty(n, dtype=np.int64)
    t_idx = np.flatnonzero(in_theme)
    t = which[t_idx]
    u = rng.random(len(t_idx))
    pos = np.empty(len(t_idx), dtype=np.int64)
    for k in range(n_themes):
        sel = np.flatnonzero(t == k)
        lo, hi = starts[k], starts[k + 1]
        if hi > lo:
            pos[sel] = lo + np.minimum(np.searchsorted(cum[lo:hi], u[sel]), hi - lo - 1)
        else:
            pos[sel] = rng.integers(0, n_items, len(sel))
    items[t_idx] = order[pos]
    g_idx = np.flatnonzero(~in_theme)
    items[g_idx] = np.minimum(np.searchsorted(np.cumsum(pop), rng.random(len(g_idx))), n_items - 1)
    keep = np.unique(users * np.int64(n_items) + items, return_index=True)[1]  # one event per (user, item)
    users, items, in_theme = users[keep], items[keep], in_theme[keep]
    ratings = np.clip(np.rint(rng.normal(np.where(in_theme, 4.0, 3.0), 0.9)), 1, 5).astype(np.float32)
    return Interactions(
        catalog,
        [f"u{x}" for x in range(n_users)],
        users.astype(np.int64),
        items.astype(np.int64),
        ratings,
        rng.integers(8e8, 1.7e9, len(users)).astype(np.int64),
    )


def cheap_vectors(words: list[list[str]], word_vectors: dict[str, np.ndarray], seed: int = SEED) -> np.ndarray:
    """The normalised mean of each item's word vectors plus Gaussian noise (``NOISE`` per dimension)."""
    vocab = sorted(word_vectors)
    col = {w: j for j, w in enumerate(vocab)}
    W = np.stack([word_vectors[w] for w in vocab]).astype(np.float32)
    indptr = np.zeros(len(words) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(ws) for ws in words])
    indices = np.fromiter((col[w] for ws in words for w in ws), dtype=np.int64, count=int(indptr[-1]))
    counts = sparse.csr_matrix(
        (np.ones(len(indices), dtype=np.float32), indices, indptr), shape=(len(words), len(vocab))
    )
    rng = np.random.default_rng(seed + 3)
    out = np.empty((len(words), W.shape[1]), dtype=np.float32)
    step = 100_000
    for a in range(0, len(words), step):
        block = np.asarray(counts[a : a + step] @ W)
        block /= np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-9)
        block += rng.normal(0.0, NOISE, block.shape).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[a : a + step] = block
    return out


def synthetic_requests(catalog: Catalog, theme: np.ndarray, n: int, seed: int = SEED) -> list[str]:
    """Chat messages a person might send to this catalog: a theme's words, a genre, an era, a title."""
    rng = np.random.default_rng(seed + 4)
    themes = list(THEMES)
    pop = popularity_weights(len(catalog), seed)
    known = np.argsort(-pop)[:200]
    out = []
    for k in range(n):
        genres, nouns, adjectives = THEMES[themes[rng.integers(0, len(themes))]]
        kind = k % 4
        if kind == 0:
            out.append(f"something {adjectives[rng.integers(0, 5)]} about a {nouns[rng.integers(0, 10)]}")
        elif kind == 1:
            decade = int(rng.integers(196, 202)) * 10
            out.append(f"a {genres[0].lower()} from the {decade}s with a {nouns[rng.integers(0, 10)]}")
        elif kind == 2:
            item = catalog.items[int(known[rng.integers(0, len(known))])]
            out.append(f"I loved {item.title}, more like that")
        else:
            g = genres[rng.integers(0, len(genres))]
            out.append(f"a {nouns[rng.integers(0, 10)]} movie but no {g.lower()} please")
    return out
