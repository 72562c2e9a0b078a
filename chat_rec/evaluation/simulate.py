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

from ..catalog import Catalog, Interactions
from .metrics import mean

STOP = set("""about after again against among another around away back because become becomes been before being
between both but came come comes could does doing down during each even every find finds from gets getting goes
going have having help here himself herself into just know later life like little lives living make makes making
many more most much must never next only other over own people same seems sets should since some still such take
takes than that their them then there these they things this those through time together tries trying turns under
until very want wants when where which while whose will with world would year years young story film movie""".split())


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
    users = sorted({interactions.user_ids[u] for u in interactions.user_rows[interactions.ratings >= 4].tolist()},
                   key=str)
    chosen = rng.choice(len(users), size=min(n_users, len(users)), replace=False)
    out = []
    for idx in sorted(chosen.tolist()):
        rows, ratings = interactions.history(users[idx])
        positives = rows[ratings >= 4]
        out.append((users[idx], int(rng.choice(positives))))
    return out


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

    success_turns = [next((t + 1 for t, r in enumerate(ranks) if r is not None and r < 10), None) for ranks in all_ranks]
    found = [t for t in success_turns if t is not None]
    return {"feedback": feedback, "n_users": len(all_ranks),
            "hit@1_by_turn": [round(hit(1, t), 4) for t in range(turns)],
            "hit@5_by_turn": [round(hit(5, t), 4) for t in range(turns)],
            "hit@10_by_turn": [round(hit(10, t), 4) for t in range(turns)],
            "success@3turns": round(mean([float(t is not None and t <= 3) for t in success_turns]), 4),
            "success@5turns": round(mean([float(t is not None and t <= 5) for t in success_turns]), 4),
            "avg_turn": round(mean(found), 3) if found else None}


def simulate(agent, session_factory, catalog: Catalog, vectors: np.ndarray, targets: list[tuple[object, int]],
             turns: int = 5, progress: bool = True) -> dict:
    """Run every target with and without feedback. ``session_factory(user_id)`` makes a fresh session."""
    words, df = description_words(catalog)
    users = [make_user(catalog, uid, row, words, df) for uid, row in targets]
    rows = []
    for feedback in (True, False):
        agent.store = type(agent.store)()  # each run starts from an empty feedback store
        ranks = [run_user(agent, session_factory, catalog, vectors, u, turns, feedback)
                 for u in tqdm(users, desc=f"simulate feedback={feedback}", disable=not progress)]
        rows.append(summarise(ranks, turns, feedback))
    with_fb, without = rows
    gain3 = (with_fb["success@3turns"] / without["success@3turns"] - 1) if without["success@3turns"] else None
    return {"protocol": "simulate", "turns": turns, "rows": rows,
            "success@3_relative_gain": round(gain3, 4) if gain3 is not None else None,
            "utterance_example": utterances(users[0], turns) if users else []}
