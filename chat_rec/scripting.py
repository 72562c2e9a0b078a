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
``expect:`` (checked by the test runner, ignored here).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import yaml

from chat_rec.agent import Agent
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
