"""Intent reading on real people's words: ``tests/data/real_requests.yaml`` (seeker messages from ReDial and
INSPIRED, labelled with the constraints they state).

Each labelled message is read by an agent in a fresh session whose context is the message's recorded
context: titles the recommender had just named are on screen (``Session.last_items``, so "that one" and
"the second one" resolve) and never recommended again. The message then goes through ``Agent.turn`` and
two things are scored:

* **the reading**: per constraint kind, precision and recall of the turn's intent against the labels;
* **the picks**: the share of messages whose returned picks satisfy every constraint the message states,
  checked on the items (their genres, their own year, their titles, their text), not on the parse.
  A message the agent answers without picks is judged on the ranking the same session gets next
  (``Agent.rank``), the list a "go on" would show.

Per kind of label: the label, what it is read as, and when a pick satisfies it.

* ``genre``: ``genres`` (+ ``all_genres``), read as ``Intent.wanted_genres``; the pick has one of them (all of
  them with ``all_genres``).
* ``neg_genre``: ``neg_genres``, read as ``Intent.unwanted_genres``; the pick has none of them.
* ``era``: ``years`` or ``recent``, read as ``year_min`` / ``year_max`` equal to the label (recent: a lower
  bound only); the pick's own year is inside (recent: the catalog's last 10 years).
* ``like``: ``like``, read as liked or reference items; the pick is not one of them.
* ``not_like``: ``not_like``, read as disliked items; the pick is not one of them.
* ``neg_keyword``: ``neg_keywords``, read as ``unwanted_keywords`` (same stem: "gorey" ~ "gore"); the pick's
  text does not contain the word's stem.
* ``refers``: ``refers`` + sentiment, read as the item on screen it points at, liked / disliked / referenced;
  the pick is not that item.

Titles a catalog lacks are left out of both the reading and the picks (reported as ``unknown_titles``). A
message whose constraints fewer than ``k`` catalog items meet together ("from the 2000s" on MovieLens-100K,
which ends in 1998) is read and scored for its reading, but left out of the picks' share
(``unsatisfiable_in_catalog``).
Negation recall counts ``neg_genres``, ``not_like``, ``neg_keywords``, disliked ``refers`` and the eras of
messages that negate one ("nothing before 1990").
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from chat_rec.catalog import Item, item_text

KINDS = ("genre", "neg_genre", "era", "like", "not_like", "neg_keyword", "refers")
REFERS = {"that_one": -1, "it": -1, "last": -1, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5}
FIELDS = {
    "id",
    "pick",
    "context",
    "say",
    "genres",
    "all_genres",
    "neg_genres",
    "years",
    "recent",
    "like",
    "not_like",
    "neg_keywords",
    "refers",
    "refers_sentiment",
    "note",
}
NEGATED_ERA = re.compile(r"\b(no|not|nothing|none|never|without|n't|nt)\b", re.I)
RECENT_SPAN = 10


class LabelError(ValueError):
    pass


def load_real(path: Path) -> list[dict]:
    """The labelled messages; raises ``LabelError`` naming the entry on a malformed one."""
    with open(path, encoding="utf-8") as fh:
        cases = yaml.safe_load(fh) or []
    for n, case in enumerate(cases):
        if isinstance(case, dict):  # INSPIRED writes a quote mark as the token QUOTATION_MARK
            for key in ("say", "context"):
                if isinstance(case.get(key), str):
                    case[key] = case[key].replace("QUOTATION_MARK", '"')
                elif isinstance(case.get(key), list):
                    case[key] = [str(x).replace("QUOTATION_MARK", '"') for x in case[key]]
        where = f"{path}: entry {n + 1} ({case.get('id', '?') if isinstance(case, dict) else '?'})"
        if not isinstance(case, dict) or not isinstance(case.get("say"), str):
            raise LabelError(f"{where}: needs a 'say' string")
        unknown = set(case) - FIELDS
        if unknown:
            raise LabelError(f"{where}: unknown fields {sorted(unknown)}")
        years = case.get("years")
        if years is not None and (not isinstance(years, list) or len(years) != 2):
            raise LabelError(f"{where}: 'years' is [min, max]")
        if "refers" in case and str(case["refers"]) not in REFERS:
            raise LabelError(f"{where}: 'refers' is one of {sorted(REFERS)}")
    return cases


def film_year(item: Item) -> int | None:
    """The film's own year: the one in its title when there is one (ML-100K's dates can be re-releases)."""
    m = re.search(r"\((\d{4})\)\s*$", item.title)
    return int(m.group(1)) if m else item.year


def stem(word: str) -> str:
    word = word.lower().strip()
    return word[:4] if len(word) > 4 else word


def keyword_match(label: str, read: str) -> bool:
    """A read unwanted word answers a labelled one: the same stem ("gorey" ~ "gore"), or one of the
    reader's own expansions of it ("gory" -> "blood", "slasher")."""
    from chat_rec.recommender.intent import KEYWORD_EXPANSIONS

    label, read = label.lower(), read.lower()
    if stem(label) == stem(read) or read.startswith(stem(label)) or label.startswith(stem(read)):
        return True
    parts = [w for w in re.split(r"[-\s]", label) if len(w) >= 4]  # "r-rated" ~ "rated"
    if len(parts) > 1 or (parts and parts[0] != label):
        return any(stem(w) == stem(read) for w in parts)
    return any(
        read in words for key, words in KEYWORD_EXPANSIONS.items() if stem(key) == stem(label) or label in words
    )


