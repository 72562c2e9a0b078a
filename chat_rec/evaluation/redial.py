"""The conversational-recommendation protocol on ReDial-format dialogues (DESIGN.md section 4), replayed
through the chat's own agent (``chat_rec.training.replay``).

Every movie the recommender mentions, at its first mention in the dialogue, is a target. The dialogue
before that message is fed into an agent ``Session`` (the seeker's words through the chat's intent reader,
``@id`` written as titles; the movies mentioned so far as references) and the chat's own ranked list
(``Agent.rank``, top 50) is scored: Recall@1/10/50, earlier-mentioned movies excluded (the "fresh-only"
/ dedup protocol). Rows:

* ``chat-rec``: the served path, with the seeker's questionnaire answers (liked / disliked) about the
  movies mentioned earlier; ``liked_only``: the targets the seeker marked suggested and liked;
* ``text_only``: the same without the questionnaire (the setting of published systems);
* ablations on the same cases and candidates: hand-set default weights, no re-ranker (the linear and tree
  stages), the linear stage only (no tree stage, no re-ranker), no CF signals (``cf``, ``cf_last``,
  ``comention``, refitted), text signals only (refitted), all linear; a popularity baseline.

Nothing is fitted on the evaluated file: dialogue statistics come from the ``--train`` files, the fusion
weights are fitted on the ``--train`` dialogues by two-fold cross-fitting (``training.ranker``), and
``fitted_on`` in the report lists the files used. The intent reader is the rules (no LLM): replaying
thousands of messages through the local LLM would take hours on a laptop.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

from chat_rec.agent import Agent
from chat_rec.catalog import Catalog
from chat_rec.recommender.fusion import DEFAULT_WEIGHTS, RERANKER, FusionModel, stage_scores
from chat_rec.recommender.signals import NAMES, SideData
from chat_rec.training.ranker import fit_tree, fit_weights, request_cases
from chat_rec.training.replay import Replayer, count_cases, replay_all
from chat_rec.training.reranker_dialogues import refit_weight, with_fitted_reranker

KS = (1, 10, 50)
PUBLISHED_USER = "published user-centric dedup rows (Kostric & Balog 2026): ECR SR 0.063; ReFICR RDL 0.053"
NO_CF = ("cf", "cf_last", "comention")
TEXT_SIGNALS = (
    "sem",
    "words",
    "ref_mean",
    "ref_max",
    "ref_last",
    "disliked",
    "genre_profile",
    "genre",
    "era",
    "mood",
    "unwanted_keyword",
)
PUBLISHED = (
    "published dedup rows (ReDial test, Kostric & Balog 2026): ReFICR 0.018/0.213/0.465, "
    "UniCRS 0.024/0.180/0.335, MESE 0.025/0.159/0.361, KBRD 0.017/0.148/0.300"
)


def recall_table(ranks: np.ndarray) -> dict:
    """``ranks``: 0-based rank of each target (a large number when outside the list)."""
    out = {"n_cases": len(ranks)}
    for k in KS:
        out[f"recall@{k}"] = round(float(np.mean(ranks < k)), 4) if len(ranks) else 0.0
    return out


def removed_by(agent: Agent, session, row: int) -> str:
    """Which of the chat's hard filters keeps the film at ``row`` out of the session's candidates (the first that
    does, in the pipeline's order): a genre asked for, an era, a genre ruled out, a person, ruled-out content,
    or the film being excluded as already mentioned, shown or ruled out by name."""
    from chat_rec.recommender.intent import Intent
    from chat_rec.recommender.pipeline import intent_ruled_out

    rec, intent = agent.rec, session.intent or Intent()
    state = agent.user_state(session)
    item = agent.catalog.items[row]
    if not rec.filters(intent, state, genres=False, era=False).mask(agent.catalog)[row]:
        return "excluded item" if not set(item.genres) & set(intent.unwanted_genres) else "genre ruled out"
    if not rec.filters(intent, state, era=False).mask(agent.catalog)[row]:
        return "genre asked for"
    if not rec.filters(intent, state).mask(agent.catalog)[row]:
        return "era"
    if intent.people and not rec.people_mask(intent.people)[row]:
        return "person"
    if intent.unwanted_people and rec.people_mask(intent.unwanted_people)[row]:
        return "person ruled out"
    words = intent_ruled_out(intent.unwanted_keywords)
    if words and rec.content_mask(words)[row]:
        return "ruled-out content"
    return "other"


def pick_reward(dialogue, item_id) -> float:
    """Kostric & Balog's reward of a top-1 pick: 1 for a film the seeker said they liked, 0.5 for one they had
    seen (the ReDial questionnaire about the films mentioned in the dialogue), else 0."""
    q = dialogue.questions.get(str(item_id)) or {}
    return 1.0 if q.get("liked") == 1 else (0.5 if q.get("seen") == 1 else 0.0)


def user_centric(rewards: dict[str, list[float]]) -> dict:
    """Per dialogue, the rewards of the top-1 pick at each scored turn: SR, the share of dialogues where some
    top-1 pick is a film the seeker liked or had seen; RDL, the summed reward over the dialogue's scored turns
    divided by their number (its length in recommendation turns), averaged over dialogues; ``SR_per_turn``, the
    share of scored turns whose top-1 pick is such a film."""
    if not rewards:
        return {"dialogues": 0, "SR": 0.0, "RDL": 0.0, "SR_per_turn": 0.0}
    return {
        "dialogues": len(rewards),
        "SR": round(float(np.mean([max(r) > 0 for r in rewards.values()])), 4),
        "RDL": round(float(np.mean([sum(r) / len(r) for r in rewards.values()])), 4),
        "SR_per_turn": round(float(np.mean([x > 0 for r in rewards.values() for x in r])), 4),
    }


def _rank_of(order: np.ndarray, target: int, catalog: Catalog | None = None) -> int:
    """The place of the target film in ``order``: its row, or another row of the same film (``Catalog.twins``:
    ReDial lists "The Matrix" and "The Matrix (1999)" under two ids, and a list shows one of them)."""
    rows = [target, *(catalog.twins(target) if catalog is not None else ())]
    hit = np.flatnonzero(np.isin(order, rows))
    return int(hit[0]) if len(hit) else 10**6


def evaluate(
    agent: Agent,
    dialogues,
    variants: dict[str, FusionModel],
    *,
    questionnaire: bool = True,
    progress: bool = True,
    desc: str = "cases",
) -> tuple[dict, dict[str, dict], float]:
    """The served ranking (``Agent.rank``) and each variant's fusion (``stage_scores``) over the same cases'
    signals."""
    started = time.perf_counter()
    served, liked, per_variant, filtered = [], [], {name: [] for name in variants}, 0
    by_filter: dict[str, int] = {}
    by_id = {d.id: d for d in dialogues}
    rewards: dict[str, list[float]] = {}
    for case, session in tqdm(
        replay_all(agent, dialogues, questionnaire=questionnaire), desc=desc, disable=not progress, unit="case"
    ):
        rows = np.array([s.row for s in agent.rank(session, 50).items], dtype=np.int64)
        served.append(_rank_of(rows, case.target, agent.catalog))
        liked.append(case.liked_target)
        top = agent.catalog.items[int(rows[0])].id if len(rows) else None
        rewards.setdefault(case.dialogue, []).append(pick_reward(by_id[case.dialogue], top))
        if variants:
            cand, Z, head = agent.signals(session)
            j = int(np.searchsorted(cand, case.target))
            if not (j < len(cand) and cand[j] == case.target):
                filtered += 1
                why = removed_by(agent, session, case.target)
                by_filter[why] = by_filter.get(why, 0) + 1
            for name, fusion in variants.items():
                score = stage_scores(fusion, head, Z, agent.catalog.name)
                order = cand[np.argsort(-score, kind="stable")[:50]]
                per_variant[name].append(_rank_of(order, case.target, agent.catalog))
    seconds = time.perf_counter() - started
    ranks, liked_mask = np.asarray(served), np.asarray(liked, dtype=bool)
    table = recall_table(ranks)
    table["liked_only"] = recall_table(ranks[liked_mask] if len(ranks) else ranks)
    if variants:
        table["targets_filtered_out"] = filtered  # removed by the chat's hard filters (genre, era, ...)
        table["filtered_out_by"] = dict(sorted(by_filter.items(), key=lambda kv: -kv[1]))
    table["user_centric"] = (
        user_centric(rewards)
        if any(d.questions for d in dialogues)
        else {"dialogues": 0, "why": "the dialogues carry no per-film answers (liked / seen): not defined"}
    )
    return table, {n: recall_table(np.asarray(r)) for n, r in per_variant.items()}, len(ranks) / max(seconds, 1e-9)


#: Above this many training dialogues each replayed case keeps its signals in float16 (memory).
COMPACT_DIALOGUES = 1500


def fit_request_head(
    replayer: Replayer, dialogues, catalog_name: str, *, names=None, seed: int = 0, progress=True, cache=None
):
    """The request head on ``dialogues`` replayed (two folds): its cases, linear weights, tree stage (``{}``
    when not kept) and the fitting log. ``cache``: a file keeping the replayed cases, reused when it was written
    for the same catalog, dialogues and signals (a refit of the weights without the replay)."""
    import hashlib
    import pickle
    from pathlib import Path

    key = hashlib.sha256(
        "\n".join(
            [replayer.catalog.fingerprint()]
            + ([f"bend {replayer.bend_genres}"] if replayer.bend_genres else [])
            + [*NAMES, *(d.id for d in dialogues)]
        ).encode()
    ).hexdigest()
    cached = None
    if cache is not None and Path(cache).is_file():
        with open(cache, "rb") as fh:
            stored = pickle.load(fh)
        cached = stored["cases"] if stored.get("key") == key else None
        if progress:
            print(f"replayed cases {'reused from' if cached is not None else 'not reusable:'} {cache}", flush=True)
    if cached is not None:
        cases, fitting = cached
    elif dialogues:
        dtype = np.float16 if len(dialogues) > COMPACT_DIALOGUES else np.float32
        cases, fitting = request_cases(replayer.agent, dialogues, progress=progress, dtype=dtype)
        if cache is not None:
            with open(cache, "wb") as fh:
                pickle.dump({"key": key, "cases": (cases, fitting)}, fh, protocol=pickle.HIGHEST_PROTOCOL)
    else:
        cases, fitting = [], {}
    fitting = dict(fitting)
    weights = fit_weights(cases, *([names] if names else [])) if cases else dict(DEFAULT_WEIGHTS["request"])
    tree, fitting["tree"] = (
        fit_tree(cases, weights, seed=seed, catalog=catalog_name, progress=progress) if cases else (None, {})
    )
    if progress and cases:
        print(
            f"tree stage {'kept' if tree else 'not kept'}: held-out R@10 "
            f"{fitting['tree']['heldout']['tree'].get('recall@10', 0):.4f} "
            f"vs linear {fitting['tree']['heldout']['linear'].get('recall@10', 0):.4f}",
            flush=True,
        )
    return cases, weights, ({"request": tree} if tree is not None else {}), fitting


def run_packaged(
    eval_file,
    catalog: Catalog,
    corpus,
    fusion: FusionModel,
    vectors: np.ndarray,
    encoder,
    index,
    *,
    ablation_dialogues=(),
    ablation_source: str = "",
    external: SideData | None = None,
    progress: bool = True,
) -> dict:
    """The protocol on exactly what the ReDial-catalog chat loads: the packaged catalog, its packaged
    dialogue corpus (``corpus``) and its packaged fitted ranker (``fusion``); nothing is fitted on
    ``eval_file``. Baselines on the same cases and candidates: the hand-set weights, the ranker's linear stage,
    popularity; and, when ``ablation_dialogues`` are given, the same chat fitted and with its statistics from
    those dialogues only (the ablation without the new dialogues), fitted in this run."""
    started = time.perf_counter()
    replayer = Replayer(catalog, index, vectors, encoder, external)
    agent = replayer.agent(corpus, fusion)
    head = dict(fusion.heads["request"])
    variants = {
        "hand-set defaults": FusionModel({"request": dict(DEFAULT_WEIGHTS["request"])}, {}, "", {}),
        "linear stage only": FusionModel({"request": head}, {}, "", {}),
        "popularity": FusionModel({"request": {"pop": 1.0}}, {}, "", {}),
    }
    table, ablations, per_second = evaluate(agent, eval_file.dialogues, variants, progress=progress)
    text_only, _, _ = evaluate(
        agent, eval_file.dialogues, {}, questionnaire=False, progress=progress, desc="cases, text only"
    )
    popularity = ablations.pop("popularity")
    without = {}
    if ablation_dialogues:
        if progress:
            print(f"ablation: fitting on {len(ablation_dialogues)} dialogues only ({ablation_source}) ...", flush=True)
        _, w_old, trees_old, _ = fit_request_head(replayer, list(ablation_dialogues), catalog.name, progress=progress)
        old = replayer.agent(list(ablation_dialogues), FusionModel({"request": w_old}, {}, "", trees_old))
        old_table, _, _ = evaluate(old, eval_file.dialogues, {}, progress=progress, desc="cases, ablation")
        old_text, _, _ = evaluate(
            old, eval_file.dialogues, {}, questionnaire=False, progress=progress, desc="cases, ablation text only"
        )
        without = {
            "source": ablation_source,
            "dialogues": len(ablation_dialogues),
            **{k: v for k, v in old_table.items() if k != "liked_only"},
            "text_only": {k: v for k, v in old_text.items() if k != "liked_only"},
            "tree_kept": bool(trees_old),
        }
    return {
        **_report(eval_file, catalog, table, text_only, ablations, popularity, per_second),
        "path": "Agent.read + Agent.rank (served): the packaged ReDial catalog, corpus and ranker",
        "ranker": "packaged",
        "without_new_dialogues": without,
        "weights": head,
        "tree_stage": bool(fusion.trees),
        "corpus_dialogues": len(corpus),
        "fitted_on": [f.get("path", "") for f in fusion.meta.get("files") or []],
        "seconds": round(time.perf_counter() - started, 1),
    }


def run(
    eval_file,
    train_files: Sequence,
    catalog: Catalog,
    vectors: np.ndarray,
    encoder,
    index,
    *,
    external: SideData | None = None,
    reranker=None,
    progress: bool = True,
) -> dict:
    """The protocol on one ReDial-format file (a ``DialogueFile``), statistics and weights from ``train_files``."""
    started = time.perf_counter()
    train_dialogues = [d for f in train_files for d in f.dialogues]
    replayer = Replayer(catalog, index, vectors, encoder, external)
    if progress:
        print(f"fitting the fusion on {len(train_dialogues)} training dialogues (replayed, two folds) ...", flush=True)
    cases, weights, trees, fitting = fit_request_head(replayer, train_dialogues, catalog.name, progress=progress)
    ablation_weights = {
        "hand-set defaults": dict(DEFAULT_WEIGHTS["request"]),
        "no re-ranker": {k: v for k, v in weights.items() if k != RERANKER},
    }
    if trees:
        ablation_weights["linear stage only"] = dict(ablation_weights["no re-ranker"])
    if cases:
        ablation_weights["no CF"] = fit_weights(cases, [n for n in NAMES if n not in NO_CF])
        ablation_weights["text signals only"] = fit_weights(cases, TEXT_SIGNALS)
    ablation_weights["popularity"] = {"pop": 1.0}
    del cases
    fusion = FusionModel({"request": weights}, {"fitted": bool(train_dialogues), "fitting": fitting}, "", trees)
    if reranker is not None:
        # its weight against this linear stage, fitted on the re-ranker's own held-out training dialogues
        w, fitting["reranker"] = refit_weight(
            lambda stats: replayer.agent(stats, fusion), train_dialogues, reranker, progress=progress
        )
        if progress:
            print(
                f"re-ranker weight {w:g} (held-out R@10 {fitting['reranker']['fused']['recall@10']:.4f} vs linear "
                f"{fitting['reranker']['linear_alone']['recall@10']:.4f})",
                flush=True,
            )
        fusion = with_fitted_reranker(fusion, w)
        weights = dict(fusion.heads["request"])
    agent = replayer.agent(train_dialogues, fusion, reranker=reranker if fusion.weight("request", RERANKER) else None)
    # the served tree stage stays in "no re-ranker"; the other rows are their weights' linear order
    variants = {
        name: FusionModel({"request": w}, {}, "", trees if name == "no re-ranker" else {})
        for name, w in ablation_weights.items()
    }
    table, ablations, per_second = evaluate(agent, eval_file.dialogues, variants, progress=progress)
    text_only, _, _ = evaluate(
        agent, eval_file.dialogues, {}, questionnaire=False, progress=progress, desc="cases, text only"
    )
    popularity = ablations.pop("popularity")
    return {
        **_report(eval_file, catalog, table, text_only, ablations, popularity, per_second),
        "ablation_weights": ablation_weights,
        "weights": weights,
        "fitting": fitting,
        "fitted_on": [f.source for f in train_files] + (["ML-latest-small ratings"] if external is not None else []),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _report(eval_file, catalog: Catalog, table, text_only, ablations, popularity, per_second: float) -> dict:
    """The fields both protocols report: the served rows, the same-run ablations and baseline, the file's counts."""
    unknown, empty = count_cases(eval_file.dialogues, catalog)
    return {
        "protocol": "redial",
        "file": eval_file.source,
        "path": "Agent.read + Agent.rank (served)",
        **table,
        "text_only": {k: v for k, v in text_only.items() if k != "liked_only"},
        "ablations": ablations,
        "baselines": {"popularity": popularity},
        "turns_per_second": round(per_second, 1),
        "n_dialogues": len(eval_file.dialogues),
        "malformed_lines": eval_file.malformed,
        "unknown_mentions": unknown,
        "empty_messages": empty,
    }


def format_report(result: dict) -> str:
    def line(label, t):
        return (
            f"{label:<26}{t['n_cases']:>6}  R@1 {t['recall@1']:.4f}  R@10 {t['recall@10']:.4f}  "
            f"R@50 {t['recall@50']:.4f}"
        )

    lines = [
        f"{result['protocol']} on {result['file']} ({result['n_dialogues']} dialogues; {result['malformed_lines']} "
        f"malformed lines skipped; {result['unknown_mentions']} mentions of movies not in the catalog), "
        f"through {result['path']}",
        line("chat-rec", result),
        line("chat-rec liked-only", result["liked_only"]),
        line("chat-rec text-only", result["text_only"]),
    ]
    lines += [line(f"ablation: {name}", t) for name, t in result["ablations"].items()]
    old = result.get("without_new_dialogues") or {}
    if old:
        lines.append(line("without new dialogues", old))
        lines.append(line("  the same, text-only", old["text_only"]))
    lines.append(line("popularity (train)", result["baselines"]["popularity"]))
    for label, t in (("", result), (" text-only", result["text_only"])):
        u = t.get("user_centric") or {}
        if "SR" in u:
            lines.append(
                f"user-centric{label}: SR {u['SR']:.4f} (any turn), {u['SR_per_turn']:.4f} per turn; "
                f"RDL {u['RDL']:.4f} over {u['dialogues']} dialogues"
            )
    lines.append(
        f"{result['turns_per_second']} cases/s; fitted weights "
        f"{ {k: v for k, v in result['weights'].items() if v} }; fitted on "
        f"{', '.join(map(str, result['fitted_on'])) or 'nothing'}"
    )
    lines.append(PUBLISHED)
    lines.append(PUBLISHED_USER)
    return "\n".join(lines)
