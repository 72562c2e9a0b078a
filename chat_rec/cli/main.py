"""The `chat-rec` argument parser: one sub-command per group, each handled in its own module."""

from __future__ import annotations

import argparse
import logging
import sys

from chat_rec.cli.bench import cmd_bench_feedback, cmd_bench_load, cmd_bench_scale, cmd_bench_turn
from chat_rec.cli.chat import cmd_chat, cmd_shell
from chat_rec.cli.common import REAL_REQUESTS, WRITTEN_REQUESTS, add_catalog_args
from chat_rec.cli.data import cmd_data_check_facts, cmd_data_fetch, cmd_index_build, cmd_llm_fetch, cmd_search
from chat_rec.cli.dialogues import add_eval_args, cmd_data_pack_redial
from chat_rec.cli.evaluate import cmd_eval
from chat_rec.config import ConfigError
from chat_rec.errors import ChatRecError


def build_parser() -> argparse.ArgumentParser:
    import chat_rec.cli.reranker as cli_reranker
    import chat_rec.cli.results as cli_results

    parser = argparse.ArgumentParser(prog="chat-rec", description="Conversational, explainable recommender.")
    parser.add_argument("--data-dir", help="where data, caches and indexes live (default ./data, or CHATREC_DATA_DIR)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="datasets").add_subparsers(dest="action", required=True)
    fetch = data.add_parser("fetch", help="make a dataset available under the data directory")
    fetch.add_argument("dataset", choices=("movielens-100k",))
    fetch.add_argument("--force", action="store_true", help="fetch again even if present")
    fetch.add_argument("--offline", action="store_true", help="local sources only, no downloads")
    fetch.set_defaults(fn=cmd_data_fetch)

    facts = data.add_parser(
        "check-facts", help="the packaged directors against the team's IMDb details (agreement, disagreements)"
    )
    facts.add_argument("--details", help="the details CSV (default: found under the data folders)")
    facts.add_argument("--out", help="write the result JSON here")
    facts.add_argument("--catalog", choices=("movielens-100k", "redial"), help="redial: the packaged ReDial facts")
    facts.set_defaults(fn=cmd_data_check_facts)

    pack = data.add_parser("pack-redial", help="write the packaged ReDial catalog from the team data (make redial)")
    pack.add_argument("--movies", help="movies_with_mentions.csv (default: the team data folder)")
    pack.add_argument("--corpus", help="ReDial training dialogues (default: the team's train_recovered.jsonl)")
    pack.add_argument("--facts", action="append", help="written facts TSV (repeatable)")
    pack.add_argument("--out", help="the pack folder (default: the package's chat_rec/datasets/data/redial)")
    pack.set_defaults(fn=cmd_data_pack_redial)

    index = sub.add_parser("index", help="the item index").add_subparsers(dest="action", required=True)
    build = index.add_parser("build", help="embed item texts (cached) and build the FAISS index")
    add_catalog_args(build)
    build.set_defaults(fn=cmd_index_build)

    search = sub.add_parser("search", help="semantic search over the catalog")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=10)
    search.add_argument("--genre", action="append", help="keep items with one of these genres (repeatable)")
    search.add_argument("--not-genre", action="append", help="drop items with this genre (repeatable)")
    search.add_argument("--year-min", type=int)
    search.add_argument("--year-max", type=int)
    search.add_argument("--exclude", action="append", help="item id never to return (repeatable)")
    add_catalog_args(search)
    search.set_defaults(fn=cmd_search)

    shell = sub.add_parser("shell", help="interactive terminal search")
    shell.add_argument("-k", type=int, default=10)
    add_catalog_args(shell)
    shell.set_defaults(fn=cmd_shell)

    chat = sub.add_parser("chat", help="chat in the terminal, or run a scripted conversation")
    chat.add_argument(
        "--user", type=lambda v: int(v) if v.isdigit() else v, help="a known user id (history is loaded)"
    )
    chat.add_argument(
        "--llm", choices=("local", "openai", "none"), help="language model (default CHATREC_LLM or local)"
    )
    chat.add_argument("--script", help="YAML script of turns (see chat_rec/scripting.py)")
    chat.add_argument("--json", action="store_true", help="with --script: one JSON object per turn")
    add_catalog_args(chat)
    chat.set_defaults(fn=cmd_chat)

    llm = sub.add_parser("llm", help="the local language model").add_subparsers(dest="action", required=True)
    llm_fetch = llm.add_parser("fetch", help="download, join and verify the embedded GGUF into data/models/")
    llm_fetch.add_argument("--force", action="store_true")
    llm_fetch.set_defaults(fn=cmd_llm_fetch)

    bench = sub.add_parser("bench", help="benchmarks").add_subparsers(dest="action", required=True)
    bench_turn = bench.add_parser("turn", help="seconds per chat turn over the conversation scripts")
    bench_turn.add_argument("--llm", choices=("local", "openai", "none"))
    bench_turn.add_argument("--scripts", default="tests/conversations")
    bench_turn.add_argument(
        "--dialogues", help="ReDial JSONL: time real seekers' messages on the ReDial catalog instead"
    )
    bench_turn.add_argument("--max-dialogues", type=int, default=60)
    bench_turn.add_argument("--reader", choices=("refine", "merge", "rules", "llm"), help="who reads intent")
    bench_turn.add_argument("--out", help="write the served configuration's numbers as JSON")
    add_catalog_args(bench_turn)
    bench_turn.set_defaults(fn=cmd_bench_turn)

    bench_fb = bench.add_parser("feedback", help="milliseconds per 👍/👎 update")
    bench_fb.add_argument("-n", type=int, default=200)
    bench_fb.add_argument("--postgres", help="also a PostgreSQL store at this postgresql:// URL (same run)")
    bench_fb.add_argument("--out", help="write the numbers as JSON, e.g. results/bench-feedback.json")
    bench_fb.set_defaults(fn=cmd_bench_feedback)

    bench_scale = bench.add_parser(
        "scale", help="turn cost, index recall and memory on synthetic catalogs of many sizes"
    )
    bench_scale.add_argument("--items", default="10000,100000,1000000", help="comma-separated catalog sizes")
    bench_scale.add_argument("--index", default="flat,hnsw", help="index kinds per size: flat, ivf, hnsw")
    bench_scale.add_argument(
        "--work", help="folder for the generated vectors and indexes (default: a new temp folder)"
    )
    bench_scale.add_argument("--real", type=int, default=1000, help="items per size embedded for real with MiniLM")
    bench_scale.add_argument("--timeout", type=float, default=5400.0, help="seconds for one prepare or serve process")
    bench_scale.add_argument("--out", help="write the rows as JSON, e.g. results/bench-scale.json")
    bench_scale.set_defaults(fn=cmd_bench_scale)

    bench_load = bench.add_parser("load", help="many visitors at once over HTTP against the running app")
    bench_load.add_argument("--sessions", default="10,50", help="comma-separated visitor counts, e.g. 10,50")
    bench_load.add_argument("--turns", type=int, default=5, help="turns per visitor (plus their 👍/👎)")
    bench_load.add_argument("--llm", choices=("none", "local"), default="none", help="the app's LLM when started here")
    bench_load.add_argument("--url", help="a running app (default: start app.py on 127.0.0.1 with a scratch store)")
    bench_load.add_argument(
        "--think", default="3,8", help="seconds a visitor takes per message, uniform in MIN,MAX (0,0: none)"
    )
    bench_load.add_argument("--timeout", type=float, default=900.0, help="seconds for one run of all visitors")
    bench_load.add_argument("--out", help="write the rows as JSON (rows of the other LLM setting are kept)")
    bench_load.set_defaults(fn=cmd_bench_load)

    cli_reranker.add_bench(bench, add_catalog_args)
    cli_reranker.add_commands(sub, add_catalog_args)
    cli_results.add_command(sub)

    ev = sub.add_parser("eval", help="offline evaluation")
    ev.add_argument("protocol", help="chatrec-ml100k | intents | dialogue | people | simulate | redial | inspired")
    ev.add_argument("--users", type=int, default=200, help="for simulate: simulated users")
    ev.add_argument("--turns", type=int, default=5, help="for simulate: turns per conversation")
    ev.add_argument(
        "--user-model",
        choices=("keywords", "talker", "both", "ratings"),
        default="both",
        help="for simulate: the keyword-per-turn person (10 picks a turn), the person who talks in "
        "everyday words and critiques (5 picks a turn), or both; 'ratings': talkers who give 👍/👎 by their "
        "own held-out MovieLens ratings, from the half of the users the 👍/👎 head was not fitted on",
    )
    ev.add_argument(
        "--known-users",
        action="store_true",
        help="for simulate: the agent loads each user's MovieLens history (default: new chat users)",
    )
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument(
        "--llm",
        choices=("local", "openai", "none"),
        help="for intents: the LLM merged with the rules; for dialogue: rules only (none) and with this LLM",
    )
    ev.add_argument("--readers", help="for intents --set real: comma-separated, of refine, merge, rules, llm")
    ev.add_argument(
        "--set",
        choices=("written", "real"),
        default="written",
        help="for intents: the requests written alongside the parser (genre F1, negation recall) or "
        "real seekers' words (per-constraint precision/recall and the picks that satisfy them); for dialogue: "
        "real seekers' turns with their context (tests/data/dialogue_real.yaml)",
    )
    ev.add_argument(
        "--on",
        choices=("configured", "redial"),
        default="configured",
        help="for intents --set real: the configured catalog (default) or the ReDial catalog the "
        "seekers talked about (from the team data folder)",
    )
    ev.add_argument(
        "--labels", help=f"for intents: labelled requests (YAML; default {WRITTEN_REQUESTS} or {REAL_REQUESTS})"
    )
    ev.add_argument(
        "--reranker",
        help="for chatrec-ml100k: checkpoint for the cf+rerank rows (default: "
        "data/models/reranker.pt when present; 'none' skips them). For redial/inspired: a re-ranker "
        "trained on the --train dialogues (`chat-rec train ranker --dialogues ...`), its weight refitted "
        "on its own held-out dialogues (default: none)",
    )
    ev.add_argument(
        "--with-llm", action="store_true", help="for chatrec-ml100k: add the slow cf+llm row (200-user sample)"
    )

    add_eval_args(ev)
    ev.add_argument(
        "--packaged-texts",
        action="store_true",
        help="the package's own MovieLens-100K descriptions and facts, as a fresh install serves them, even where "
        "the team's IMDb details are found (for dialogue, people, intents)",
    )
    ev.add_argument("--out", help="write the result JSON here")
    ev.set_defaults(fn=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if getattr(args, "k", 1) is not None and getattr(args, "k", 1) < 1:
        parser.error("-k must be at least 1")
    try:
        return args.fn(args)
    except (ChatRecError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