@dataclass
class Expected:
    """A case's labels resolved against one catalog."""

    genres: set = field(default_factory=set)
    all_genres: bool = False
    neg_genres: set = field(default_factory=set)
    era: tuple | None = None  # (min, max) or ("recent",)
    like: set = field(default_factory=set)
    not_like: set = field(default_factory=set)
    neg_keywords: set = field(default_factory=set)
    refers: tuple | None = None  # (item id, sentiment)
    unknown_titles: int = 0

    def stated(self) -> bool:
        return bool(
            self.genres
            or self.neg_genres
            or self.era
            or self.like
            or self.not_like
            or self.neg_keywords
            or self.refers
        )


def context_session(agent, case: dict):
    """A fresh session holding the case's recorded context: the recommender's titles on screen
    (``Agent.observe``), the seeker's words in the transcript."""
    from chat_rec.session import Session

    session = Session()
    for line in case.get("context") or []:
        role, _, text = str(line).partition(":")
        if role.strip().lower() == "recommender":
            agent.observe(session, text.strip())
        else:
            session.transcript.append(("person", text.strip()))
    return session


def expected(case: dict, agent, session) -> Expected:
    titles, unknown = agent.titles, 0

    def resolve(names):
        nonlocal unknown
        out = set()
        for name in names or []:
            item = titles.lookup(str(name))
            if item is None:
                unknown += 1
            else:
                out.add(item)
        return out

    exp = Expected(set(case.get("genres") or []), bool(case.get("all_genres")), set(case.get("neg_genres") or []))
    if case.get("years"):
        lo, hi = case["years"]
        exp.era = (lo, hi)
    elif case.get("recent"):
        exp.era = ("recent",)
    exp.like, exp.not_like = resolve(case.get("like")), resolve(case.get("not_like"))
    exp.neg_keywords = {str(w).lower() for w in case.get("neg_keywords") or []}
    if "refers" in case and session.last_items:
        rank = REFERS[str(case["refers"])]
        if rank <= len(session.last_items):
            item = session.last_items[rank - 1] if rank > 0 else session.last_items[-1]
            exp.refers = (item, case.get("refers_sentiment", "more_like"))
    exp.unknown_titles = unknown
    return exp


