"""`chat-rec train reranker`, `explain`, `bench rerank` and the re-ranker evaluation."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from chat_rec.cli.common import load_catalog, make_config, user_id_arg
from chat_rec.cli.dialogues import add_feedback_args, add_train_args, cmd_train_feedback, cmd_train_ranker
from chat_rec.errors import ChatRecError


def default_checkpoint(cfg, quick: bool) -> Path:
    return cfg.reranker.models_dir / ("reranker-quick.pt" if quick else "reranker.pt")


def resolve_reranker(cfg, path: str | None):
    """The re-ranker for a command: ``path``, else the configured one; a one-line error when missing."""
    from chat_rec.models.cross_encoder import CrossEncoderReranker, RerankerUnavailable

    checkpoint = Path(path) if path else cfg.reranker.checkpoint()
    if checkpoint is None:
        raise ChatRecError("the re-ranker is turned off (CHATREC_RERANKER=none)")
    try:
        return CrossEncoderReranker.load(checkpoint)
    except RerankerUnavailable as exc:
        raise ChatRecError(str(exc)) from None


def eval_reranker(cfg, args):
    """The re-ranker for ``eval chatrec-ml100k``: None (with a printed notice) when there is none; an
    error when its training split is not this seed's (its train part would overlap the test part)."""
    if args.reranker == "none":
        return None
    checkpoint = cfg.reranker.checkpoint()
    if not args.reranker and (checkpoint is None or not checkpoint.exists()):
        print("note: no re-ranker checkpoint, so the cf+rerank rows are skipped; run `chat-rec train reranker`")
        return None
    reranker = resolve_reranker(cfg, args.reranker)
    if reranker.meta.get("seed") != args.seed:
        raise ChatRecError(
            f"the re-ranker was trained on the split of seed {reranker.meta.get('seed')}, not {args.seed}: "
            f"run `chat-rec train reranker --seed {args.seed}`"
        )
    if not reranker.meta.get("complete", True):
        print(
            f"note: the re-ranker's training stopped early at step {reranker.meta.get('steps')}/"
            f"{reranker.meta.get('total_steps')}; run `chat-rec train reranker` again to finish it"
        )
    return reranker


def cmd_train_reranker(args) -> int:
    from chat_rec.training.reranker import train_reranker

    cfg = make_config(args)
    catalog, interactions = load_catalog(args, cfg)
    if interactions is None:
        raise ChatRecError("training the re-ranker needs interactions: use MovieLens-100K or pass --interactions")
    out = Path(args.out) if args.out else default_checkpoint(cfg, args.quick)
    extra = {"max_minutes": args.minutes} if args.minutes else {}
    train_reranker(catalog, interactions, out, quick=args.quick, seed=args.seed, **extra)
    return 0


def cmd_explain(args) -> int:
    from chat_rec.catalog import display_title, item_text
    from chat_rec.recommender.context import compose, history_text, profile_text
    from chat_rec.recommender.lime_words import explain_lime

    cfg = make_config(args)
    catalog, interactions = load_catalog(args, cfg)
    if not args.say.strip():
        raise ChatRecError('--say is empty: give the request words to explain, e.g. --say "scary 80s movie"')
    if args.item not in catalog:
        raise ChatRecError(f"item id {args.item!r} is not in the catalog {catalog.name!r}")
    reranker = resolve_reranker(cfg, args.reranker)
    profile, history = "", ""
    if args.user is not None and interactions is not None:
        rows, ratings = interactions.history(args.user)
        profile = profile_text(interactions.users.get(args.user, {}))
        history = history_text(catalog, rows.tolist(), ratings.tolist())
    text = item_text(catalog.item(args.item))

    def score(requests):
        return reranker.score_queries([compose(profile, "", r, history) for r in requests], [text])[:, 0]

    explain_lime(score, args.say.strip(), num_samples=10, seed=args.seed)  # warm-up: item states, first calls
    started = time.perf_counter()
    weights = explain_lime(score, args.say.strip(), num_samples=args.samples, seed=args.seed)
    seconds = time.perf_counter() - started
    print(
        f"{display_title(catalog.item(args.item).title)}: re-ranker score {weights.score:+.3f} "
        f"(LIME, {weights.samples} samples, {seconds:.2f} s after a warm-up)"
    )
    for word, value in weights.weights:
        bar = ("+" if value > 0 else "-") * min(30, round(abs(value) * 60))
        print(f"  {word:<16}{value:+.4f}  {bar}")
    return 0


