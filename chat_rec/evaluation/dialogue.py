"""Conversation acts on real people's words: ``tests/data/dialogue_real.yaml`` (seeker turns from ReDial and
INSPIRED, each with the messages before it, labelled with its act and a check a program makes on the reply).

Each turn is replayed through ``Agent.turn`` in a fresh session: the context's seeker messages go through the
agent in order, the recommender's messages are the assistant's words (``Agent.observe``: the films they name
are on screen, so "it" and "the first one" resolve), then the turn itself. The reply is checked:

* ``about`` (+ ``fact``): the reply names the film; a question is answered without a new list, with the
  asked fact from the film's record (its director, a cast member, its year ...) or a plain "I don't know".
* ``compares``: both films are named, and no new list replaces the picks.
* ``offers_like``: the film asked about is named, and picks follow (not the film itself).
* ``not_picks``: none of these films is among the picks (the reply's, or the next list when it has none).
* ``avoid_words`` / ``avoid_genres``: no pick's text has the words / no pick has the genres.
* ``person``: at least 4 of 5 picks have the person (director or cast), or every catalog film with them.
* ``says_unknown``: the reply says the film is not in the catalog; ``min_picks``: and still recommends.
* ``asks``: the reply asks a question back.
* ``genres``: every pick has one of them.
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from pathlib import Path

import yaml

from chat_rec.catalog import display_title
from chat_rec.people import fold

ACTS = ("question", "compare", "seen", "rule_out", "negated", "person", "outside", "vague")
CHECKS = {
    "about",
    "fact",
    "compares",
    "offers_like",
    "not_picks",
    "avoid_words",
    "avoid_genres",
    "person",
    "says_unknown",
    "min_picks",
    "asks",
    "genres",
}


class DialogueSetError(ValueError):
    pass


def load_dialogue_set(path: Path) -> list[dict]:
    """The labelled turns; raises ``DialogueSetError`` naming the entry on a malformed one."""
    with open(path, encoding="utf-8") as fh:
        cases = yaml.safe_load(fh) or []
    for n, case in enumerate(cases, 1):
        where = f"{path}: entry {n} ({case.get('id', '?') if isinstance(case, dict) else '?'})"
        if not isinstance(case, dict) or not isinstance(case.get("say"), str):
            raise DialogueSetError(f"{where}: needs a 'say' string")
        if case.get("act") not in ACTS:
            raise DialogueSetError(f"{where}: 'act' is one of {', '.join(ACTS)}")
        check = case.get("check")
        if not isinstance(check, dict) or not check or set(check) - CHECKS:
            raise DialogueSetError(f"{where}: 'check' is a mapping of {sorted(CHECKS)}")
        for key in ("say", "context"):
            if isinstance(case.get(key), str):
                case[key] = case[key].replace("QUOTATION_MARK", '"')
            elif isinstance(case.get(key), list):
                case[key] = [str(x).replace("QUOTATION_MARK", '"') for x in case[key]]
    return cases


def replay(agent, case: dict):
    """``(reply, session)`` after the case's context and its turn, through ``Agent.turn``."""
    from chat_rec.session import Session

    session = Session()
    for line in case.get("context") or []:
        role, _, text = str(line).partition(":")
        if role.strip().lower() == "recommender":
            agent.observe(session, text.strip())
        else:
            agent.turn(text.strip(), session)
    return agent.turn(case["say"], session), session


def _names(item) -> list[str]:
    base = re.sub(r"\s*\(\d{4}\)\s*$", "", item.title).strip()
    shown = re.sub(r"\s*\(\d{4}\)\s*$", "", display_title(item.title)).strip()
    short = re.sub(r"\s*\(.*\)\s*$", "", shown).strip()  # "Shall We Dance? (1937)", "Seven (Se7en)"
    return [n.lower() for n in {base, shown, short} if n]


def names_item(text: str, item) -> bool:
    low = text.lower()
    return any(n in low for n in _names(item))


def _resolve(agent, title: str):
    """A film of the check, by its exact catalog title."""
    for item in agent.catalog.items:
        if item.title.strip() == title.strip():
            return item
    raise DialogueSetError(f"{title!r} is not a title of the {agent.catalog.name} catalog")


