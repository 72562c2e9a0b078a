"""`chat-rec bench turn` and `bench feedback`: medians and percentiles against a baseline of the same run."""

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from pathlib import Path

from chat_rec.cli.common import load_catalog, make_config, percentiles
from chat_rec.errors import ChatRecError
from chat_rec.files import keep_rows, write_result


def with_reranker_variants(agent, cfg):
    """The served agent, then the same agent with its re-ranker out (or, when the served fusion gives it
    no weight and a checkpoint exists, in at weight 0.5; or, when a tree stage serves this catalog, with
    it out): each stage's cost beside its baseline, in the same run."""
    from chat_rec.assemble import load_reranker
    from chat_rec.models.reranker import IdentityReranker
    from chat_rec.recommender.fusion import RERANKER, FusionModel, with_reranker

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
    the configured catalog, or with ``--dialogues`` over real seekers' messages on the ReDial catalog.

    The scripts' ``expect:`` are checked on the served configuration (``scripting.failed_expectations``, as the
    conversation tests check them): exit status 1, naming each failed turn, when one does not hold."""
    import sys

    from chat_rec.assemble import build_agent, warm_llm
    from chat_rec.scripting import failed_expectations, load_script, run_script
    from chat_rec.session import Session

    cfg = make_config(args)
    if args.dialogues:
        from chat_rec.cli.dialogues import dialogue_turn_agent, dialogue_turns

        agent, dialogues = dialogue_turn_agent(cfg, args)
        out = {"catalog": agent.catalog.name, "items": len(agent.catalog), "dialogues": len(dialogues), "variants": {}}
        for label, variant in with_reranker_variants(agent, cfg):
            variant.rec._encoded.clear()  # each variant encodes the words afresh, as the chat does
            times = dialogue_turns(variant, dialogues)
            out["variants"][label] = stats([t * 1000 for t in times])
            print(
                f"bench turn --llm none on {agent.catalog.name} ({len(agent.catalog):,} items), {label}: "
                f"{len(times)} seeker messages of {len(dialogues)} dialogues; {percentiles(times)}"
            )
        if args.out:
            write_result(Path(args.out), out)
        return 0
    paths = sorted(Path(args.scripts).glob("*.yaml"))
    if not paths:
        raise ChatRecError(f"no *.yaml scripts in {args.scripts}")
    scripts = [(path, load_script(path)) for path in paths]
    if args.reader:
        cfg = replace(cfg, agent=replace(cfg.agent, reader=args.reader))
    import tempfile

    from chat_rec.recommender.feedback import SQLiteStore

    # the served store (SQLite, WAL, synchronous=FULL), in a scratch file: the bench's 👍/👎 stay out of state.db
    scratch = tempfile.TemporaryDirectory()
    store = SQLiteStore(Path(scratch.name) / "state.db")
    agent = build_agent(cfg, llm_kind=args.llm, dataset=load_catalog(args, cfg), store=store)
    agent.turn("warm up: a comedy", Session())
    if agent.llm is not None:  # the prompt prefixes evaluated once, as app.py does at start
        warm_llm(agent)
    llm = args.llm or cfg.llm.kind
    mode = "rules" if llm == "none" else llm  # what the expectations read (a scripted double's notices: never)
    result, failures = None, []
    for label, variant in with_reranker_variants(agent, cfg):
        variant.rec._encoded.clear()  # each variant encodes the words afresh, as the chat does
        runs = [(path, script, list(run_script(variant, script))) for path, script in scripts]
        records = [r for _, _, rs in runs for r in rs]
        turns = [r for r in records if "say" not in r and "feedback" not in r]
        times = [r["seconds"] for r in turns]
        print(
            f"bench turn --llm {llm} on {agent.catalog.name} ({len(agent.catalog):,} items), {label}: "
            f"{len(times)} turns over {len(paths)} scripts; {percentiles(times)}"
        )
        if result is None:  # the served configuration: its scripts' expectations are checked
            result = turn_summary(agent, cfg, llm, records, label)
            failures = [
                f for path, script, rs in runs for f in failed_expectations(variant, script, rs, mode, path.name)
            ]
            result["failed_expectations"] = failures
    print(
        f"  first picks {result['first_picks_ms']}; LLM consulted on {result['llm_turns']} turns "
        f"(their full turn {result['llm_turn_ms']}); stages {result['stages_ms']}; feedback {result['feedback_ms']}; "
        f"peak RSS {result['peak_rss_mb']} MB"
    )
    if args.out:
        write_result(Path(args.out), result)
        print(f"wrote {args.out}")
    if failures:
        print(
            f"bench turn: {len(failures)} expectations of the scripts in {args.scripts} fail on the served chat:",
            file=sys.stderr,
        )
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    return 0


def stats(values: list[float]) -> dict:
    """Median and p95 (nearest rank) in milliseconds, from milliseconds; {} for no values."""
    if not values:
        return {}
    values = sorted(values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return {"median": round(statistics.median(values), 1), "p95": round(p95, 1), "n": len(values)}


def turn_summary(agent, cfg, llm: str, records: list[dict], label: str) -> dict:
    """The JSON of ``bench turn --out``: the served configuration's turn, first picks, stages, 👍/👎, memory."""
    import resource

    turns = [r for r in records if "kind" in r]
    consulted = [r for r in turns if any("_llm_" in k for k in r["timings"])]
    stages = (
        "intent_rules",
        "intent_llm_queue",
        "intent_llm_prompt",
        "intent_llm_generate",
        "retrieve",
        "rerank",
        "text_llm_prompt",  # a "why" answer the model writes (streamed)
        "text_llm_generate",
    )
    fusion = agent.rec.fusion
    return {
        "llm": llm,
        "reader": cfg.agent.reader if agent.llm is not None else "rules",
        "model": getattr(agent.llm, "name", None),
        "ranker": f"{Path(fusion.path).name if fusion.path else 'defaults'} (heads: {', '.join(fusion.heads)})",
        "reranker": type(agent.rec.reranker).__name__
        if agent.has_reranker
        else "none (fitted weight 0 or no checkpoint)",
        "variant": label,
        "turns": len(turns),
        "turn_ms": stats([r["seconds"] * 1000 for r in turns]),
        "first_picks_ms": stats([r["first_seconds"] * 1000 for r in turns]),
        "llm_turns": len(consulted),
        "llm_turn_ms": stats([r["seconds"] * 1000 for r in consulted]),
        "refined_turns": sum(r["refined"] for r in turns),
        "stages_ms": {
            **{s: stats([r["timings"][s] for r in turns if s in r["timings"]]) for s in stages},
            "explain": stats([r["timings"]["explain"] for r in turns if "explain" in r["timings"]]),
        },
        "feedback_ms": stats([r["seconds"] * 1000 for r in records if "feedback" in r and "seconds" in r]),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def cmd_bench_feedback(args) -> int:
    """Median milliseconds of one 👍/👎 (durable SQLite write + user-vector update), against a baseline
    of the same update with the in-memory store, measured in the same run; ``--postgres`` adds a PostgreSQL
    store, ``--out`` writes the numbers as JSON."""
    import tempfile

    from chat_rec.assemble import build_agent
    from chat_rec.recommender.feedback import MemoryStore, SQLiteStore
    from chat_rec.session import Session

    cfg = make_config(args)
    agent = build_agent(cfg, llm_kind="none", store=MemoryStore(), dataset=load_catalog(args, cfg))
    session = Session(user_id=None)
    reply = agent.turn("something scary from the 80s", session)
    items = [r.item_id for r in reply.items]
    results, timings = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        stores = [("memory", MemoryStore()), ("sqlite", SQLiteStore(Path(tmp) / "state.db"))]
        if args.postgres:
            from chat_rec.recommender.pgstore import PostgresStore

            stores.append(("postgresql", PostgresStore(args.postgres)))
        for name, store in stores:
            agent.store, session = store, Session()
            session.shown = list(items)
            times = []
            for n in range(args.n):
                start = time.perf_counter()
                agent.record_feedback(session, items[n % len(items)], ("up", "down", "retract")[n % 3])
                times.append((time.perf_counter() - start) * 1000)
            results[name] = statistics.median(times)
            ordered = sorted(times)
            p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
            timings[name] = {"median": round(results[name], 3), "p95": round(p95, 3), "n": len(times)}
    ratio = results["sqlite"] / max(results["memory"], 1e-9)
    print(
        f"bench feedback: {args.n} events each; median {results['sqlite']:.2f} ms with SQLite (WAL, "
        "synchronous=FULL), "
        f"{results['memory']:.2f} ms in memory (ratio {ratio:.1f}x)"
        + (f"; {results['postgresql']:.2f} ms with PostgreSQL (committed per event)" if args.postgres else "")
    )
    if args.out:
        settings = {
            "memory": "MemoryStore (the baseline: the same update, nothing written)",
            "sqlite": "SQLiteStore, WAL, synchronous=FULL, a file in a temporary folder",
            "postgresql": "PostgresStore, one committed transaction per event",
        }
        result = {
            "what": "milliseconds per 👍/👎 through Agent.record_feedback (the store's write + the user-vector "
            "update), cycling up / down / retract over one list's items",
            "catalog": agent.catalog.name,
            "events_per_store": args.n,
            "stores": {name: {**t, "store": settings[name]} for name, t in timings.items()},
            "sqlite_over_memory": round(ratio, 2),
            "command": "chat-rec " + " ".join(getattr(args, "argv", []) or ["bench", "feedback"]),
        }
        write_result(Path(args.out), result)
        print(f"wrote {args.out}")
    return 0


def cmd_bench_scale(args) -> int:
    """The cost of a turn as the catalog grows (``chat_rec.evaluation.scale``): synthetic catalogs of the given
    sizes, each index kind served by a fresh process running ``build_agent``; rows as JSON."""
    import tempfile

    from chat_rec.evaluation.scale import run_scale

    sizes = [int(x.replace("_", "")) for x in args.items.split(",") if x.strip()]
    kinds = [k.strip() for k in args.index.split(",") if k.strip()]
    if not sizes or any(n < 1_000 for n in sizes):
        raise ChatRecError(f"--items {args.items!r}: give comma-separated sizes of at least 1,000, e.g. 10000,100000")
    bad = [k for k in kinds if k not in ("flat", "ivf", "hnsw")]
    if bad or not kinds:
        raise ChatRecError(f"--index {args.index!r}: accepted kinds are flat, ivf, hnsw")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="chatrec-scale-"))
    result = run_scale(sizes, kinds, work, timeout=args.timeout, real_subset=args.real)
    if args.out:
        write_result(Path(args.out), result)
        print(f"wrote {args.out}")
    return 0