def cmd_bench_rerank(args) -> int:
    import numpy as np
    import torch

    from chat_rec.catalog import item_text
    from chat_rec.models.cross_encoder import bert_layer
    from chat_rec.recommender.context import offline_query

    cfg = make_config(args)
    catalog, interactions = load_catalog(args, cfg)
    reranker = resolve_reranker(cfg, args.reranker)
    rng = np.random.default_rng(0)
    rows = rng.choice(len(catalog), size=min(args.n, len(catalog)), replace=False)
    texts = [item_text(catalog.items[r]) for r in rows]
    users = (
        rng.choice(interactions.n_users, size=args.repeats, replace=True)
        if interactions is not None
        else [None] * args.repeats
    )
    queries = [
        offline_query(catalog, interactions, int(u)) if u is not None else f"something good {j}"
        for j, u in enumerate(users)
    ]
    reranker.warm(texts)  # the chat warms the item side once per catalog
    reranker.score(queries[0] + " warm-up", texts)
    ours = []
    for q in queries:
        started = time.perf_counter()
        reranker.score(q, texts)
        ours.append(time.perf_counter() - started)
    # Baseline in the same run: a plain cross-encoder (all six MiniLM layers over every pair).
    model = reranker.model
    full = []
    with torch.inference_mode():
        for q in queries[: max(3, args.repeats // 3)]:
            started = time.perf_counter()
            enc = model.tokenizer(
                [q] * len(texts),
                texts,
                truncation=True,
                padding=True,
                return_tensors="pt",
                max_length=model.spec.max_query_tokens + model.spec.max_item_tokens,
            )
            x = model.embeddings(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"])
            keep = enc["attention_mask"].bool()
            for layer in list(model.lower) + list(model.joint):
                x = bert_layer(layer, x, keep)
            model.head(x[:, 0])
            full.append(time.perf_counter() - started)
    med, base = statistics.median(ours) * 1000, statistics.median(full) * 1000
    print(
        f"re-ranker: median {med:.0f} ms to score {len(texts)} candidates over {len(ours)} queries "
        f"(p90 {np.percentile(ours, 90) * 1000:.0f} ms; {torch.get_num_threads()} threads)"
    )
    print(
        f"baseline in the same run, a full 6-layer cross-encoder on the same pairs: median {base:.0f} ms "
        f"({base / med:.1f}x slower)"
    )
    return 0


def add_commands(sub, catalog_args) -> None:
    train = sub.add_parser("train", help="train models").add_subparsers(dest="action", required=True)
    tr = train.add_parser(
        "reranker", help="train the BERT context re-ranker on the train part of the evaluation split"
    )
    tr.add_argument(
        "--quick", action="store_true", help="about a minute: up to 200 users, one epoch (tests, first run)"
    )
    tr.add_argument("--seed", type=int, default=0, help="the evaluation split's seed (default 0)")
    tr.add_argument("--out", help="checkpoint path (default data/models/reranker.pt, or reranker-quick.pt)")
    tr.add_argument("--minutes", type=float, help="time budget; an unfinished run resumes when run again")
    catalog_args(tr)
    tr.set_defaults(fn=cmd_train_reranker)

    rk = train.add_parser(
        "ranker",
        help="fit the fusion weights of the ranking signals (replayed dialogues + "
        "the MovieLens train part; --all: and the 👍/👎 head) into --out",
    )
    add_train_args(rk)
    catalog_args(rk)
    rk.set_defaults(fn=cmd_train_ranker)

    fb = train.add_parser(
        "feedback",
        help="fit the 👍/👎 head (its signals' weights and the 👍 likelihood) on simulated people who give "
        "feedback, into the served fusion artifact, written to --out",
    )
    add_feedback_args(fb)
    fb.add_argument("--out", help="where to write the artifact (required; data/models/ranker.json serves it)")
    catalog_args(fb)
    fb.set_defaults(fn=cmd_train_feedback)

    ex = sub.add_parser("explain", help="LIME word weights of a request for one item's re-ranker score")
    ex.add_argument("--say", required=True, help='the request words, e.g. "something scary from the 80s"')
    ex.add_argument("--item", required=True, type=user_id_arg, help="the item id")
    ex.add_argument("--user", type=user_id_arg, help="a known user id (their profile and history join the query)")
    ex.add_argument("--samples", type=int, default=200, help="LIME samples (at most 500)")
    ex.add_argument("--seed", type=int, default=0)
    ex.add_argument("--reranker", help="checkpoint path (default: CHATREC_RERANKER / data/models)")
    catalog_args(ex)
    ex.set_defaults(fn=cmd_explain)


def add_bench(bench, catalog_args) -> None:
    b = bench.add_parser("rerank", help="milliseconds to re-rank candidates (median; baseline: full cross-encoder)")
    b.add_argument("-n", type=int, default=100, help="candidates per query")
    b.add_argument("--repeats", type=int, default=15)
    b.add_argument("--reranker", help="checkpoint path")
    catalog_args(b)
    b.set_defaults(fn=cmd_bench_rerank)
