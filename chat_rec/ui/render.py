"""Pure functions from agent data to what the browser shows (no Gradio import: unit-tested directly)."""

from __future__ import annotations

import html

from ..agent import Recommendation, Reply
from ..catalog import display_title


def card_markdown(rank: int, rec: Recommendation) -> str:
    year = f" ({rec.year})" if rec.year and str(rec.year) not in rec.title else ""
    genres = " · ".join(rec.genres)
    return f"**{rank}. {html.escape(display_title(rec.title))}{year}**  \n_{html.escape(genres)}_  \n{html.escape(rec.explanation)}"


def reply_messages(message: str, reply: Reply) -> list[dict]:
    """The chat messages of one turn: the person's words, the reply, one message per pick (likeable)."""
    text = reply.text
    if reply.notices:
        text += "\n\n" + "\n".join(f"> ℹ️ {html.escape(n)}" for n in reply.notices)
    out = [{"role": "user", "content": message}, {"role": "assistant", "content": text}]
    if reply.kind != "explain":
        out += [{"role": "assistant", "content": card_markdown(i, r)} for i, r in enumerate(reply.items, 1)]
    return out


def why_markdown(rec: Recommendation) -> str:
    facts = "\n".join(f"- {html.escape(f)}" for f in rec.facts) or "- no specific facts: a popular pick"
    return f"### Why {html.escape(display_title(rec.title))}?\n{facts}"


def influence_rows(weights: list[tuple[str, float]]) -> dict:
    """Columns for a bar plot of word influence, strongest first."""
    ordered = sorted(weights, key=lambda wv: -abs(wv[1]))
    return {"word": [w for w, _ in ordered], "influence": [v for _, v in ordered]}


def user_summary(titles: list[str], user_id) -> str:
    if user_id in (None, ""):
        return "New user: recommendations come from this conversation."
    if not titles:
        return f"User {html.escape(str(user_id))} has no ratings in this catalog."
    return f"**User {html.escape(str(user_id))}** rated highly: " + ", ".join(html.escape(display_title(t)) for t in titles)
