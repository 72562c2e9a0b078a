"""The "why" answer written by the language model, streamed token by token and checked as it comes: text
reaches the person only once every year, name and title in it is in the item's facts, its record or the
person's words (``recommender.explain.grounded``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from chat_rec.recommender.explain import grounded, short_title
from chat_rec.recommender.intent.llm_reader import LLMFailure
from chat_rec.session import Reply, Session

log = logging.getLogger(__name__)


def stream_explanation(llm, titles, reply: Reply, session: Session, started: float) -> Iterator[Reply]:
    """The "why" answer written by the language model from the item's facts, token by token. Text reaches
    the person only once it passes the grounding check (every year, name and title in it is in the facts,
    the record or the person's words); a check that fails stops the model, and the record's answer
    stands."""
    item, facts = reply._rewrite
    fallback = reply.text
    facts_text = f"{short_title(item)} ({item.year}); genres: {', '.join(item.genres)}; " + "; ".join(
        f.text for f in facts
    )
    allowed = " ".join(
        [facts_text, item.title, item.description, " ".join(item.director), " ".join(item.cast), *session.messages]
    )
    # the record's first sentence, read past the title ("When Harry Met Sally...", "L.A. Confidential")
    skip = len(short_title(item)) if fallback.startswith(short_title(item)) else 0
    lead = fallback[: fallback.find(". ", skip) + 1 or len(fallback)] + " "

    def check(text: str) -> tuple[bool, str]:
        return grounded(text, allowed, titles, own_title=item.title, own_id=item.id, own_year=item.year)

    def partial(text: str, stage: str = "text", pending: str = "writing the answer") -> Reply:
        out = Reply(text, reply.items, list(reply.notices), reply.intent, "explain", stage=stage, pending=pending)
        out.seconds = time.perf_counter() - started
        return out

    yield partial(lead)
    prose, shown = "", ""
    stream = llm.rewrite_stream(facts_text)
    try:
        for token in stream:
            prose += token
            ready = prose[: prose.rstrip().rfind(" ") + 1] if " " in prose.strip() else ""
            if len(ready) <= len(shown):
                continue
            ok, reason = check(ready)
            if not ok:
                log.info("LLM explanation stopped: %s", reason)
                prose = ""
                break
            shown = ready
            head = "" if shown.startswith(short_title(item)) else lead
            yield partial(head + shown)
    except LLMFailure as exc:
        reply.notices.append(f"{exc}; here is the plain explanation")
        prose = ""
    finally:
        stream.close()
    prose = prose.strip()
    ok, reason = check(prose) if prose else (False, "empty")
    if ok:
        reply.text = prose if prose.startswith(short_title(item)) else lead + prose
    else:
        log.info("LLM explanation rejected: %s", reason)
        reply.text = fallback
    reply.stage, reply.pending = "final", ""
    reply.seconds = time.perf_counter() - started
    reply.timings = {f"text_llm_{name}": ms for name, ms in llm.timings.items()}
    yield reply
