"""`chat-rec train ranker`, `train feedback`, `eval redial/inspired`: recorded dialogues replayed."""

from __future__ import annotations

from pathlib import Path

from chat_rec.cli.common import load_catalog, make_config, masked_agent, need_file, shared_path
from chat_rec.errors import ChatRecError


def cmd_eval_dialogues(args) -> dict:
    """Run the protocol and print its report; ``cmd_eval`` writes ``--out``."""
    from chat_rec.datasets.dialogues import load_redial_catalog, read_dialogues, read_redial
    from chat_rec.evaluation import redial
    from chat_rec.models.encoder import make_encoder
    from chat_rec.models.index import build_item_index

    cfg = make_config(args)
    if getattr(args, "ranker", None) == "packaged":
        return eval_packaged(cfg, args)
    if not args.dialogues or not args.movies:
        raise ChatRecError("eval redial/inspired needs --dialogues FILE and --movies movies_with_mentions.csv")
    plots = Path(args.plots) if args.plots else None
    ml_movies = Path(args.ml_movies) if args.ml_movies else shared_path(cfg, "ml-latest-small", "movies.csv")
    catalog = load_redial_catalog(Path(args.movies), plots, ml_movies)
    if args.protocol == "inspired":
        catalog, eval_file = inspired_catalog(catalog, Path(args.dialogues))
    else:
        eval_file = read_redial(Path(args.dialogues))
    evaluated = Path(args.dialogues).resolve()
    train_files = []
    for t in args.train or []:
        if Path(t).resolve() == evaluated:
            raise ChatRecError(f"{t} is the evaluated file: nothing may be fitted on it; pass other --train files")
        train_files.append(read_dialogues(Path(t), catalog))
    external = external_side(cfg, args, catalog)
    encoder = make_encoder(cfg.encoder)
    built = build_item_index(catalog, encoder, cfg.data, cfg.index, show_progress=True)
    reranker = None
    if getattr(args, "reranker", None) not in (None, "none"):
        from chat_rec.models.cross_encoder import CrossEncoderReranker, RerankerUnavailable

        try:
            reranker = CrossEncoderReranker.load(args.reranker)
        except RerankerUnavailable as exc:
            raise ChatRecError(str(exc)) from None
        seen = set(reranker.meta.get("train_ids") or []) | set(reranker.meta.get("heldout_ids") or [])
        if reranker.meta.get("task") != "dialogues" or not seen:
            raise ChatRecError(
                f"{args.reranker} was not trained on dialogues: run `chat-rec train ranker --dialogues "
                f"TRAIN.jsonl --reranker-out {args.reranker}` with the --train files"
            )
        overlap = seen & {d.id for d in eval_file.dialogues}
        if overlap:
            raise ChatRecError(
                f"{args.reranker} was trained on {len(overlap)} of the evaluated dialogues: train it on "
                f"the --train files only"
            )
    result = redial.run(
        eval_file,
        train_files,
        catalog,
        built.index.vectors,
        encoder,
        built.index,
        external=external,
        reranker=reranker,
    )
    result["protocol"] = args.protocol
    print(redial.format_report(result))
    return result