def violations(item: Item, exp: Expected, newest: int, text: str | None = None) -> list[str]:
    """The constraint kinds this pick breaks (``text``: the item's lowercased text, when at hand)."""
    out = []
    genres = set(item.genres)
    if exp.genres and not (exp.genres <= genres if exp.all_genres else exp.genres & genres):
        out.append("genre")
    if exp.neg_genres & genres:
        out.append("neg_genre")
    year = film_year(item)
    if exp.era:
        lo, hi = (newest - RECENT_SPAN + 1, None) if exp.era == ("recent",) else exp.era
        if year is None or (lo is not None and year < lo) or (hi is not None and year > hi):
            out.append("era")
    if item.id in exp.like:
        out.append("like")
    if item.id in exp.not_like:
        out.append("not_like")
    if exp.neg_keywords:
        text = text if text is not None else item_text(item).lower()
        if any(re.search(rf"\b{re.escape(stem(w))}", text) for w in exp.neg_keywords):
            out.append("neg_keyword")
    if exp.refers and item.id == exp.refers[0]:
        out.append("refers")
    return out


class _Counts:
    def __init__(self):
        self.tp = dict.fromkeys(KINDS, 0)
        self.fp = dict.fromkeys(KINDS, 0)
        self.fn = dict.fromkeys(KINDS, 0)

    def add(self, kind: str, want: set, got: set, match=None):
        match = match or (lambda a, b: a == b)
        hit_want = {w for w in want if any(match(w, g) for g in got)}
        hit_got = {g for g in got if any(match(w, g) for w in want)}
        self.tp[kind] += len(hit_want)
        self.fn[kind] += len(want) - len(hit_want)
        self.fp[kind] += len(got) - len(hit_got)

    def table(self) -> dict:
        out = {}
        for k in KINDS:
            tp, fp, fn = self.tp[k], self.fp[k], self.fn[k]
            out[k] = {
                "precision": round(tp / (tp + fp), 4) if tp + fp else None,
                "recall": round(tp / (tp + fn), 4) if tp + fn else None,
                "labelled": tp + fn,
                "read": tp + fp,
            }
        return out


def _era_read(intent) -> tuple | None:
    if intent.year_min is None and intent.year_max is None:
        return None
    return (intent.year_min, intent.year_max)


def _era_match(want, got) -> bool:
    if want == ("recent",):
        return got[0] is not None and got[1] is None
    return tuple(want) == tuple(got)