def cmd_bench_load(args) -> int:
    """Many visitors at once over HTTP against the running app (``chat_rec.evaluation.load``): throughput,
    p50/p95 seconds per turn, errors, cross-talk, and whether the feedback store holds exactly the acknowledged
    events. Starts ``app.py`` itself (a scratch feedback store) unless ``--url`` names a running app."""
    import tempfile
    from collections import Counter

    from chat_rec.evaluation.load import App, run_load, stored_events, visitor_titles

    cfg = make_config(args)
    sessions = [int(s) for s in str(args.sessions).split(",") if s.strip()]
    from chat_rec.datasets import load_dataset

    titles = visitor_titles(*load_dataset(cfg.data), max(sessions))
    rows = []
    with tempfile.TemporaryDirectory(prefix="chatrec-load-") as scratch:
        store = Path(scratch) / "state.db"
        app = None
        url = args.url
        if not url:
            env = {"CHATREC_LLM": args.llm, "CHATREC_STORE": str(store)}
            app = App(env, Path(scratch) / "app.log").start()
            url = app.url
            print(f"started app.py on {url} (LLM {args.llm}, scratch store {store})", flush=True)
        try:
            acked_all: Counter = Counter()
            for n in sessions:
                think = tuple(float(x) for x in args.think.split(","))
                row, acked = run_load(url, titles, n, args.turns, timeout=args.timeout, think=think)
                row["llm"] = args.llm
                acked_all.update(acked)
                if app is not None:
                    held = stored_events(store)
                    row["acknowledged_events"] = sum(acked_all.values())
                    row["store_exact"] = held == acked_all
                    if held != acked_all:
                        row["store_missing"] = sum((acked_all - held).values())
                        row["store_unacknowledged"] = sum((held - acked_all).values())
                rows.append(row)
                print(
                    f"{n} sessions, LLM {args.llm}: {row['turns']} turns, {row['throughput_turns_s']} turns/s, "
                    f"turn median {row['turn_ms']['median']} ms, p95 {row['turn_ms']['p95']} ms, "
                    f"errors {row['errors']}, cross-talk {row['cross_talk']}"
                    + (f", store exact: {row['store_exact']}" if "store_exact" in row else ""),
                    flush=True,
                )
                for sample in row["error_samples"]:
                    print(f"  error: {sample}", flush=True)
        finally:
            if app is not None:
                app.stop()
    if args.out:
        out = Path(args.out)  # runs with the other LLM setting stay; an unreadable earlier file is set aside
        write_result(out, {"rows": rows}, merge=keep_rows(lambda r: r.get("llm") != args.llm))
        print(f"wrote {out}")
    bad = any(r["errors"] or r["cross_talk"] or r.get("store_exact") is False for r in rows)
    return 1 if bad else 0