def eval_packaged(cfg, args) -> dict:
    """``eval redial|inspired --ranker packaged``: exactly what ``CHATREC_CATALOG=redial`` serves (the packaged
    catalog, corpus and ranker), nothing fitted on the evaluated file; ``--train`` files give the ablation
    without the new dialogues, fitted in the same run."""
    from chat_rec.datasets.dialogues import read_dialogues
    from chat_rec.datasets.redial_pack import load_pack, pack_dialogues
    from chat_rec.evaluation import redial
    from chat_rec.models.encoder import make_encoder
    from chat_rec.models.index import build_item_index
    from chat_rec.recommender.fusion import load_fusion

    if not args.dialogues:
        raise ChatRecError("eval redial/inspired --ranker packaged needs --dialogues FILE (the evaluated file)")
    catalog, corpus = load_pack(), pack_dialogues()
    eval_file = read_dialogues(Path(args.dialogues), catalog)
    overlap = {d.id for d in corpus} & {d.id for d in eval_file.dialogues}
    if overlap:
        raise ChatRecError(
            f"{len(overlap)} of the evaluated dialogues are in the packaged corpus: evaluate a file it was not built "
            "from"
        )
    fusion, notice = load_fusion(
        "auto" if cfg.ranker.path == "auto" else cfg.ranker.path, cfg.ranker.models_dir, "redial"
    )
    if notice or not fusion.fitted:
        raise ChatRecError(f"no fitted ranker for the ReDial catalog ({notice}): run `make redial`")
    old = [d for t in args.train or [] for d in read_dialogues(Path(t), catalog).dialogues]
    encoder = make_encoder(cfg.encoder)
    built = build_item_index(catalog, encoder, cfg.data, cfg.index, show_progress=True)
    result = redial.run_packaged(
        eval_file,
        catalog,
        corpus,
        fusion,
        built.index.vectors,
        encoder,
        built.index,
        ablation_dialogues=old,
        ablation_source=", ".join(Path(t).name for t in args.train or []),
    )
    result["protocol"] = args.protocol
    result["ranker_file"] = str(fusion.path)
    if Path(args.dialogues).suffix == ".tsv":
        from chat_rec.datasets.dialogues import inspired_outside

        result["inspired_targets"] = outside = inspired_outside(Path(args.dialogues), catalog)
        share = outside["outside_catalog"] / max(1, outside["first_mentions"])
        print(
            f"INSPIRED: {outside['outside_catalog']} of the recommenders' {outside['first_mentions']} first mentions "
            f"in accepted dialogues name films outside the ReDial catalog ({share:.0%}); they are not cases"
        )
    print(redial.format_report(result))
    return result


def external_side(cfg, args, catalog):
    """``--ml-ratings`` as the catalog's external CF source (joined through ``--ml-map``), or None."""
    if not args.ml_ratings:
        return None
    from chat_rec.recommender.side import external_cf

    merged = Path(args.ml_map) if args.ml_map else shared_path(cfg, "redial_movielens_map", "movies_merged.csv")
    if merged is None:
        raise ChatRecError("--ml-ratings needs --ml-map movies_merged.csv (ReDial id <-> MovieLens id)")
    return external_cf(catalog, Path(args.ml_ratings), merged)


