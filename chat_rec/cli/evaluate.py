"""`chat-rec eval ...`: every protocol, through the public API (DESIGN.md section 4)."""

from __future__ import annotations

from pathlib import Path

from chat_rec.cli.chat import agent_from_args
from chat_rec.cli.common import REAL_DIALOGUE, REAL_REQUESTS, WRITTEN_REQUESTS, load_catalog, make_config, masked_agent
from chat_rec.errors import ChatRecError
from chat_rec.files import write_result


def eval_real_requests(args) -> dict:
    """Rules, the LLM alone and their merge on real seekers' words; the written requests as an in-sample row."""
    from dataclasses import replace

    from chat_rec.evaluation.intents import load_labelled, score_intents
    from chat_rec.evaluation.real_requests import format_real, load_real, score_real

    cases = load_real(Path(args.labels or REAL_REQUESTS))
    if args.on == "redial":
        from chat_rec.cli.dialogues import redial_catalog_agent

        agent = redial_catalog_agent(make_config(args), args)
    else:
        agent = agent_from_args(args)
    # with an LLM: the rules and the served background refinement (``refine``) by default; ``--readers
    # rules,refine,merge,llm`` adds the full merge and the LLM alone, which reuses the merge's readings of the
    # same messages (one LLM call per message and kind of reading, not two)
    readers = args.readers.split(",") if args.readers else ["rules"] + (["refine"] if agent.llm is not None else [])
    if agent.llm is not None:
        extract, cache = agent.llm.extract, {}

        def cached(message, history=None, soft=False):
            key = (message, tuple(history or ()), soft)
            if key not in cache:
                cache[key] = extract(message, history, soft=soft)
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
        calls = len(cache) if agent.llm is not None else 0
        result["readers"][reader] = score_real(agent, cases, desc=f"real requests, {reader}")
        if agent.llm is not None and reader != "rules":
            result["readers"][reader]["llm_calls"] = len(cache) - calls
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


def eval_dialogue(args) -> dict:
    """Conversation acts on real seekers' turns, replayed through ``Agent.turn``: rules only, then with the
    language model when ``--llm`` names one (the served configuration reads with both)."""

    from dataclasses import replace

    from chat_rec.evaluation.dialogue import format_dialogue, load_dialogue_set, score_dialogue

    if args.set != "real":
        raise ChatRecError("eval dialogue has one set: --set real (tests/data/dialogue_real.yaml)")
    cases = load_dialogue_set(Path(args.labels or REAL_DIALOGUE))
    result = {"set": "real", "labels": str(args.labels or REAL_DIALOGUE), "readers": {}}
    # rules only; with an LLM: the served reader (the LLM writes "why" answers) and ``refine`` (it also reads, in
    # the background, what the rules found nothing firm in: films outside the catalog, vague requests)
    runs = [("rules", "none", None)]
    if args.llm and args.llm != "none":
        runs += [(f"llm-{args.llm}", args.llm, None), (f"llm-{args.llm}-refine", args.llm, "refine")]
    agents = {}
    for label, llm, reader in runs:
        if llm not in agents:
            agents[llm] = agent_from_args(replace_llm(args, llm))
        agent = agents[llm]
        if llm != "none" and agent.llm is None:
            raise ChatRecError(f"the {llm} language model did not load: {agent.llm_notice}")
        served = agent.config
        if reader is not None:
            agent.config = replace(served, reader=reader)
        result["catalog"], result.setdefault("reader", {})[label] = agent.catalog.name, agent.config.reader
        result["readers"][label] = score_dialogue(agent, cases, desc=f"dialogue turns, {label}")
        agent.config = served
        print(format_dialogue(label, result["readers"][label]), flush=True)
    return result


def replace_llm(args, llm: str):
    import argparse

    return argparse.Namespace(**{**vars(args), "llm": llm})


def eval_intents(args) -> dict:
    from chat_rec.evaluation.intents import load_labelled, score_intents
    from chat_rec.recommender.intent import merge_intents
    from chat_rec.recommender.intent.llm_reader import LLMFailure

    agent = agent_from_args(args)
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


def eval_simulate(args, cfg) -> dict:
    from dataclasses import replace

    from chat_rec.evaluation.simulate import choose_targets, simulate, simulate_talkers, without_targets
    from chat_rec.session import Session

    catalog, interactions = load_catalog(args, cfg)
    if interactions is None:
        raise ChatRecError("simulate needs interactions (MovieLens-100K or --interactions)")
    if args.user_model == "ratings":
        return eval_simulate_ratings(args, cfg, catalog, interactions)
    targets = choose_targets(interactions, args.users, args.seed)
    mask = without_targets(interactions, targets)
    agent = masked_agent(cfg, catalog, interactions, mask, k=10, llm_kind=args.llm or "none")
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


