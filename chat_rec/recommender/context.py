"""The re-ranker's query text: who the person is, when/where they ask, what they asked, what they like.

One format serves training (built from a MovieLens user's profile, their history and the time of their
latest rating) and chat (built from the Intent, the session's likes and the UI context), so the model
reads the same kind of text in both. Parts come in a fixed order and the expendable one (loved titles)
comes last, so the re-ranker's query window (36 word pieces) cuts titles, never the request:

    "woman 25-34 engineer; weekend evening; asks: scary 80s, horror, not gory; likes horror, sci-fi;
     loved alien (1979), the thing (1982)"
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import numpy as np

from chat_rec.catalog import Catalog, Interactions, display_title

PARTS = ("profile", "context", "request", "history")
AGE_BANDS = ((18, "under 18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (50, "45-49"), (56, "50-55"))


def age_band(age) -> str:
    try:
        age = int(age)
    except (TypeError, ValueError):
        return ""
    for upper, label in AGE_BANDS:
        if age < upper:
            return label
    return "56+"


def profile_text(profile: dict | None) -> str:
    """``{"age": 24, "gender": "M", "occupation": "technician"}`` -> ``"man 18-24 technician"``."""
    if not profile:
        return ""
    gender = {"M": "man", "F": "woman"}.get(str(profile.get("gender", "")).upper(), "")
    occupation = str(profile.get("occupation", "") or "").replace("none", "").strip()
    return " ".join(p for p in (gender, age_band(profile.get("age")), occupation) if p)


def time_context(when: float | datetime | None) -> str:
    """``"weekend evening"``: the day kind and the part of the day (UTC for timestamps)."""
    if when is None:
        return ""
    if not isinstance(when, datetime):
        when = datetime.fromtimestamp(float(when), tz=UTC)
    day = "weekend" if when.weekday() >= 5 else "weekday"
    hour = when.hour
    part = "morning" if 5 <= hour < 12 else "afternoon" if hour < 17 else "evening" if hour < 22 else "night"
    return f"{day} {part}"


def ui_context(context: dict[str, str] | None) -> str:
    """The UI's context dict (``device``, ``time``) as words, e.g. ``"phone, weekend evening"``."""
    if not context:
        return ""
    return ", ".join(
        v.strip().lower() for k, v in sorted(context.items()) if v and v.strip() and k in ("device", "time")
    )


def history_text(
    catalog: Catalog,
    rows: Sequence[int],
    ratings: Sequence[float] | None = None,
    n_genres: int = 3,
    n_titles: int = 4,
    min_rating: float = 4.0,
    max_bad: float = 2.0,
) -> str:
    """``"likes drama, comedy; dislikes horror; loved fargo (1996), star wars (1977)"`` from rated items.

    Liked genres are counted over the well-rated items (all items when none is), disliked ones over items
    rated ``max_bad`` or less; titles are the best rated, latest first among ties (the order given is
    taken as time order).
    """
    rows = list(rows)
    if not rows:
        return ""
    ratings = list(ratings) if ratings is not None else [5.0] * len(rows)
    good = [r for r, x in zip(rows, ratings) if x >= min_rating] or rows
    genres = Counter(g for r in good for g in catalog.items[r].genres if g.lower() != "unknown")
    order = sorted(range(len(rows)), key=lambda j: (-ratings[j], -j))
    titles = [display_title(catalog.items[rows[j]].title) for j in order if ratings[j] >= min_rating][:n_titles]
    liked = [g for g, _ in genres.most_common(n_genres)]
    bad = Counter(
        g
        for r, x in zip(rows, ratings)
        if x <= max_bad
        for g in catalog.items[r].genres
        if g.lower() != "unknown" and g not in liked
    )
    parts = []
    if genres:
        parts.append("likes " + ", ".join(g.lower() for g in liked))
    if bad:
        parts.append("dislikes " + ", ".join(g.lower() for g, _ in bad.most_common(2)))
    if titles:
        parts.append("loved " + ", ".join(t.lower() for t in titles))
    return "; ".join(parts)


def compose(
    profile: str = "", context: str = "", request: str = "", history: str = "", drop: Iterable[str] = ()
) -> str:
    """Join the parts in the fixed order, leaving out empty ones and those named in ``drop``."""
    drop = set(drop)
    values = {
        "profile": profile,
        "context": context,
        "request": f"asks: {request}" if request else "",
        "history": history,
    }
    return "; ".join(values[p] for p in PARTS if values[p] and p not in drop)


def request_text(intent) -> str:
    """What the person asked, from an Intent: keywords, genres, mood, era and what they ruled out."""
    words = list(intent.keywords)
    words += [g.lower() for g in intent.wanted_genres]
    if intent.mood:
        words.append(intent.mood)
    if intent.year_min and intent.year_max:
        words.append(f"{intent.year_min}-{intent.year_max}")
    elif intent.year_min:
        words.append(f"after {intent.year_min}")
    elif intent.year_max:
        words.append(f"before {intent.year_max}")
    nots = [g.lower() for g in intent.unwanted_genres] + list(intent.unwanted_keywords)
    if nots:
        words.append("not " + ", not ".join(nots))
    return ", ".join(w for w in dict.fromkeys(words) if w)


def offline_parts(catalog: Catalog, interactions: Interactions, user_row: int) -> tuple[str, str, str]:
    """(profile, context, history) of a dataset user: the context is the time of their latest event."""
    mask = interactions.user_rows == user_row
    order = np.argsort(interactions.timestamps[mask], kind="stable")
    rows, ratings = interactions.item_rows[mask][order], interactions.ratings[mask][order]
    last = float(interactions.timestamps[mask].max()) if mask.any() else None
    profile = interactions.users.get(interactions.user_ids[user_row], {})
    return profile_text(profile), time_context(last), history_text(catalog, rows, ratings)


def offline_query(catalog: Catalog, interactions: Interactions, user_row: int, drop: Iterable[str] = ()) -> str:
    """The query text of a dataset user (training and offline evaluation)."""
    profile, context, history = offline_parts(catalog, interactions, user_row)
    return compose(profile, context, "", history, drop=drop)