def score_real(agent, cases: list[dict], *, progress: bool = True, desc: str = "real requests") -> dict:
    """Score ``agent`` (its reader as configured) on the labelled ``cases``: see the module docstring."""
    from tqdm import tqdm

    counts = _Counts()
    n_stated = n_ok = n_no_picks = unknown = 0
    neg_total = neg_found = 0
    referenced_returned = 0
    kind_fail = dict.fromkeys(KINDS, 0)
    catalog = agent.catalog
    newest = int(max((film_year(i) or 0) for i in catalog.items))
    texts = [item_text(i).lower() for i in catalog.items]
    n_picks = agent.config.k
    unsatisfiable = 0
    misses, seconds = [], []
    for case in tqdm(cases, desc=desc, disable=not progress, unit="msg"):
        session = context_session(agent, case)
        exp = expected(case, agent, session)
        unknown += exp.unknown_titles
        started = time.perf_counter()
        reply = agent.turn(case["say"], session)
        seconds.append(time.perf_counter() - started)
        intent = reply.intent
        counts.add("genre", exp.genres, set(intent.wanted_genres))
        counts.add("neg_genre", exp.neg_genres, set(intent.unwanted_genres))
        era = _era_read(intent)
        counts.add("era", {exp.era} if exp.era else set(), {era} if era else set(), _era_match)
        positive = set(intent.liked_items) | set(intent.reference_items)
        refer_item = exp.refers[0] if exp.refers else None
        counts.add("like", exp.like, positive - ({refer_item} if refer_item is not None else set()) - exp.not_like)
        counts.add(
            "not_like", exp.not_like, set(intent.disliked_items) - ({refer_item} if refer_item is not None else set())
        )
        counts.add("neg_keyword", exp.neg_keywords, set(intent.unwanted_keywords), keyword_match)
        if exp.refers:
            item, sentiment = exp.refers
            got = item in (set(intent.disliked_items) if sentiment == "dislike" else positive)
            counts.add("refers", {item}, {item} if got else set())
        negations = len(exp.neg_genres) + len(exp.not_like) + len(exp.neg_keywords)
        found = (
            len(exp.neg_genres & set(intent.unwanted_genres))
            + len(exp.not_like & set(intent.disliked_items))
            + sum(any(keyword_match(w, k) for k in intent.unwanted_keywords) for w in exp.neg_keywords)
        )
        if exp.refers and exp.refers[1] == "dislike":
            negations += 1
            found += exp.refers[0] in intent.disliked_items
        if exp.era and exp.era != ("recent",) and NEGATED_ERA.search(case["say"]):
            negations += 1
            found += era is not None and _era_match(exp.era, era)
        neg_total, neg_found = neg_total + negations, neg_found + found
        if not exp.stated():
            continue
        satisfying = sum(not violations(it, exp, newest, texts[row]) for row, it in enumerate(catalog.items))
        if satisfying < n_picks:  # "from the 2000s" on a catalog that ends in 1998: no list can satisfy it
            unsatisfiable += 1
            continue
        n_stated += 1
        items = [catalog.item(r.item_id) for r in reply.items]
        if not items:
            n_no_picks += 1
            items = [catalog.items[s.row] for s in agent.rank(session).items]
        broken = sorted({v for it in items for v in violations(it, exp, newest, texts[catalog.row(it.id)])})
        referenced_returned += any(
            it.id in exp.like | exp.not_like or (exp.refers and it.id == exp.refers[0]) for it in items
        )
        for k in broken:
            kind_fail[k] += 1
        if broken or not items:
            misses.append(
                {
                    "id": case.get("id"),
                    "say": case["say"],
                    "broken": broken or ["no picks"],
                    "read": intent.model_dump(
                        include={"wanted_genres", "unwanted_genres", "year_min", "year_max", "unwanted_keywords"}
                    ),
                    "picks": [it.title for it in items],
                }
            )
        else:
            n_ok += 1
    times = np.asarray(seconds) * 1000 if seconds else np.zeros(1)
    return {
        "n_cases": len(cases),
        "n_with_constraints": n_stated,
        "unsatisfiable_in_catalog": unsatisfiable,
        "all_constraints_met": round(n_ok / n_stated, 4) if n_stated else None,
        "failed_by_kind": kind_fail,
        "referenced_title_returned": referenced_returned,
        "answered_without_picks": n_no_picks,
        "unknown_titles": unknown,
        "negation_recall": round(neg_found / neg_total, 4) if neg_total else None,
        "n_negations": neg_total,
        "by_kind": counts.table(),
        "turn_ms": {"median": round(float(np.median(times)), 1), "p95": round(float(np.percentile(times, 95)), 1)},
        "misses": misses,
    }


def format_real(label: str, r: dict) -> str:
    kinds = "  ".join(
        f"{k} P {_f(v['precision'])} R {_f(v['recall'])} (n={v['labelled']})"
        for k, v in r["by_kind"].items()
        if v["labelled"] or v["read"]
    )
    return (
        f"real requests [{label}]: {r['n_with_constraints']}/{r['n_cases']} with constraints a catalog list can meet "
        f"({r['unsatisfiable_in_catalog']} cannot); all constraints met "
        f"{_f(r['all_constraints_met'])}; negation recall {_f(r['negation_recall'])} over {r['n_negations']}; "
        f"referenced title returned {r['referenced_title_returned']}; turn median {r['turn_ms']['median']} ms "
        f"p95 {r['turn_ms']['p95']} ms\n    {kinds}"
    )


def _f(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"