def eval_simulate_ratings(args, cfg, catalog, interactions) -> dict:
    """People who judge by their own ratings (``evaluation.simulate.verdict``), drawn from the half of the users
    the served 👍/👎 head was not fitted on; the agent sees none of their ratings."""

    from chat_rec.evaluation.simulate import (
        REPORT_HALF,
        choose_rating_people,
        make_rating_people,
        rating_halves,
        simulate_ratings,
        without_users,
    )
    from chat_rec.recommender.fusion import load_fusion
    from chat_rec.session import Session

    if args.known_users:
        raise ChatRecError(
            "--user-model ratings simulates new chat users (their ratings are hidden): drop --known-users"
        )
    fusion, _ = load_fusion(cfg.ranker.path, cfg.ranker.models_dir)
    fitted = ((fusion.meta.get("fitting") or {}).get("feedback") or {}).get("people") or {}
    report_users = rating_halves(interactions)[REPORT_HALF]
    same_data = (fitted.get("ratings"), fitted.get("rated_by")) == (len(interactions), interactions.n_users)
    overlap = {str(u) for u in fitted.get("users") or []} & {str(u) for u in report_users} if same_data else set()
    if fitted and not same_data:
        print("note: the served 👍/👎 head was fitted on other ratings than these: none of its people is reported")
    if overlap:
        raise ChatRecError(
            f"the served 👍/👎 head was fitted on {len(overlap)} of the people this would report on: refit it on "
            "the other half (`chat-rec train feedback`)"
        )
    targets = choose_rating_people(interactions, report_users, args.users, args.seed)
    mask = without_users(interactions, [uid for uid, _ in targets])
    agent = masked_agent(cfg, catalog, interactions, mask, k=5, llm_kind=args.llm or "none")
    people = make_rating_people(catalog, agent.rec.vectors, interactions, targets, args.seed)
    out = simulate_ratings(agent, lambda uid: Session(), agent.catalog, agent.rec.vectors, people, args.turns)
    for row in out["rows"]:
        print(
            f"rating people, 5 picks: feedback={row['feedback']!s:<5} users={row['n_users']} success@1 "
            f"{row['success@1turn']:.3f} success@3 {row['success@3turns']:.3f} success@5 "
            f"{row['success@5turns']:.3f} avg turn {row['avg_turn']}"
        )
    print(f"rating people: success@3 with 👍/👎 / without = {out['success@3_ratio']}; 👍/👎 given {out['judged']}")
    return {
        "protocol": "simulate",
        "user_model": "ratings",
        "seed": args.seed,
        "turns": args.turns,
        "llm": args.llm or "none",
        "ranker": fusion.meta.get("command") or fusion.path,
        "reported": {**out, "half": REPORT_HALF},
        "fitted_on": {k: v for k, v in fitted.items() if k != "users"} | {"n_users": len(fitted.get("users") or [])},
    }


def cmd_eval(args) -> int:
    from chat_rec.evaluation import chatrec_ml100k

    cfg = make_config(args)
    if args.protocol == "intents":
        result = eval_real_requests(args) if args.set == "real" else eval_intents(args)
    elif args.protocol == "dialogue":
        result = eval_dialogue(args)
    elif args.protocol == "people":
        from chat_rec.evaluation.dialogue import people_probe

        agent = agent_from_args(args)
        result = {"catalog": agent.catalog.name, "text_source": agent.catalog.text_source, **people_probe(agent)}
        for r in result["rows"]:
            print(
                f"{r['say']!r}: {r['with_person']} of {r['picks']} picks with {r['person']} "
                f"(catalog has {r['catalog_films']})"
            )
        print(
            f"people: {result['passed']} of {result['n']} requests with ≥ 4 of 5 picks having the person "
            f"({result['text_source']})"
        )
    elif args.protocol == "simulate":
        result = eval_simulate(args, cfg)
    elif args.protocol in ("redial", "inspired"):
        from chat_rec.cli.dialogues import cmd_eval_dialogues

        result = cmd_eval_dialogues(args)
    elif args.protocol == chatrec_ml100k.PROTOCOL:
        from chat_rec.assemble import build_agent
        from chat_rec.cli.reranker import eval_reranker
        from chat_rec.recommender.feedback import MemoryStore
        from chat_rec.recommender.fusion import load_fusion

        fusion, _ = load_fusion(cfg.ranker.path, cfg.ranker.models_dir)
        fitted_seed = ((fusion.meta.get("fitting") or {}).get("history") or {}).get("seed")
        if fusion.fitted and fitted_seed != args.seed:
            raise ChatRecError(
                f"the ranker's history head ({fusion.path}) was fitted on the train part of seed "
                f"{fitted_seed}, not {args.seed}: run `chat-rec train ranker --seed {args.seed}`"
            )
        catalog, interactions = load_catalog(args, cfg)  # the re-ranker and the served agent read item descriptions
        reranker = eval_reranker(cfg, args) if args.reranker != "none" else None

        def served(train):
            return build_agent(cfg, llm_kind="none", store=MemoryStore(), dataset=(catalog, train))

        chat_model = None
        if args.with_llm:
            from dataclasses import replace

            from chat_rec.models.llm import make_chat_model

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
        out = write_result(Path(args.out), result)
        print(f"wrote {out}")
    return 0