def check_reply(agent, case: dict, reply, session) -> list[str]:
    """Every check of ``case`` that ``reply`` fails, one line each."""
    check, act = case["check"], case["act"]
    text = reply.text
    low = text.lower()
    notices = " ".join(reply.notices).lower()
    items = [agent.catalog.item(r.item_id) for r in reply.items]
    picks = items
    if not picks and act in ("rule_out", "negated", "person", "outside"):
        picks = [agent.catalog.items[s.row] for s in agent.rank(session).items]
    failed = []
    if "about" in check:
        film = _resolve(agent, check["about"])
        if not names_item(text, film):
            failed.append(f"does not name {film.title}")
        if act == "question":
            if [i for i in items if i.id != film.id]:  # the film's own card is not a new list
                failed.append("a new list instead of an answer")
            fact = check.get("fact")
            if fact and not _states(fact, film, low):
                failed.append(f"does not state its {fact}")
    if "compares" in check:
        films = [_resolve(agent, t) for t in check["compares"]]
        missing = [f.title for f in films if not names_item(text, f)]
        if missing:
            failed.append(f"does not name {', '.join(missing)}")
        if items:
            failed.append("a new list instead of a comparison")
    if check.get("offers_like"):
        film = _resolve(agent, check["about"]) if "about" in check else None
        if not items:
            failed.append("no films like it")
        if film is not None and film.id in [i.id for i in items]:
            failed.append("offers the film itself")
    if "not_picks" in check:
        banned = {_resolve(agent, t).id for t in check["not_picks"]}
        back = [i.title for i in picks if i.id in banned]
        if back:
            failed.append(f"ruled-out film among the picks: {', '.join(back)}")
    if "avoid_genres" in check:
        bad = [i.title for i in picks if set(i.genres) & set(check["avoid_genres"])]
        if bad:
            failed.append(f"picks of an avoided genre: {', '.join(bad[:3])}")
    if "avoid_words" in check:
        texts = {i.id: agent.rec.texts[agent.catalog.row(i.id)].lower() for i in picks}
        bad = [
            f"{i.title} ({w})"
            for i in picks
            for w in check["avoid_words"]
            if re.search(r"(?<![a-z])" + re.escape(w.lower()), texts[i.id])
        ]
        if bad and "ruled out" not in notices:
            failed.append(f"picks with avoided words: {', '.join(bad[:3])}")
        if not picks:
            failed.append("no picks")
    if "person" in check:
        person = fold(check["person"])
        n_catalog = len(agent.rec.people.of(check["person"]))
        # their films the conversation already named (referenced, ruled out) cannot be offered again
        named = set(session.mentioned) | set(session.liked) | set(session.disliked) | set(session.ruled_out)
        named |= set((session.intent.reference_items if session.intent else []) or [])
        offerable = n_catalog - sum(
            any(fold(p) == person for p in agent.catalog.item(i).director + agent.catalog.item(i).cast)
            for i in named
            if i in agent.catalog
        )
        have = sum(any(fold(p) == person for p in i.director + i.cast) for i in picks)
        need = min(4, offerable) if offerable > 0 else 1
        if have < need:
            failed.append(f"{have} of {len(picks)} picks with {check['person']} (catalog has {n_catalog})")
    if "says_unknown" in check:
        said = low + " " + notices
        if not ("not in this catalog" in said or "don't know" in said or "do not know" in said):
            failed.append(f"does not say {check['says_unknown']} is unknown")
    if "min_picks" in check and len(items) < int(check["min_picks"]):
        failed.append(f"{len(items)} picks, wanted at least {check['min_picks']}")
    if check.get("asks") and "?" not in text:
        failed.append("asks no question")
    if "genres" in check:
        bad = [i.title for i in picks if not set(i.genres) & set(check["genres"])]
        if bad or not picks:
            failed.append(f"picks outside {check['genres']}: {', '.join(bad[:3])}")
    return failed


