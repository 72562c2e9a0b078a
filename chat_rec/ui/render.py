"""Pure functions from agent data to what the browser shows (no Gradio import: unit-tested directly)."""

from __future__ import annotations

import html
import re

from chat_rec.catalog import display_title
from chat_rec.session import Recommendation, Reply

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")
#: what starts a list, a rule, a heading underline or a code block at the start of a line
_LINE_START = re.compile(r"^(?:([-+=])|(\d+)(?=[.)]))", re.M)


def md(text: str) -> str:
    """Plain text made safe inside Markdown: HTML escaped, Markdown's special characters backslashed ("M*A*S*H"
    stays M*A*S*H, not italics), and a line's leading list, rule or heading marker or indentation made plain
    (the person's "- item" or "1. one" shows as typed, not as a list)."""
    text = _MD_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False))
    text = re.sub(r"^[ \t]+", "", text, flags=re.M)
    return _LINE_START.sub(lambda m: "\\" + m.group(1) if m.group(1) else m.group(2) + "\\", text)


def card_title(title: str, year) -> str:
    """One year: the film's own, as in its title; added only when the title has none."""
    shown = display_title(title)
    return shown if not year or re.search(r"\(\d{4}\)", shown) else f"{shown} ({year})"


def card_markdown(rank: int, rec: Recommendation) -> str:
    genres = " · ".join(rec.genres)
    return f"**{rank}. {md(card_title(rec.title, rec.year))}**  \n_{md(genres)}_  \n{md(rec.explanation)}"


def reply_messages(message: str, reply: Reply) -> list[dict]:
    """The chat messages of one turn: the person's words, the reply, one message per pick (likeable)."""
    text = md(reply.text) + (" …" if reply.stage == "text" else "")
    if reply.notices:
        text += "\n\n" + "\n".join(f"> ℹ️ {md(n)}" for n in reply.notices)
    if reply.pending and reply.stage != "text":
        text += f"\n\n*⏳ {md(reply.pending)} …*"
    out = [{"role": "user", "content": md(message)}, {"role": "assistant", "content": text}]
    if reply.kind != "explain":
        out += [{"role": "assistant", "content": card_markdown(i, r)} for i, r in enumerate(reply.items, 1)]
    return out


def why_markdown(rec: Recommendation) -> str:
    facts = "\n".join(f"- {md(f)}" for f in rec.facts) or "- no specific facts: a popular pick"
    return f"### Why {md(display_title(rec.title))}?\n{facts}"


def influence_rows(weights: list[tuple[str, float]]) -> dict:
    """Columns for a bar plot of word influence, strongest first."""
    ordered = sorted(weights, key=lambda wv: -abs(wv[1]))
    return {"word": [w for w, _ in ordered], "influence": [v for _, v in ordered]}


def user_summary(titles: list[str], user_id) -> str:
    if user_id in (None, ""):
        return "New user: recommendations come from this conversation."
    if not titles:
        return f"User {html.escape(str(user_id))} has no ratings in this catalog."
    return f"**User {md(str(user_id))}** rated highly: " + ", ".join(md(display_title(t)) for t in titles)