def inspired_catalog(catalog, dialogues: Path):
    """INSPIRED mentions recent movies ReDial's list lacks: they join the catalog as title-only items."""
    import csv

    from chat_rec.catalog import Catalog, Item
    from chat_rec.datasets.dialogues import _YEAR, _titles, read_inspired

    known = {it.title.lower() for it in catalog.items} | {
        _YEAR.sub("", it.title).strip().lower() for it in catalog.items
    }
    extra, next_id = [], max(int(it.id) for it in catalog.items) + 1
    with open(dialogues, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            for title in _titles(row.get("movies") or ""):
                t = " ".join(title.split())
                if t.lower() not in known and _YEAR.sub("", t).strip().lower() not in known:
                    year = _YEAR.search(t)
                    extra.append(Item(next_id, t, int(year.group(1)) if year else None))
                    known.add(t.lower())
                    next_id += 1
    if extra:
        catalog = Catalog(catalog.name + "+inspired", list(catalog.items) + extra)
    return catalog, read_inspired(dialogues, catalog)


TEAM_DIALOGUES = (("redial", "kepler_train_subset.jsonl"), ("redial", "kgsf_valid_data.jsonl"))


def cmd_train_ranker(args) -> int:
    """Fit the fusion weights: the request head on replayed dialogues, the history head on the serving
    catalog's train part; write the versioned artifact."""
    from chat_rec.datasets.dialogues import load_redial_catalog, read_redial
    from chat_rec.datasets.splits import split_per_user
    from chat_rec.models.encoder import make_encoder
    from chat_rec.models.index import build_item_index
    from chat_rec.recommender.pipeline import Recommender
    from chat_rec.recommender.signals import NAMES
    from chat_rec.training.ranker import (
        CORPUS_ONLY,
        artifact,
        file_digest,
        fit_history_head,
        fit_tree,
        fit_weights,
        git_commit,
        request_cases,
    )
    from chat_rec.training.replay import Replayer

    cfg = make_config(args)
    out = ranker_out(args, cfg)
    if getattr(args, "catalog", None) == "redial":
        return train_redial_ranker(cfg, args, out)
    commit = git_commit()  # the code that fits, read before the fit (the checkout may move on meanwhile)
    movies = need_file(cfg, args.movies, "redial", "movies_with_mentions.csv")
    plots = need_file(cfg, args.plots, "redial_movielens_map", "movie_plot.csv")
    ml_movies = need_file(cfg, args.ml_movies, "ml-latest-small", "movies.csv")
    files = [Path(f) for f in args.dialogues] if args.dialogues else [need_file(cfg, None, *p) for p in TEAM_DIALOGUES]
    args.ml_ratings = str(need_file(cfg, args.ml_ratings, "ml-latest-small", "ratings.csv"))
    encoder = make_encoder(cfg.encoder)

    serving, interactions = load_catalog(args, cfg)
    # The request head is fitted with the signals the serving catalog has: a catalog with interactions only
    # lacks the dialogue-corpus and external-source signals, so weights fitted with them would not transfer.
    names = [n for n in NAMES if n not in CORPUS_ONLY]
    heads, fitting = {}, {}

    dcatalog = load_redial_catalog(movies, plots, ml_movies)
    built = build_item_index(dcatalog, encoder, cfg.data, cfg.index, show_progress=True)
    replayer = Replayer(dcatalog, built.index, built.index.vectors, encoder, external_side(cfg, args, dcatalog))
    dialogues = [d for f in files for d in read_redial(f).dialogues]
    print(f"request head: replaying {len(dialogues)} dialogues through the agent (two folds) ...", flush=True)
    cases, fitting["request"] = request_cases(replayer.agent, dialogues)
    heads["request"] = fit_weights(cases, names)
    fitting["request"]["signals"] = names
    trees = {}
    if not args.no_tree:
        tree, fitting["tree"] = fit_tree(cases, heads["request"], seed=args.seed, catalog=dcatalog.name)
        print(
            f"tree stage {'kept' if tree else 'not kept (no better than the linear order)'}: held-out R@10 "
            f"{fitting['tree']['heldout']['tree'].get('recall@10', 0):.4f} vs linear "
            f"{fitting['tree']['heldout']['linear'].get('recall@10', 0):.4f}",
            flush=True,
        )
        trees = {"request": tree} if tree is not None else {}
    del cases
    if not args.no_reranker:
        # The BERT context re-ranker learns the chat's own re-ranking task on dialogues (the linear request
        # head just fitted gives the candidates); its weight is fitted on held-out dialogues and is 0 (not
        # served) unless it beats the linear stage there. ``--reranker FILE`` reuses a trained one and only
        # refits its weight against this linear head, on that checkpoint's own held-out dialogues.
        from chat_rec.recommender.fusion import RERANKER, FusionModel
        from chat_rec.training.reranker_dialogues import DialogueRerankerTrainer, DialogueTrainConfig, refit_weight

        linear = FusionModel({"request": dict(heads["request"])}, {"fitted": True}, "", trees)
        make = lambda stats: replayer.agent(stats, linear)  # noqa: E731
        if args.reranker:
            from chat_rec.models.cross_encoder import CrossEncoderReranker, RerankerUnavailable

            try:
                reranker = CrossEncoderReranker.load(args.reranker)
            except RerankerUnavailable as exc:
                raise ChatRecError(str(exc)) from None
            weight, heldout = refit_weight(make, dialogues, reranker)
            meta, rr_out = reranker.meta, Path(args.reranker)
        else:
            rr_out = (
                Path(args.reranker_out) if args.reranker_out else cfg.reranker.models_dir / "reranker-dialogues.pt"
            )
            rcfg = DialogueTrainConfig(seed=args.seed, epochs=args.reranker_epochs, max_minutes=args.reranker_minutes)
            print(f"re-ranker: training on the dialogues, writing {rr_out} ...", flush=True)
            _, weight, meta = DialogueRerankerTrainer(make, dialogues, rr_out, rcfg).run()
            heldout = meta["fusion"]
        if weight:
            heads["request"][RERANKER] = float(weight)
        fitting["reranker"] = {
            "checkpoint": rr_out.name,
            "sha256": file_digest(rr_out)["sha256"],
            "weight": float(weight),
            "best_step": meta.get("best_step"),
            "heldout": heldout,
            "cases": {"train": meta.get("n_train_cases"), "heldout": meta.get("n_heldout_cases")},
        }
        print(
            f"re-ranker weight {weight:g}: held-out R@10 {heldout['fused']['recall@10']:.4f} "
            f"(linear alone {heldout['linear_alone']['recall@10']:.4f})",
            flush=True,
        )

    if interactions is not None:
        sbuilt = build_item_index(serving, encoder, cfg.data, cfg.index, show_progress=True)
        train = interactions.subset(~split_per_user(interactions, args.seed))
        print(f"history head: {serving.name} train part of seed {args.seed} ...", flush=True)

        def make(fit, ease):
            return Recommender(serving, sbuilt.index, sbuilt.index.vectors, encoder, ease, fit)

        heads["history"], fitting["history"] = fit_history_head(serving, train, make, seed=args.seed)
    model = artifact(
        heads,
        fitting,
        files + [movies, plots, ml_movies, Path(args.ml_ratings)],
        args.seed,
        command=" ".join(["chat-rec", *getattr(args, "argv", [])]),
        trees=trees,
        roots=cfg.data.shared_dirs,
        git=commit,
    )
    if "reranker" not in fitting:
        model.meta["fitting"]["reranker"] = {
            "trained": False,
            "why": "--no-reranker: the BERT context re-ranker is not trained (about 40 minutes) and has no weight",
        }
    if args.all:
        if interactions is None:
            raise ChatRecError("--all fits the 👍/👎 head on the serving catalog's ratings: it needs interactions")
        model = fit_feedback(
            cfg,
            model,
            serving,
            interactions,
            user_model=args.user_model,
            users=args.feedback_users,
            seed=args.feedback_seed,
        )
    model.save(out)
    for head, w in model.heads.items():
        shown = ", ".join(f"{k} {v:+.3f}" for k, v in sorted(w.items(), key=lambda kv: -abs(kv[1])) if v)
        print(f"{head}: {shown}")
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
    return 0


TRAIN_DIALOGUES = (("redial", "train_recovered.jsonl"), ("inspired", "train_unicrs.jsonl"))


def train_redial_ranker(cfg, args, out: Path) -> int:
    """The ranker the packaged ReDial catalog serves: the request head (every signal, the dialogue-corpus ones
    included) and its tree stage, fitted on the training dialogues replayed (two folds) over exactly the
    packaged catalog, its dialogue CF included. No history or 👍/👎 head: the catalog has no ratings."""
    from chat_rec.datasets.dialogues import read_dialogues
    from chat_rec.datasets.redial_pack import NAME, load_pack, pack_dir
    from chat_rec.evaluation.redial import fit_request_head
    from chat_rec.models.encoder import make_encoder
    from chat_rec.models.index import build_item_index
    from chat_rec.training.ranker import artifact, git_commit
    from chat_rec.training.replay import Replayer

    commit = git_commit()
    catalog = load_pack()
    files = (
        [Path(f) for f in args.dialogues] if args.dialogues else [need_file(cfg, None, *p) for p in TRAIN_DIALOGUES]
    )
    dialogues = [d for f in files for d in read_dialogues(f, catalog).dialogues]
    encoder = make_encoder(cfg.encoder)
    built = build_item_index(catalog, encoder, cfg.data, cfg.index, show_progress=True)
    replayer = Replayer(catalog, built.index, built.index.vectors, encoder, bend_genres=args.bend_genres)
    print(f"request head: replaying {len(dialogues)} dialogues over the packaged {NAME} catalog (two folds) ...")
    _, weights, trees, fitting = fit_request_head(
        replayer, dialogues, catalog.name, seed=args.seed, progress=True, cache=args.cases_cache
    )
    fitting = {"request": {k: v for k, v in fitting.items() if k != "tree"}, "tree": fitting.get("tree", {})}
    fitting["reranker"] = {"trained": False, "why": "the ReDial catalog ranks without the BERT re-ranker"}
    model = artifact(
        {"request": weights},
        fitting,
        files + [pack_dir() / "movies.tsv", pack_dir() / "facts.tsv", pack_dir() / "dialogues.jsonl.gz"],
        args.seed,
        command=" ".join(["chat-rec", *getattr(args, "argv", [])]),
        trees=trees,
        roots=cfg.data.shared_dirs,
        git=commit,
    )
    model.meta["catalog"] = NAME
    model.meta["candidates"] = {"bend_genres": args.bend_genres}
    model.save(out)
    shown = ", ".join(f"{k} {v:+.3f}" for k, v in sorted(weights.items(), key=lambda kv: -abs(kv[1])) if v)
    print(
        f"request: {shown}\ntree stage: {'kept' if trees else 'not kept'}\nwrote {out} ({out.stat().st_size:,} bytes)"
    )
    return 0


def cmd_data_pack_redial(args) -> int:
    """Write the packaged ReDial catalog (``datasets/redial_pack``) from the team data and the written facts."""
    from chat_rec.datasets.dialogues import read_redial
    from chat_rec.datasets.redial_pack import write_pack

    cfg = make_config(args)
    movies = need_file(cfg, args.movies, "redial", "movies_with_mentions.csv")
    corpus = need_file(cfg, args.corpus, "redial", "train_recovered.jsonl")
    dialogues = read_redial(corpus).dialogues
    from chat_rec.datasets.redial_pack import FACTS, pack_dir

    # the written facts are the pack's own file unless others are given (it is read whole before it is rewritten)
    facts = [Path(f) for f in args.facts or []] or [p for p in [pack_dir() / FACTS] if p.is_file()]
    report = write_pack(movies, dialogues, facts, Path(args.out) if args.out else None)
    for line in report["problems"][:20]:
        print(f"  skipped: {line}")
    print(
        f"packed {report['films']:,} films ({report['described']:,} described) and {report['dialogues']:,} "
        f"dialogues of {corpus.name}"
    )
    return 0 if not report["problems"] else 1


def ranker_out(args, cfg) -> Path:
    """Where a refit goes: only where ``--out`` says. ``data/models/ranker.json`` then serves instead of the
    packaged weights (the app says so); the package's own file is rebuilt by `make ranker`."""
    if not args.out:
        raise ChatRecError(
            "say where the fitted ranker goes: --out data/models/ranker.json serves your refit instead of the "
            "packaged weights (delete it to go back); `make ranker` rebuilds the packaged "
            "chat_rec/recommender/ranker.json"
        )
    import os

    out = Path(args.out)
    folder = next((p for p in (out.parent, *out.parent.parents) if p.exists()), Path("."))
    if out.is_dir() or not os.access(folder, os.W_OK):
        # found before a fit of many minutes, not after it
        raise ChatRecError(f"cannot write the fitted ranker to {out}: choose another --out")
    return out


def cmd_train_feedback(args) -> int:
    """Fit the ``feedback`` head into the served fusion artifact (``CHATREC_RANKER``) and write it to ``--out``."""
    from chat_rec.recommender.fusion import load_fusion

    cfg = make_config(args)
    out = ranker_out(args, cfg)
    catalog, interactions = load_catalog(args, cfg)
    if interactions is None:
        raise ChatRecError("train feedback needs interactions (MovieLens-100K or --interactions)")
    fusion, notice = load_fusion(cfg.ranker.path, cfg.ranker.models_dir)
    if notice or not fusion.fitted:
        raise ChatRecError(f"no fitted fusion to add the feedback head to ({notice}): run `chat-rec train ranker`")
    fit_feedback(
        cfg, fusion, catalog, interactions, user_model=args.user_model, users=args.users, seed=args.seed
    ).save(out)
    print(f"wrote {out}")
    return 0


def fit_feedback(cfg, fusion, catalog, interactions, *, user_model: str = "ratings", users: int = 200, seed: int = 1):
    """``fusion`` with its ``feedback`` head (the request weights plus the 👍/👎 signals, and the 👍 likelihood)
    fitted on simulated people who give 👍/👎 (replayed dialogues carry none). It is kept only when it beats the
    request head on those people by ``FEEDBACK_MIN_GAIN`` success@3; the log of every try goes into the meta.

    ``user_model="ratings"`` (default): people of one half of the users (``FIT_HALF``; `eval simulate
    --user-model ratings` reports on the other) who judge the shown films by their own ratings, the agent
    built without any of their ratings. ``talker``: the genre-rule talkers of ``--seed``."""
    import tempfile
    from dataclasses import replace

    import numpy as np

    from chat_rec.evaluation.simulate import (
        FEEDBACK_MIN_GAIN,
        FIT_HALF,
        RATINGS_SPLIT_SEED,
        choose_rating_people,
        choose_targets,
        description_words,
        fit_feedback_head,
        make_rating_people,
        make_talker,
        rating_halves,
        without_targets,
        without_users,
    )

    model = user_model
    if model == "ratings":
        targets = choose_rating_people(interactions, rating_halves(interactions)[FIT_HALF], users, seed)
        mask = without_users(interactions, [uid for uid, _ in targets])
        who = {"user_model": "ratings", "half": FIT_HALF, "split_seed": RATINGS_SPLIT_SEED, "seed": seed}
        # which ratings the halves were drawn from: the reporting run checks its people against these only
        who |= {"ratings": len(interactions), "rated_by": interactions.n_users}
    else:
        targets = choose_targets(interactions, users, seed)
        mask = without_targets(interactions, targets)
        who = {"user_model": "talker", "seed": seed}
    with tempfile.TemporaryDirectory() as tmp:  # the agent loads exactly this fusion, as the chat will
        path = fusion.save(Path(tmp) / "ranker.json")
        agent = masked_agent(
            replace(cfg, ranker=replace(cfg.ranker, path=str(path))), catalog, interactions, mask, k=5
        )
    vectors = agent.rec.vectors
    if model == "ratings":
        people = make_rating_people(catalog, vectors, interactions, targets, seed)
    else:
        words, df = description_words(catalog)
        rng = np.random.default_rng(seed)
        train = interactions.subset(mask)
        people = [make_talker(catalog, vectors, train, uid, row, words, df, rng) for uid, row in targets]
    print(f"fitting the 👍/👎 head on {len(people)} simulated {model} people (seed {seed}, 5 picks a turn) ...")
    # the people who judge by their ratings try the learned likelihood only (their 👍 is not a cosine rule)
    grid = {"taus": ()} if model == "ratings" else {}
    head, likelihood, log = fit_feedback_head(agent, catalog, vectors, people, **grid)
    for row in log:
        print(f"{row['try']}: success@3 {row['success@3turns']:.3f} success@5 {row['success@5turns']:.3f}")
    fusion = agent.rec.fusion
    heads = {h: dict(w) for h, w in fusion.heads.items() if h != "feedback"}
    if head is not None:
        heads["feedback"] = head
    meta = dict(fusion.meta)
    meta["fitting"] = dict(meta.get("fitting") or {})
    meta["fitting"]["feedback"] = {
        "kept": head is not None,
        **likelihood,
        "log": log,
        "seed": seed,
        "users": len(people),
        "people": {**who, "users": [uid for uid, _ in targets]},
        "min_gain": FEEDBACK_MIN_GAIN,
        "simulator": f"{model}, 5 picks a turn, 5 turns",
    }
    if head is None:
        print(f"no 👍/👎 head beat the request head by {FEEDBACK_MIN_GAIN} success@3: none is served")
    else:
        shown = ", ".join(f"{k} {v:+.3f}" for k, v in sorted(head.items(), key=lambda kv: -abs(kv[1])))
        print(f"👍/👎 head: {shown}")
    return type(fusion)(heads, meta, "", dict(fusion.trees))


def redial_catalog_agent(cfg, args, dialogue_files=("kgsf_valid_data.jsonl", "kepler_train_subset.jsonl")):
    """The served agent on the ReDial catalog (the catalog real seekers talked about), its dialogue statistics
    from the team's ReDial files, with the LLM of ``--llm`` (rules only for ``none``)."""
    from dataclasses import replace

    from chat_rec.datasets.dialogues import load_redial_catalog, read_redial
    from chat_rec.models.encoder import make_encoder
    from chat_rec.models.index import build_item_index
    from chat_rec.models.llm import make_chat_model
    from chat_rec.recommender.fusion import load_fusion
    from chat_rec.recommender.intent.llm_reader import LLMHelper
    from chat_rec.training.replay import Replayer

    catalog = load_redial_catalog(
        need_file(cfg, None, "redial", "movies_with_mentions.csv"),
        need_file(cfg, None, "redial_movielens_map", "movie_plot.csv"),
        need_file(cfg, None, "ml-latest-small", "movies.csv"),
    )
    args.ml_ratings, args.ml_map = str(need_file(cfg, None, "ml-latest-small", "ratings.csv")), None
    encoder = make_encoder(cfg.encoder)
    built = build_item_index(catalog, encoder, cfg.data, cfg.index, show_progress=True)
    dialogues = [d for name in dialogue_files for d in read_redial(need_file(cfg, None, "redial", name)).dialogues]
    fusion, _ = load_fusion(cfg.ranker.path, cfg.ranker.models_dir)
    agent = Replayer(catalog, built.index, built.index.vectors, encoder, external_side(cfg, args, catalog)).agent(
        dialogues, fusion
    )
    agent.config = cfg.agent
    kind = getattr(args, "llm", None) or cfg.llm.kind
    model = make_chat_model(replace(cfg.llm, kind=kind)) if kind != "none" else None
    if model is not None:
        if kind == "local":
            model._load()
        agent.llm = LLMHelper(model, catalog, agent.titles, timeout=cfg.llm.timeout)
    return agent


def dialogue_turn_agent(cfg, args):
    """The chat ``CHATREC_CATALOG=redial`` serves (``build_agent``: the packaged ReDial catalog, corpus and ranker),
    rules only, and the first ``--max-dialogues`` dialogues of ``--dialogues`` (their seekers' messages)."""
    from dataclasses import replace

    from chat_rec.assemble import build_agent
    from chat_rec.datasets.dialogues import read_dialogues
    from chat_rec.recommender.feedback import MemoryStore

    cfg = replace(cfg, data=replace(cfg.data, catalog="redial"))
    agent = build_agent(cfg, llm_kind="none", show_progress=True, store=MemoryStore())
    dialogues = read_dialogues(Path(args.dialogues), agent.catalog).dialogues
    return agent, dialogues[: args.max_dialogues]


def dialogue_turns(agent, dialogues) -> list[float]:
    """Seconds of ``Agent.turn`` for each seeker message, each dialogue one session."""
    from chat_rec.recommender.side import as_typed
    from chat_rec.session import Session

    agent.turn("warm up: a comedy", Session())
    times = []
    for d in dialogues:
        session = Session()
        for msg in d.messages:
            if msg.role == "seeker" and msg.text.strip():
                times.append(agent.turn(as_typed(msg.text, agent.catalog), session).seconds)
    return times


def add_train_args(tr) -> None:
    tr.add_argument(
        "--dialogues",
        action="append",
        help="training dialogues, ReDial JSONL (repeatable; default: the "
        "team's kepler_train_subset and kgsf_valid_data)",
    )
    tr.add_argument("--movies", help="movies_with_mentions.csv (default: the team data folder)")
    tr.add_argument("--plots", help="movie_plot.csv (default: the team data folder)")
    tr.add_argument("--ml-ratings", help="ML-latest-small ratings.csv, the dialogues' CF source (default: team data)")
    tr.add_argument("--ml-map", help="movies_merged.csv (default: the team data folder)")
    tr.add_argument("--ml-movies", help="ML-latest-small movies.csv for genres (default: the team data folder)")
    tr.add_argument("--seed", type=int, default=0, help="the evaluation split whose train part fits the history head")
    tr.add_argument(
        "--out",
        help="where the artifact goes (required): data/models/ranker.json serves it instead of the packaged "
        "weights; `make ranker` writes the packaged chat_rec/recommender/ranker.json",
    )
    tr.add_argument(
        "--catalog",
        choices=("movielens-100k", "redial"),
        help="redial: fit the packaged ReDial catalog's ranker (default training dialogues: the team's ReDial "
        "train_recovered and INSPIRED train_unicrs)",
    )
    tr.add_argument(
        "--bend-genres",
        type=int,
        default=0,
        help="with --catalog redial: a genre request also admits the films of the N nearest recorded requests whose "
        "labels lack the genre (fitted and served so; default 0, a wall)",
    )
    tr.add_argument(
        "--cases-cache",
        help="with --catalog redial: keep the replayed cases in this file and reuse them when it matches (a refit "
        "without the half-hour replay)",
    )
    tr.add_argument("--no-tree", action="store_true", help="no tree stage (LambdaRank over the linear top)")
    tr.add_argument("--no-reranker", action="store_true", help="fit the linear weights only (no re-ranker training)")
    tr.add_argument("--reranker-out", help="re-ranker checkpoint path (default data/models/reranker-dialogues.pt)")
    tr.add_argument("--reranker", help="reuse this dialogue-trained re-ranker checkpoint: refit only its weight")
    tr.add_argument("--reranker-epochs", type=int, default=2, help="re-ranker training epochs (default 2)")
    tr.add_argument("--reranker-minutes", type=float, default=40.0, help="re-ranker time budget (default 40)")
    tr.add_argument(
        "--all",
        action="store_true",
        help="then fit the 👍/👎 head too (`train feedback`), so the artifact is the packaged one's every part",
    )
    add_feedback_args(tr, prefix="feedback-")


def add_feedback_args(parser, prefix: str = "") -> None:
    """The 👍/👎 head's people: ``train feedback --users --seed``, ``train ranker --all --feedback-users ...``."""
    parser.add_argument(
        "--user-model",
        choices=("ratings", "talker"),
        default="ratings",
        help="who the 👍/👎 head is fitted on: people judging by their own MovieLens ratings, from one half of the "
        "users (`eval simulate --user-model ratings` reports on the other), or the genre-rule talkers",
    )
    parser.add_argument(f"--{prefix}users", type=int, default=200, help="simulated people (default 200)")
    parser.add_argument(f"--{prefix}seed", type=int, default=1, help="their targets' seed (default 1)")


def add_eval_args(ev) -> None:
    ev.add_argument(
        "--ranker",
        choices=("packaged",),
        help="for redial/inspired: evaluate exactly what CHATREC_CATALOG=redial serves (the packaged catalog, corpus "
        "and ranker; --train files then give the ablation without the new dialogues)",
    )
    ev.add_argument("--dialogues", help="for redial/inspired: the evaluated dialogues (ReDial JSONL / INSPIRED TSV)")
    ev.add_argument("--movies", help="for redial/inspired: movies_with_mentions.csv")
    ev.add_argument("--plots", help="for redial/inspired: movie_plot.csv (plots where present)")
    ev.add_argument("--train", action="append", help="for redial/inspired: training dialogues (repeatable)")
    ev.add_argument("--ml-ratings", help="for redial/inspired: ML-latest-small ratings.csv as CF training data")
    ev.add_argument("--ml-map", help="for redial/inspired: movies_merged.csv (default: the shared data folder)")
    ev.add_argument("--ml-movies", help="for redial/inspired: ML-latest-small movies.csv for genres (default: shared)")
