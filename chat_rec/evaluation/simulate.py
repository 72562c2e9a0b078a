"""Simulated users (DESIGN §4, issue 5): does 👍/👎 get a person to what they want sooner?

Each simulated user hides one held-out positive (a test item rated >= 4) as the target, speaks only
from its genres, era and description keywords (never its title or a name: keywords are lowercase
words found in at least two descriptions and not in the title), and gives 👍 to shown items close to
the target (genre overlap and embedding similarity) and 👎 to the rest. The agent only ever sees the
conversation through its public API (``Agent.turn`` / ``Agent.record_feedback``). Shown items are never
repeated, so both runs walk down their lists; the difference comes from the feedback reordering them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from chat_rec.catalog import Catalog, Interactions
from chat_rec.evaluation.metrics import mean

STOP = {
    "about",
    "after",
    "again",
    "against",
    "among",
    "another",
    "around",
    "away",
    "back",
    "because",
    "become",
    "becomes",
    "been",
    "before",
    "being",
    "between",
    "both",
    "but",
    "came",
    "come",
    "comes",
    "could",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "even",
    "every",
    "find",
    "finds",
    "from",
    "gets",
    "getting",
    "goes",
    "going",
    "have",
    "having",
    "help",
    "here",
    "himself",
    "herself",
    "into",
    "just",
    "know",
    "later",
    "life",
    "like",
    "little",
    "lives",
    "living",
    "make",
    "makes",
    "making",
    "many",
    "more",
    "most",
    "much",
    "must",
    "never",
    "next",
    "only",
    "other",
    "over",
    "own",
    "people",
    "same",
    "seems",
    "sets",
    "should",
    "since",
    "some",
    "still",
    "such",
    "take",
    "takes",
    "than",
    "that",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "things",
    "this",
    "those",
    "through",
    "time",
    "together",
    "tries",
    "trying",
    "turns",
    "under",
    "until",
    "very",
    "want",
    "wants",
    "when",
    "where",
    "which",
    "while",
    "whose",
    "will",
    "with",
    "world",
    "would",
    "year",
    "years",
    "young",
    "story",
    "film",
    "movie",
}


@dataclass
class SimUser:
    user_id: object
    target_row: int
    genres: list[str]
    decade: int | None
    keywords: list[str]


def choose_targets(interactions: Interactions, n_users: int, seed: int) -> list[tuple[object, int]]:
    """(user id, target row) for a seeded sample of users who have a positive (rating >= 4)."""
    rng = np.random.default_rng(seed)
    users = sorted(
        {interactions.user_ids[u] for u in interactions.user_rows[interactions.ratings >= 4].tolist()}, key=str
    )
    chosen = rng.choice(len(users), size=min(n_users, len(users)), replace=False)
    out = []
    for idx in sorted(chosen.tolist()):
        rows, ratings = interactions.history(users[idx])
        positives = rows[ratings >= 4]
        out.append((users[idx], int(rng.choice(positives))))
    return out


def without_targets(interactions: Interactions, targets: list[tuple[object, int]]) -> np.ndarray:
    """Boolean mask over the interactions: True except the targets' own (user, item) events."""
    held_out = {(uid, row) for uid, row in targets}
    return np.array(
        [
            (interactions.user_ids[u], i) not in held_out
            for u, i in zip(interactions.user_rows.tolist(), interactions.item_rows.tolist())
        ]
    )


def description_words(catalog: Catalog) -> tuple[list[list[str]], Counter]:
    words = []
    for item in catalog.items:
        # lowercase-only tokens: capitalised words are names and places, which a person would not know
        tokens = [w for w in re.findall(r"\b[a-z][a-z-]{3,}\b", item.description) if w not in STOP]
        words.append(tokens)
    return words, Counter(w for tokens in words for w in set(tokens))


