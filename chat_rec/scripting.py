"""Scripted conversations: a YAML file of user turns and feedback, run through ``Agent.turn``.

```yaml
user: 196                                    # optional: a known user id whose history is loaded
context: {device: mobile, time: "saturday 21:00"}
turns:
  - say: "something scary from the 80s, but not too gory"
  - feedback: {rank: 2, value: down}         # 1-based position in the last list, or {item: ID, value: up}
  - say: "why the first one?"
```
Each ``say`` turn may carry ``llm:`` (the reply a scripted LLM double gives on that turn) and
``expect:``, checked against the turn's record by ``failed_expectations`` (the conversation tests and
`chat-rec bench turn` both call it; ``EXPECTATIONS`` lists the keys).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

from chat_rec.agent import Agent
from chat_rec.catalog import display_title
from chat_rec.errors import DataFormatError
from chat_rec.session import Session


def load_script(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            script = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        raise DataFormatError(f"cannot read script {path}: {exc}") from None
    if not isinstance(script, dict) or not isinstance(script.get("turns"), list):
        raise DataFormatError(f"{path}: a script is a mapping with a 'turns' list (see `chat-rec chat --help`)")
    for n, turn in enumerate(script["turns"], 1):
        if not isinstance(turn, dict) or not ({"say", "feedback"} & set(turn)):
            raise DataFormatError(f"{path}: turn {n} needs 'say' or 'feedback'")
    return script


def new_session(script: dict) -> Session:
    user = script.get("user")
    return Session(user_id=user, context={str(k): str(v) for k, v in (script.get("context") or {}).items()})


def run_script(agent: Agent, script: dict, session: Session | None = None) -> Iterator[dict]:
    """Yield one JSON-ready record per turn: ``{"turn", "reply", "items", "notices"}`` or a feedback record."""
    session = session or new_session(script)
    for n, turn in enumerate(script["turns"], 1):
        if "feedback" in turn:
            fb = turn["feedback"] or {}
            item = fb.get("item")
            if item is None and "rank" in fb:
                rank = int(fb["rank"])
                item = session.last_items[rank - 1] if 0 < rank <= len(session.last_items) else None
            if item is None:
                yield {"turn": n, "feedback": fb, "result": "no such item in the last list: feedback ignored"}
                continue
            start = time.perf_counter()
            result = agent.record_feedback(session, item, str(fb.get("value", "up")))
            yield {
                "turn": n,
                "feedback": {"item": item, "value": fb.get("value", "up")},
                "result": result,
                "seconds": round(time.perf_counter() - start, 5),
            }
            continue
        first = None
        for reply in agent.turn_stream(str(turn["say"]), session):
            first = reply.seconds if first is None else first
        yield {
            "turn": n,
            **reply.to_json(),
            "kind": reply.kind,
            "seconds": round(reply.seconds, 4),
            "first_seconds": round(first, 4),  # the first reply the person sees (the rules' picks)
            "refined": reply.refined,
            "timings": {k: round(v, 2) for k, v in reply.timings.items()},
        }


#: the keys a say-turn's ``expect:`` may use
EXPECTATIONS = (
    "min_items",
    "max_items",
    "all_genre",
    "any_genre",
    "some_genre",
    "no_genre",
    "no_genres",
    "years",
    "older_than_before",
    "newer_than_before",
    "refers_to_pick",
    "distinct_films",
    "not_titles",
    "some_titles",
    "no_text_words",
    "not_items",
    "items_changed",
    "reply_contains",
    "reply_not_contains",
    "notice_contains",
    "notice_contains_scripted",
    "kind",
    "reply_mentions_item_genres",
    "reply_mentions_genres_of",
    "not_rated",
    "person",
    "some_person",
    "no_person",
    "reply_asks",
    "kept",
)


def failed_expectations(
    agent: Agent, script: dict, records: list[dict], mode: str = "rules", name: str = ""
) -> list[str]:
    """Every expectation of ``script``'s say-turns that the turn's record (from ``run_script``) does not meet, one
    line each: ``"<name> turn N: key=want; got items [...], reply '...', notices '...'"``; an empty reply is a
    failure too. ``mode``: ``scripted`` also checks ``notice_contains_scripted`` (a scripted LLM double's notice)."""
    failures: list[str] = []
    previous = None
    user = script.get("user")
    for turn, record in zip(script["turns"], records):
        if "say" not in turn:
            continue
        where = f"{name} turn {record['turn']}".strip()
        for key, want in (turn.get("expect") or {}).items():
            if not _holds(key, want, record, previous, agent, user, mode):
                failures.append(f"{where}: {key}={want!r}; {_got(record)}")
        if not record.get("reply"):
            failures.append(f"{where}: empty reply")
        previous = [i["id"] for i in record.get("items", [])]
    return failures


def _got(record: dict) -> str:
    items = [(i["title"], i["genres"]) for i in record.get("items", [])]
    return f"got items {items}, reply {record.get('reply', '')!r}, notices {' '.join(record.get('notices', []))!r}"


def _holds(key: str, want, record: dict, previous: list | None, agent: Agent, user, mode: str) -> bool:
    """Whether one expectation holds for a say-turn's record (``previous``: the ids of the say-turn before)."""
    catalog = agent.catalog
    items = record.get("items", [])
    ids = [i["id"] for i in items]
    genres = [set(i["genres"]) for i in items]
    reply = record.get("reply", "").lower()
    notices = " ".join(record.get("notices", [])).lower()
    if key == "min_items":
        return len(items) >= want
    if key == "max_items":
        return len(items) <= want
    if key == "all_genre":
        return all(want in g for g in genres)
    if key == "any_genre":
        return all(g & set(want) for g in genres)
    if key == "some_genre":
        return any(want in g for g in genres)
    if key == "no_genre":
        return not any(want in g for g in genres)
    if key == "no_genres":
        return not any(set(want) & g for g in genres)
    if key == "years":
        return all(i["year"] is not None and want[0] <= i["year"] <= want[1] for i in items)
    if key == "refers_to_pick":
        # the pick the person named by its place in the previous list is the reference: it is said so
        if previous is None or not 0 < want <= len(previous):
            return False
        named = catalog.item(previous[want - 1]).title
        said = reply + " " + " ".join(str(i.get("explanation", "")) for i in items).lower()
        names = {t.split(" (")[0].lower() for t in (named, display_title(named))}  # "Shining, The" / "The Shining"
        return previous[want - 1] not in ids and any(n in said for n in names)
    if key in ("older_than_before", "newer_than_before"):
        # a relative refinement moves from the list on screen: past its oldest / newest film
        if previous is None or not items:
            return False
        before = [catalog.item(i).year for i in previous if catalog.item(i).year]
        years = [i["year"] for i in items]
        if key == "older_than_before":
            return all(y is not None and y < min(before) for y in years)
        newest = max(it.year or 0 for it in catalog.items)
        return all(y is not None and y > max(before) for y in years) or all(
            y is not None and y >= newest - 2 for y in years
        )
    if key == "distinct_films":
        # one film, one card: MovieLens lists a few films under two ids
        titles = [i["title"].lower() for i in items]
        return len(set(titles)) == len(titles)
    if key == "not_titles":
        return not any(w.lower() in i["title"].lower() for w in want for i in items)
    if key == "some_titles":
        # "something like Inception": at least ``want["n"]`` picks among films of its kind, named by title words
        return sum(any(w.lower() in i["title"].lower() for w in want["any"]) for i in items) >= want.get("n", 1)
    if key == "no_text_words":
        # content ruled out ("not gory"): no pick's text has the words, unless a notice says they were relaxed
        if "ruled out" in notices:
            return True
        texts = [agent.rec.texts[catalog.row(i)].lower() for i in ids]
        return not [w for w in want for t in texts if re.search(r"(?<![a-z])" + re.escape(w), t)]
    if key == "not_items":
        return not set(ids) & set(want)
    if key == "items_changed":
        return previous is not None and ids != previous
    if key == "reply_contains":
        return all(w.lower() in reply for w in want)
    if key == "reply_not_contains":
        return not any(w.lower() in reply for w in want)
    if key == "notice_contains":
        return want.lower() in notices
    if key == "notice_contains_scripted":
        return mode != "scripted" or want.lower() in notices
    if key == "kind":
        return record.get("kind") == want
    if key == "reply_mentions_item_genres":
        return bool(items) and any(g.lower() in reply for g in items[0]["genres"])
    if key == "reply_mentions_genres_of":
        return any(g.lower() in reply for g in catalog.item(want).genres)
    if key == "not_rated":
        rated = {catalog.items[r].id for r in agent.interactions.history(user)[0]} if user is not None else set()
        return not set(ids) & rated
    if key in ("person", "some_person", "no_person"):
        # "by Hitchcock", "with Tom Hanks" (person): at least 4 of 5 picks have them, or every catalog film with them;
        # "I really like Will Ferrell" (some_person): some pick has them; "I don't like Adam Sandler" (no_person): none
        from chat_rec.people import fold

        have = sum(any(fold(p) == fold(want) for p in catalog.item(i).director + catalog.item(i).cast) for i in ids)
        if key == "person":
            return bool(ids) and have >= min(4, len(agent.rec.people.of(want)))
        return bool(ids) and (have > 0) == (key == "some_person")
    if key == "kept":
        # "I didn't like the first one": the other picks of the previous list stay
        return previous is not None and len(set(ids) & set(previous)) >= want
    if key == "reply_asks":
        return ("?" in record.get("reply", "")) == bool(want)
    raise DataFormatError(f"unknown expectation {key!r}; the known ones: {', '.join(EXPECTATIONS)}")
