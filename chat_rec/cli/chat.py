"""`chat-rec chat` (a script, JSON lines or the interactive shell): the agent in the terminal."""

from __future__ import annotations

import json
from pathlib import Path

from chat_rec.cli.common import build_index, load_catalog, make_config, read_lines
from chat_rec.cli.data import print_hits
from chat_rec.config import MAX_QUERY_CHARS


def cmd_shell(args) -> int:
    """Interactive terminal search over the catalog (the chat replaces it in a later issue)."""
    from chat_rec.errors import QueryError
    from chat_rec.models.index import check_query

    cfg = make_config(args)
    print("Loading the catalog and the item index ...", flush=True)
    catalog, built = build_index(args, cfg)
    print(
        f"{len(catalog)} items of {catalog.name!r}. Type what you are looking for "
        "(e.g. 'space survival horror'); an empty line or Ctrl-D quits."
    )
    for line in read_lines("search> "):
        try:
            query, notices = check_query(line, MAX_QUERY_CHARS)
        except QueryError as exc:
            print(exc)
            continue
        for notice in notices:
            print(f"note: {notice}")
        print_hits(catalog, built.search_text(query, args.k))
    return 0


def agent_from_args(args):
    from chat_rec.assemble import build_agent

    cfg = make_config(args)
    return build_agent(
        cfg, llm_kind=args.llm, dataset=load_catalog(args, cfg)
    )  # data errors surface before models load


def cmd_chat(args) -> int:
    from chat_rec.scripting import load_script, run_script
    from chat_rec.session import Session

    script = load_script(Path(args.script)) if args.script else None
    agent = agent_from_args(args)
    if script is not None:
        if args.user is not None:
            script["user"] = args.user
        for record in run_script(agent, script):
            if args.json:
                for key in ("seconds", "kind", "first_seconds", "refined", "timings"):
                    record.pop(key, None)
                print(json.dumps(record, ensure_ascii=False), flush=True)
            else:
                print_record(record)
        return 0
    session = Session(user_id=args.user)
    print("chat-rec: tell me what you'd like to watch (empty line or Ctrl-D quits; '+N'/'-N' = 👍/👎 on item N).")
    for line in read_lines("you> "):
        if line.strip()[:1] in "+-" and line.strip()[1:].isdigit():
            rank = int(line.strip()[1:])
            if 0 < rank <= len(session.last_items):
                print(
                    agent.record_feedback(
                        session, session.last_items[rank - 1], "up" if line.strip()[0] == "+" else "down"
                    )
                )
            continue
        reply = agent.turn(line, session)
        print_record({**reply.to_json(), "seconds": round(reply.seconds, 2)})
    return 0


def print_record(record: dict) -> None:
    if "feedback" in record:
        print(f"[feedback] {record['result']}")
        return
    for notice in record.get("notices", []):
        print(f"  (note: {notice})")
    print(f"bot> {record['reply']}")
    for rank, item in enumerate(record.get("items", []), 1):
        print(f"  {rank}. {item['title']} [{', '.join(item['genres'])}] — {item['explanation']}")