def make_user(catalog: Catalog, user_id, target_row: int, words, df: Counter, n_keywords: int = 3) -> SimUser:
    item = catalog.items[target_row]
    title_words = set(re.findall(r"[a-z]+", item.title.lower()))
    candidates = [w for w in dict.fromkeys(words[target_row]) if df[w] >= 2 and w not in title_words]
    candidates.sort(key=lambda w: (df[w], w))  # rarest shared words first: the most telling, never unique
    genres = [g for g in item.genres if g != "unknown"]
    decade = (item.year // 10) * 10 if item.year else None
    return SimUser(user_id, target_row, genres, decade, candidates[:n_keywords])


def utterances(user: SimUser, turns: int) -> list[str]:
    """What the simulated person says on each turn (the same with and without feedback)."""
    first = "I'd like a movie"
    if user.genres:
        first = f"I'd like a {' and '.join(user.genres[:2])} movie"
    if user.decade:
        first += f" from the {user.decade}s"
    said = [first + "."]
    for kw in user.keywords:
        said.append(f"Something with {kw}, please.")
    while len(said) < turns:
        said.append("More like the ones I liked, please.")
    return said[:turns]


def judge(catalog: Catalog, vectors: np.ndarray, user: SimUser, row: int, sim_threshold: float = 0.45) -> str:
    """👍 when the shown item is close to the target (genre overlap and embedding similarity), else 👎."""
    target = set(user.genres)
    genres = set(catalog.items[row].genres)
    overlap = len(target & genres) / max(1, len(target | genres))
    sim = float(vectors[row] @ vectors[user.target_row])
    return "up" if (overlap >= 0.5 and sim >= sim_threshold - 0.1) or sim >= sim_threshold + 0.15 else "down"


def run_user(agent, session_factory, catalog, vectors, user: SimUser, turns: int, feedback: bool) -> list[int | None]:
    """Rank of the target (0-based) in each turn's list, None when absent; stops after it is shown."""
    session = session_factory(user.user_id)
    ranks: list[int | None] = []
    target_id = catalog.items[user.target_row].id
    for text in utterances(user, turns):
        reply = agent.turn(text, session)
        ids = [r.item_id for r in reply.items]
        ranks.append(ids.index(target_id) if target_id in ids else None)
        if target_id in ids:
            break
        if feedback:
            for item_id in ids:
                agent.record_feedback(session, item_id, judge(catalog, vectors, user, catalog.row(item_id)))
    return ranks + [None] * (turns - len(ranks))


def summarise(all_ranks: list[list[int | None]], turns: int, feedback: bool) -> dict:
    def hit(k: int, t: int) -> float:
        return mean([float(any(r is not None and r < k for r in ranks[: t + 1])) for ranks in all_ranks])

    success_turns = [
        next((t + 1 for t, r in enumerate(ranks) if r is not None and r < 10), None) for ranks in all_ranks
    ]
    found = [t for t in success_turns if t is not None]
    return {
        "feedback": feedback,
        "n_users": len(all_ranks),
        "hit@1_by_turn": [round(hit(1, t), 4) for t in range(turns)],
        "hit@5_by_turn": [round(hit(5, t), 4) for t in range(turns)],
        "hit@10_by_turn": [round(hit(10, t), 4) for t in range(turns)],
        "success@3turns": round(mean([float(t is not None and t <= 3) for t in success_turns]), 4),
        "success@5turns": round(mean([float(t is not None and t <= 5) for t in success_turns]), 4),
        "avg_turn": round(mean(found), 3) if found else None,
    }


def simulate(
    agent,
    session_factory,
    catalog: Catalog,
    vectors: np.ndarray,
    targets: list[tuple[object, int]],
    turns: int = 5,
    progress: bool = True,
) -> dict:
    """Run every target with and without feedback. ``session_factory(user_id)`` makes a fresh session."""
    words, df = description_words(catalog)
    users = [make_user(catalog, uid, row, words, df) for uid, row in targets]
    rows = []
    for feedback in (True, False):
        agent.store = type(agent.store)()  # each run starts from an empty feedback store
        ranks = [
            run_user(agent, session_factory, catalog, vectors, u, turns, feedback)
            for u in tqdm(users, desc=f"simulate feedback={feedback}", disable=not progress)
        ]
        rows.append(summarise(ranks, turns, feedback))
    with_fb, without = rows
    gain3 = (with_fb["success@3turns"] / without["success@3turns"] - 1) if without["success@3turns"] else None
    return {
        "protocol": "simulate",
        "turns": turns,
        "rows": rows,
        "success@3_relative_gain": round(gain3, 4) if gain3 is not None else None,
        "utterance_example": utterances(users[0], turns) if users else [],
    }


# ------------------------------------------------------------------------------------------------ a person who talks
#: How a person asks for a genre in everyday words (never the catalog's label when they would not say it).
GENRE_PHRASES = {
    "Horror": "something scary",
    "Comedy": "something funny",
    "Children's": "something for the kids",
    "Animation": "a cartoon",
    "Romance": "a love story",
    "Action": "an action movie",
    "Adventure": "an adventure",
    "Crime": "something about criminals",
    "Documentary": "a documentary",
    "Drama": "a drama",
    "Fantasy": "something with magic",
    "Film-Noir": "an old noir",
    "Musical": "a musical",
    "Mystery": "a mystery",
    "Sci-Fi": "science fiction",
    "Thriller": "something tense",
    "War": "a war movie",
    "Western": "a western",
}
OLDER = ("Something older?", "Can you go further back?", "These are all too recent. Something older?")
NEWER = ("Something more recent?", "Newer ones, please.", "These are too old. Something newer?")


@dataclass
class Talker:
    """A person who opens in everyday words, sometimes names a film they liked, sees 5 picks, 👍s the ones
    close to what they want, 👎s the rest, and then critiques in words."""

    user_id: object
    target_row: int
    genres: list[str]
    year: int | None
    keywords: list[str]
    liked_title: str | None  # a film from their own history, close to the target, named in the opening
    #: the person's own MovieLens ratings (row -> rating, the target's removed) when they judge by them
    #: (``verdict``); None: they judge by closeness to the target (``judge``)
    ratings: dict[int, float] | None = None


def era_phrase(year: int | None) -> str:
    if not year:
        return ""
    decade = (year // 10) * 10
    part = "early " if year % 10 <= 3 else "late " if year % 10 >= 7 else ""
    name = f"{decade % 100:02d}s" if decade >= 1930 else f"{decade}s"
    return f"from the {part}{name}"


def make_talker(
    catalog: Catalog,
    vectors: np.ndarray,
    interactions: Interactions | None,
    user_id,
    target_row: int,
    words,
    df: Counter,
    rng: np.random.Generator,
) -> Talker:
    """A talker for one held-out target. Half of them name the film of their history (train ratings >= 4)
    closest to the target; ``interactions`` must not hold the target."""
    from chat_rec.catalog import display_title

    base = make_user(catalog, user_id, target_row, words, df, n_keywords=4)
    liked = None
    if interactions is not None and rng.random() < 0.5:
        rows, ratings = interactions.history(user_id)
        own = re.sub(r"\s*\(.*?\)", "", display_title(catalog.items[target_row].title)).strip().lower()
        # never the target's title, not even inside another one ("Aliens" for Alien): no franchise hints
        rows = [
            int(r)
            for r in rows[ratings >= 4]
            if int(r) != target_row and own not in display_title(catalog.items[int(r)].title).lower()
        ]
        if rows:
            best = max(rows, key=lambda r: float(vectors[r] @ vectors[target_row]))
            liked = re.sub(r"\s*\(\d{4}\)\s*$", "", display_title(catalog.items[best].title))
    return Talker(user_id, target_row, base.genres, catalog.items[target_row].year, base.keywords, liked)


def opening(t: Talker) -> str:
    what = GENRE_PHRASES.get(t.genres[0], "a movie") if t.genres else "a movie"
    said = f"{what} {era_phrase(t.year)}".strip()
    if t.liked_title:
        return f"I liked {t.liked_title}. {said[0].upper() + said[1:]}, please."
    return f"Can you recommend {said}?"


def critique(catalog: Catalog, t: Talker, shown_rows: list[int], turn: int, used: set[str]) -> str:
    """The person's next words after a list without their film: the era first when the list is far off,
    then the genre when nothing on it has one, else a detail of the story they have in mind."""
    years = [catalog.items[r].year for r in shown_rows if catalog.items[r].year]
    if t.year and years:
        gap = float(np.median(years)) - t.year
        if gap >= 8:
            return OLDER[turn % len(OLDER)]
        if gap <= -8:
            return NEWER[turn % len(NEWER)]
    want = set(t.genres)
    if want and not any(want & set(catalog.items[r].genres) for r in shown_rows):
        return f"None of these. I want {GENRE_PHRASES.get(t.genres[0], 'something else')}."
    for kw in t.keywords:
        if kw not in used:
            used.add(kw)
            return f"Closer to a story with {kw}."
    return "More like the ones I liked, please."


def verdict(catalog: Catalog, vectors: np.ndarray, t: Talker, row: int) -> str | None:
    """A shown film's 👍/👎: by the person's own rating when they judge by their ratings (👍 for 4 or 5, 👎 for 1
    or 2, nothing for 3 or a film they did not rate), else by closeness to the target (``judge``)."""
    if t.ratings is None:
        return judge(catalog, vectors, t, row)
    rating = t.ratings.get(row)
    if rating is None or 2 < rating < 4:
        return None
    return "up" if rating >= 4 else "down"


def run_talker(
    agent, session_factory, catalog, vectors, t: Talker, turns: int, feedback: bool, counts: Counter | None = None
) -> list[int | None]:
    """Rank of the target in each turn's 5 picks (None when absent), up to the turn it is shown. ``counts``
    tallies the 👍/👎 given (``none``: a shown film the person does not judge)."""
    session = session_factory(t.user_id)
    ranks: list[int | None] = []
    target_id = catalog.items[t.target_row].id
    text, used = opening(t), set()
    for turn in range(turns):
        reply = agent.turn(text, session)
        ids = [r.item_id for r in reply.items]
        ranks.append(ids.index(target_id) if target_id in ids else None)
        if target_id in ids:
            break
        rows = [catalog.row(i) for i in ids]
        if feedback:
            for item_id, row in zip(ids, rows):
                value = verdict(catalog, vectors, t, row)
                if counts is not None:
                    counts[value or "none"] += 1
                if value is not None:
                    agent.record_feedback(session, item_id, value)
        text = critique(catalog, t, rows, turn, used)
    return ranks + [None] * (turns - len(ranks))


def compare(agent, session_factory, catalog, vectors, people: list[Talker], turns: int, progress: bool, label: str):
    """Every person with and without 👍/👎 (each run from an empty feedback store): the two summary rows (with
    first), the success@3 ratio, and the 👍/👎 given in the run with feedback."""
    rows, counts = [], Counter()
    for feedback in (True, False):
        agent.store = type(agent.store)()
        ranks = [
            run_talker(agent, session_factory, catalog, vectors, p, turns, feedback, counts if feedback else None)
            for p in tqdm(people, desc=f"simulate {label} feedback={feedback}", disable=not progress)
        ]
        row = summarise(ranks, turns, feedback)
        row["success@1turn"] = row["hit@5_by_turn"][0] if row["hit@5_by_turn"] else 0.0
        rows.append(row)
    with_fb, without = rows
    ratio = with_fb["success@3turns"] / without["success@3turns"] if without["success@3turns"] else None
    return {
        "rows": rows,
        "n_users": len(people),
        "success@3_ratio": round(ratio, 4) if ratio is not None else None,
        "judged": {k: counts[k] for k in ("up", "down", "none")},
    }


def simulate_talkers(
    agent,
    session_factory,
    catalog: Catalog,
    vectors: np.ndarray,
    targets: list[tuple[object, int]],
    interactions: Interactions | None,
    turns: int = 5,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Every talker with and without feedback, 5 picks a turn (the caller's agent ``k``)."""
    words, df = description_words(catalog)
    rng = np.random.default_rng(seed)
    people = [make_talker(catalog, vectors, interactions, uid, row, words, df, rng) for uid, row in targets]
    out = compare(agent, session_factory, catalog, vectors, people, turns, progress, "talkers")
    gain3 = out["success@3_ratio"] - 1 if out["success@3_ratio"] is not None else None
    example = people[0] if people else None
    return {
        "user_model": "talker",
        "turns": turns,
        "rows": out["rows"],
        "success@3_relative_gain": round(gain3, 4) if gain3 is not None else None,
        "judged": out["judged"],
        "opening_examples": [opening(p) for p in people[:5]],
        "critique_example": critique(catalog, example, [], 0, set()) if example else None,
    }


# ------------------------------------------------------------------------ people judged by their own ratings
#: Who judges by their own ratings: MovieLens users with at least one 5 (the target is one of their 5-rated films).
#: The users are split once into two halves by a seeded permutation (``RATINGS_SPLIT_SEED``): the 👍/👎 head is
#: fitted on people of one half (``FIT_HALF``) and reported on the other, so nothing is fitted on the reported.
RATINGS_SPLIT_SEED = 0
FIT_HALF, REPORT_HALF = 0, 1


def rating_halves(interactions: Interactions, seed: int = RATINGS_SPLIT_SEED) -> tuple[list, list]:
    """The users with a 5-rated film, split into two halves by a seeded permutation (sorted within each)."""
    users = sorted(
        {interactions.user_ids[u] for u in interactions.user_rows[interactions.ratings >= 5].tolist()}, key=str
    )
    order = np.random.default_rng(seed).permutation(len(users))
    half = len(users) // 2
    return sorted((users[i] for i in order[:half]), key=str), sorted((users[i] for i in order[half:]), key=str)


def choose_rating_people(interactions: Interactions, users: list, n_users: int, seed: int) -> list[tuple[object, int]]:
    """(user id, target row) for a seeded sample of ``users``; the target is one of their 5-rated films."""
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(users), size=min(n_users, len(users)), replace=False).tolist())
    out = []
    for idx in chosen:
        rows, ratings = interactions.history(users[idx])
        out.append((users[idx], int(rng.choice(rows[ratings >= 5]))))
    return out


def without_users(interactions: Interactions, users) -> np.ndarray:
    """Boolean mask over the interactions: False for every rating of these users (the agent sees none of them)."""
    drop = np.isin(interactions.user_rows, [interactions.user_row(u) for u in users])
    return ~drop


def make_rating_people(
    catalog: Catalog,
    vectors: np.ndarray,
    interactions: Interactions,
    targets: list[tuple[object, int]],
    seed: int,
) -> list[Talker]:
    """Talkers (the same words as ``make_talker``: the target's genres, era, story words, half of them naming a
    film they rated >= 4) who judge the shown films by their own ratings (``verdict``). ``interactions`` holds
    their ratings; the agent must be built without them (``without_users``)."""
    words, df = description_words(catalog)
    rng = np.random.default_rng(seed)
    people = []
    for uid, row in targets:
        person = make_talker(catalog, vectors, interactions, uid, row, words, df, rng)
        rows, ratings = interactions.history(uid)
        person.ratings = {int(r): float(x) for r, x in zip(rows.tolist(), ratings.tolist()) if int(r) != row}
        people.append(person)
    return people


def simulate_ratings(
    agent, session_factory, catalog: Catalog, vectors: np.ndarray, people: list[Talker], turns: int = 5, progress=True
) -> dict:
    """People judged by their own ratings, with and without 👍/👎, 5 picks a turn (the caller's agent ``k``)."""
    out = compare(agent, session_factory, catalog, vectors, people, turns, progress, "rating people")
    out["opening_examples"] = [opening(p) for p in people[:5]]
    return out


# ------------------------------------------------------------------------------------ fitting the feedback head
#: the simulated people the head is fitted on are talkers whose targets come from another seed than the
#: reported runs (seed 0), so the reported numbers are not in-sample
FEEDBACK_FIT_SEED = 1
#: the ``feedback`` signal's threshold (when its likelihood is the logistic in the cosine) and weight, tried on a grid
FEEDBACK_TAUS = (0.3, 0.35, 0.4)
FEEDBACK_WEIGHTS = (0.3, 0.6, 1.0, 1.5)
#: request-head weights the fit may rescale in the feedback head (once, in this order), and the factors tried
FEEDBACK_SCALED = (
    "genre_profile",
    "ref_max",
    "ref_mean",
    "ref_last",
    "ref_year",
    "cf",
    "pop",
    "year",
    "dialogue",
    "genre",
)
FEEDBACK_SCALES = (0.0, 0.5, 1.5)
#: weights the fit may set to these values instead (the request head gives the request's own words little
#: weight, fitted on dialogues; a critique such as "closer to a story with ..." may deserve more)
FEEDBACK_SET = {"cf_up": (0.3, 0.6, 1.0, 1.5), "feedback": (0.0,), "sem": (0.15, 0.3, 0.6), "words": (0.15, 0.3)}
#: groups of request weights the fit may rescale together: the reference signals read the films the person named
#: and the ones they gave 👍 alike, and a 👍 from a person's own taste is weaker evidence than a film they named
FEEDBACK_GROUPS = {"references": ("ref_mean", "ref_max", "ref_last", "genre_profile", "ref_year", "cf_last")}
FEEDBACK_GROUP_SCALES = (0.0, 0.5)
#: a step of the search is taken only when it adds this much success@3 (6 of the 600 fitting people):
#: smaller moves are noise
FEEDBACK_MIN_GAIN = 0.01


def judgements(agent, sessions: list[tuple[Talker, object]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 👍/👎 the people gave, as ``(cosine, genre overlap, 👍)`` of each judged item with the film they
    were after: what ``JudgementModel.fit`` learns from. ``sessions``: ``(person, agent session)``; the
    judged rows are the session's effective 👍/👎 as the agent reads them (``Agent.user_state``)."""
    f, cos, jac, up = agent.rec.features, [], [], []
    for person, session in sessions:
        state = agent.user_state(session)
        judged = np.array(state.feedback_up_rows + state.feedback_down_rows, dtype=np.int64)
        if not len(judged):
            continue
        cos += (f.vectors[judged] @ f.vectors[person.target_row]).astype(np.float64).tolist()
        jac += f.genre_jaccard(judged, [person.target_row])[:, 0].tolist()
        up += [True] * len(state.feedback_up_rows) + [False] * len(state.feedback_down_rows)
    return np.asarray(cos), np.asarray(jac), np.asarray(up, dtype=bool)


def fit_feedback_head(
    agent,
    catalog: Catalog,
    vectors: np.ndarray,
    people: list[Talker],
    turns: int = 5,
    taus=FEEDBACK_TAUS,
    weights=FEEDBACK_WEIGHTS,
    scaled=FEEDBACK_SCALED,
    scales=FEEDBACK_SCALES,
    values=FEEDBACK_SET,
    groups=FEEDBACK_GROUPS,
    group_scales=FEEDBACK_GROUP_SCALES,
    min_gain: float = FEEDBACK_MIN_GAIN,
    progress: bool = True,
) -> tuple[dict | None, dict, list[dict]]:
    """The ``feedback`` head: the request head's weights plus the ``feedback`` signal, fitted on simulated talkers
    who give 👍/👎 (``people``; replayed dialogues carry no feedback).

    1. The baseline: the request head as it is (feedback reaching it through ``user``). The 👍/👎 the people
       give in that run are the judgements the learned likelihood (``JudgementModel``) is fitted on.
    2. The signal's likelihood and weight on a grid: the learned table, or the logistic in the cosine with
       each threshold of ``taus``; each with each weight of ``weights``.
    3. One pass setting each of ``values``, rescaling each group of ``groups`` together and each of ``scaled``; a
       step must add ``min_gain`` success@3.

    Returns ``(head, likelihood, log)``: ``likelihood`` is ``{"tau", "judgements"}`` (the table as JSON, or
    None for the logistic) as the fusion's ``meta.fitting.feedback`` holds it; ``head`` is None when no
    candidate beat the baseline by ``min_gain`` (then it is not served). The agent's fusion is left as it was."""
    from chat_rec.recommender.feedback import MemoryStore
    from chat_rec.recommender.signals import FEEDBACK_TAU, JudgementModel
    from chat_rec.session import Session

    fusion = agent.rec.fusion
    heads, meta = fusion.heads, fusion.meta
    others = {h: w for h, w in heads.items() if h != "feedback"}
    request = dict(heads.get("request") or {})
    log: list[dict] = []
    logistic = {"tau": FEEDBACK_TAU, "judgements": None}

    def score(head: dict | None, likelihood: dict, label: str, keep: list | None = None) -> tuple[float, float]:
        fusion.heads = {**others, **({"feedback": head} if head is not None else {})}
        fusion.meta = {**meta, "fitting": {**(meta.get("fitting") or {}), "feedback": dict(likelihood)}}
        agent.store = MemoryStore()

        def session_for(person):
            session = Session()
            if keep is not None:
                keep.append((person, session))
            return lambda uid: session

        ranks = [
            run_talker(agent, session_for(p), catalog, vectors, p, turns, True)
            for p in tqdm(people, desc=f"feedback head: {label}", disable=not progress)
        ]
        row = summarise(ranks, turns, True)
        log.append({"try": label, "success@3turns": row["success@3turns"], "success@5turns": row["success@5turns"]})
        return row["success@3turns"], row["success@5turns"]

    try:
        seen: list = []
        base = score(None, logistic, "request head (user signal), the baseline", seen)
        without = [run_talker(agent, lambda uid: Session(), catalog, vectors, p, turns, False) for p in people]
        row = summarise(without, turns, False)
        log.append(
            {
                "try": "no 👍/👎 at all (for reference)",
                "success@3turns": row["success@3turns"],
                "success@5turns": row["success@5turns"],
            }
        )
        cos, jac, up = judgements(agent, seen)
        likelihoods = [(f"tau {tau:g}", {"tau": float(tau), "judgements": None}) for tau in taus]
        if len(up) and up.any() and not up.all():
            table = JudgementModel.fit(cos, jac, up).to_json()
            likelihoods.insert(0, (f"learned from {len(up)} judgements", {"tau": FEEDBACK_TAU, "judgements": table}))
        best, best_like, best_score = None, logistic, (-1.0, -1.0)
        start = {k: v for k, v in request.items() if k != "user"}
        for name, likelihood in likelihoods:
            for w in weights:
                got = score({**start, "feedback": w}, likelihood, f"feedback {w:g}, {name}")
                if got > best_score:
                    best, best_like, best_score = {**start, "feedback": w}, likelihood, got
        # then one pass over single moves, each kept only when it adds ``min_gain``: the weights set to values
        # (``cf_up`` first: what a person's 👍 says about their taste), then the request weights rescaled
        # a move is a name and, given the head so far, its tries: (label, the weights it changes)
        moves = [
            (name, lambda b, n=name, vs=vals: [(f"= {v:g}", {n: float(v)}) for v in vs])
            for name, vals in values.items()
        ]
        moves += [
            (
                group,
                lambda b, ns=names: [
                    (f"x{f:g}", {n: round(b[n] * f, 4) for n in ns if b.get(n)}) for f in group_scales
                ],
            )
            for group, names in groups.items()
        ]
        moves += [
            (name, lambda b, n=name: [(f"x{f:g}", {n: round(b[n] * f, 4)}) for f in scales] if b.get(n) else [])
            for name in scaled
        ]
        for name, tries in moves:
            step = None
            for label, update in tries(best):
                trial = {**best, **update}
                got = score({k: v for k, v in trial.items() if v}, best_like, f"{name} {label}")
                if got[0] >= best_score[0] + min_gain - 1e-9 and (step is None or got > step[1]):
                    step = (trial, got)
            if step is not None:
                best, best_score = {k: v for k, v in step[0].items() if v}, step[1]
        if best_score[0] < base[0] + min_gain - 1e-9:
            return None, logistic, log
    finally:
        fusion.heads, fusion.meta = heads, meta
    return best, dict(best_like), log