def _states(fact: str, film, low: str) -> bool:
    """Whether an answer states ``fact`` of ``film`` from its record (or says plainly it does not know)."""
    if "don't know" in low or "can't tell" in low:
        return True
    if fact == "director":
        return any(fold(d) in fold(low) for d in film.director)
    if fact == "cast":
        return any(fold(c) in fold(low) for c in film.cast)
    if fact == "year":
        return bool(film.year) and str(film.year) in low
    if fact == "genres":
        return any(g.lower() in low for g in film.genres)
    if fact == "runtime":
        return bool(film.runtime) and str(film.runtime) in low
    if fact == "age_rating":
        return bool(film.age_rating) and film.age_rating.lower() in low
    if fact == "rating":
        return bool(re.search(r"\d\.\d out of|rated \d|nobody has rated|chosen by", low))
    if fact == "plot":
        words = re.findall(r"[a-z]{5,}", (film.description or "").lower())[:12]
        return sum(w in low for w in words) >= min(3, len(words)) if words else False
    return True  # kids / scary / violent / funny: an answer naming the film (checked above)


def score_dialogue(agent, cases: list[dict], *, progress: bool = True, desc: str = "dialogue turns") -> dict:
    """Pass rate overall and per act, with every failure (id, act, say, reasons, reply)."""
    from tqdm import tqdm

    per = defaultdict(Counter)
    failures, seconds = [], []
    for case in tqdm(cases, desc=desc, disable=not progress, leave=False):
        start = time.perf_counter()
        reply, session = replay(agent, case)
        seconds.append(time.perf_counter() - start)
        failed = check_reply(agent, case, reply, session)
        per[case["act"]]["n"] += 1
        per[case["act"]]["passed"] += not failed
        if failed:
            failures.append(
                {
                    "id": case.get("id"),
                    "act": case["act"],
                    "say": case["say"],
                    "failed": failed,
                    "reply": reply.text[:300],
                    "picks": [r.title for r in reply.items],
                }
            )
    n = sum(c["n"] for c in per.values())
    passed = sum(c["passed"] for c in per.values())
    seconds.sort()
    return {
        "n": n,
        "passed": passed,
        "pass_rate": round(passed / n, 4) if n else 0.0,
        "per_act": {
            a: {"n": per[a]["n"], "passed": per[a]["passed"], "pass_rate": round(per[a]["passed"] / per[a]["n"], 4)}
            for a in ACTS
            if per[a]["n"]
        },
        "new_list_for_question": sum("a new list instead of an answer" in f["failed"] for f in failures),
        "ruled_out_returned": sum(any("ruled-out" in x for x in f["failed"]) for f in failures),
        "replay_seconds_median": round(seconds[len(seconds) // 2], 3) if seconds else 0.0,
        "failures": failures,
    }


def format_dialogue(label: str, r: dict) -> str:
    acts = ", ".join(f"{a} {v['passed']}/{v['n']}" for a, v in r["per_act"].items())
    return f"dialogue [{label}]: {r['passed']}/{r['n']} turns pass ({r['pass_rate']:.3f}); {acts}"


#: well-known people for ``people_probe``: directors asked "by", actors asked "with"
PEOPLE_PROBE = (
    ("anything by Alfred Hitchcock?", "Alfred Hitchcock"),
    ("films by Spielberg", "Steven Spielberg"),
    ("something by Stanley Kubrick", "Stanley Kubrick"),
    ("a Woody Allen movie", "Woody Allen"),
    ("anything by Tarantino", "Quentin Tarantino"),
    ("movies with Tom Hanks", "Tom Hanks"),
    ("something with Harrison Ford", "Harrison Ford"),
    ("films with Meg Ryan", "Meg Ryan"),
    ("anything with Robin Williams", "Robin Williams"),
    ("a comedy with Jim Carrey", "Jim Carrey"),
)


def people_probe(agent, probe=PEOPLE_PROBE) -> dict:
    """Each request in a fresh session: how many of the picks have the person (director or cast), against how
    many the catalog has; a request passes with at least 4 of 5 (or every catalog film with them)."""
    from chat_rec.session import Session

    rows = []
    for message, name in probe:
        reply = agent.turn(message, Session())
        n_catalog = len(agent.rec.people.of(name))
        have = sum(
            any(
                fold(p) == fold(name)
                for p in agent.catalog.item(r.item_id).director + agent.catalog.item(r.item_id).cast
            )
            for r in reply.items
        )
        rows.append(
            {
                "say": message,
                "person": name,
                "picks": len(reply.items),
                "with_person": have,
                "catalog_films": n_catalog,
                "passed": bool(n_catalog) and have >= min(4, n_catalog),
                "titles": [r.title for r in reply.items],
            }
        )
    return {"n": len(rows), "passed": sum(r["passed"] for r in rows), "rows": rows}
