"""The Chat-REC MovieLens-100K top-5 protocol (DESIGN.md section 4).

Per user, a seeded random 80/20 split of that user's ratings; relevant = test items rated >= 4; users
with no relevant test item are skipped; every item not in the user's train part is ranked. A film the
catalog lists under two ids (18 in MovieLens-100K, ``Catalog.twins``) is one film for every row: the twin
of a train item is neither ranked nor relevant in the test part (recommending a film the person already
rated, under its other id, is not a hit; it moves no row by more than 4 of 4,650 picks). λ's validation
slice is scored on ids as before. Reported:
precision/recall/NDCG@5 and recall@20 (the candidate stage's ceiling), over all users and a seeded
200-user sample, with the paper's rows printed beside ours. λ for EASE is chosen on a validation slice
of each user's train part (a second seeded 80/20 split of it), never on test items.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from chat_rec.catalog import Interactions
from chat_rec.datasets.splits import relevant_sets, split_per_user
from chat_rec.evaluation.metrics import mean, ndcg_at_k, precision_at_k, recall_at_k
from chat_rec.evaluation.rerank import ABLATIONS, cross_encoder_scores, fused_order, llm_rankings, paired_bootstrap
from chat_rec.models.cf import EASE, Popularity, top_k, user_item_matrix

PROTOCOL = "chatrec-ml100k"
#: Gao et al. 2023, Table (MovieLens-100K, top-5): precision@5, recall@5, ndcg@5.
PAPER_ROWS = (
    ("LightFM", 0.2830, 0.1410, 0.2846),
    ("LightGCN", 0.3030, 0.1455, 0.3425),
    ("Chat-REC gpt-3.5-turbo", 0.3103, 0.1279, 0.3696),
    ("Chat-REC text-davinci-003", 0.3240, 0.1404, 0.3802),
    ("Chat-REC text-davinci-002", 0.3031, 0.1240, 0.3629),
)
LAMBDA_GRID = (50.0, 100.0, 200.0, 300.0, 500.0, 800.0, 1200.0)
K, K_CANDIDATES, SAMPLE_USERS = 5, 20, 200


@dataclass
class UserScores:
    precision: float
    recall: float
    ndcg: float
    recall_candidates: float


def rank_users(
    score_fn: Callable[[np.ndarray], np.ndarray],
    X_train,
    users: Sequence[int],
    k: int = K_CANDIDATES,
    batch: int = 256,
    catalog=None,
) -> dict[int, np.ndarray]:
    """Top-``k`` catalog rows per user from ``score_fn(history matrix rows)``, train items (and, given the
    ``catalog``, their twins) excluded."""
    out = {}
    for start in range(0, len(users), batch):
        chunk = list(users[start : start + batch])
        rows = X_train[chunk]
        scores = score_fn(rows.toarray())
        for j, u in enumerate(chunk):
            seen = rows[j].indices if catalog is None else np.fromiter(catalog.with_twins(rows[j].indices), np.int64)
            out[u] = top_k(scores[j], k, exclude=seen)
    return out


def new_films_only(train: Interactions, relevant: dict[int, set[int]]) -> dict[int, set[int]]:
    """``relevant`` less the items whose twin (the same film under another id) the user rated in ``train``;
    users left with none are dropped."""
    catalog = train.catalog
    rated: dict[int, set[int]] = {}
    for u, i in zip(train.user_rows.tolist(), train.item_rows.tolist()):
        rated.setdefault(u, set()).add(i)
    out = {}
    for u, items in relevant.items():
        kept = {i for i in items if not set(catalog.twins(i)) & rated.get(u, set())}
        if kept:
            out[u] = kept
    return out


def score_users(ranked: dict[int, np.ndarray], relevant: dict[int, set[int]]) -> dict[int, UserScores]:
    return {
        u: UserScores(
            precision_at_k(list(ranked[u]), relevant[u], K),
            recall_at_k(list(ranked[u]), relevant[u], K),
            ndcg_at_k(list(ranked[u]), relevant[u], K),
            recall_at_k(list(ranked[u]), relevant[u], K_CANDIDATES),
        )
        for u in ranked
    }


def summarise(model: str, users_label: str, per_user: dict[int, UserScores], users: Sequence[int], **extra) -> dict:
    chosen = [per_user[u] for u in users]
    row = {
        "model": model,
        "users": users_label,
        "n_users": len(chosen),
        "precision@5": round(mean([s.precision for s in chosen]), 4),
        "recall@5": round(mean([s.recall for s in chosen]), 4),
        "ndcg@5": round(mean([s.ndcg for s in chosen]), 4),
        "recall@20": round(mean([s.recall_candidates for s in chosen]), 4),
    }
    row.update(extra)
    return row


def choose_lambda(
    train: Interactions, weighting: str, seed: int, grid: Sequence[float] = LAMBDA_GRID
) -> tuple[float, dict]:
    """λ maximising NDCG@5 on a validation slice carved from the train part (seed + 1)."""
    val_mask = split_per_user(train, seed + 1)
    fit_part = train.subset(~val_mask)
    relevant = relevant_sets(train, val_mask)
    users = sorted(relevant)
    X_fit = user_item_matrix(fit_part, weighting)
    results = {}
    for lam in grid:
        model = EASE(lam, weighting).fit_matrix(X_fit)
        ranked = rank_users(model.score, X_fit, users, k=K)
        results[lam] = mean([ndcg_at_k(list(ranked[u]), relevant[u], K) for u in users])
    best = max(results, key=lambda lam: (results[lam], -lam))
    return best, {str(int(lam)): round(v, 4) for lam, v in results.items()}


SERVED_MESSAGE = "recommend me something"


def served_rankings(
    make_agent: Callable[[Interactions], object],
    train: Interactions,
    users: Sequence[int],
    k: int = K_CANDIDATES,
    progress: bool = True,
) -> dict[int, np.ndarray]:
    """The chat's own top ``k`` per user: ``make_agent(train)`` is the served agent over the train part;
    each user is a known user (train ratings loaded) who says "recommend me something"."""
    from chat_rec.session import Session

    agent = make_agent(train)
    out = {}
    for u in tqdm(list(users), desc="served", disable=not progress, unit="user"):
        session = Session(user_id=train.user_ids[u])
        agent.read(SERVED_MESSAGE, session)
        out[u] = np.array([s.row for s in agent.rank(session, k).items], dtype=np.int64)
    return out


def run(
    interactions: Interactions,
    seed: int = 0,
    *,
    lambdas: Sequence[float] = LAMBDA_GRID,
    extra_models: Sequence = (),
    progress: bool = True,
    reranker=None,
    chat_model=None,
    served=None,
) -> dict:
    """Run the protocol. ``extra_models``: (name, fit(train) -> score_fn) pairs for later stages.

    ``served`` (``make_agent(train) -> Agent``) adds the ``served`` row: the chat's own ranking, with its
    paired comparison against the strongest CF row. ``reranker`` (a ``CrossEncoderReranker`` trained on
    this seed's train part) adds the ``cf+rerank`` rows; ``chat_model`` adds ``cf+llm`` on the 200-user sample.
    """
    started = time.perf_counter()
    test_mask = split_per_user(interactions, seed)
    train = interactions.subset(~test_mask)
    relevant = new_films_only(train, relevant_sets(interactions, test_mask))
    users = sorted(relevant)
    sample = sorted(
        np.random.default_rng(seed).choice(users, size=min(SAMPLE_USERS, len(users)), replace=False).tolist()
    )
    X_binary = user_item_matrix(train, "binary")
    X_rating = user_item_matrix(train, "rating")

    rows, per_model, scorers, lambdas_chosen = [], {}, {}, {}
    steps = [("popularity", None), ("ease", "binary"), ("ease-rated", "rating")] + [
        (name, fn) for name, fn in extra_models
    ]
    for name, how in tqdm(steps, desc="models", disable=not progress):
        extra = {}
        if name == "popularity":
            model = Popularity().fit(train)
            score_fn, X = model.score, X_binary
        elif name in ("ease", "ease-rated"):
            lam, grid = choose_lambda(train, how, seed, lambdas)
            model = EASE(lam, how).fit_matrix(X_binary if how == "binary" else X_rating)
            score_fn, X = model.score, X_binary if how == "binary" else X_rating
            extra = {"lambda": lam, "lambda_validation_ndcg@5": grid}
            lambdas_chosen[name] = lam
        else:
            score_fn, X = how(train), X_rating
        ranked = rank_users(score_fn, X, users, catalog=train.catalog)
        per_user = score_users(ranked, relevant)
        per_model[name] = per_user
        scorers[name] = (score_fn, X, ranked)
        rows.append(summarise(name, "all", per_user, users, **extra))
        rows.append(summarise(name, "sample200", per_user, sample, **extra))
    cf_rows = [r for r in rows if r["users"] == "all" and r["model"] in ("popularity", "ease", "ease-rated")]
    strongest = max(cf_rows, key=lambda r: (r["ndcg@5"], r["precision@5"]))["model"]
    paired, notes = {}, {}
    if reranker is not None or chat_model is not None:
        score_fn, X, candidates = scorers[strongest]
        cf_scores = {}
        for start in range(0, len(users), 256):
            chunk = users[start : start + 256]
            block = score_fn(X[chunk].toarray())
            for j, u in enumerate(chunk):
                cf_scores[u] = block[j, candidates[u]]
    if reranker is not None:
        weight = reranker.fusion_weight
        ce = cross_encoder_scores(reranker, train, candidates, progress)
        variants = {name: (cf_scores, ce[name], weight) for name in ABLATIONS}
        for name, (base, scores, w) in variants.items():
            per_user = score_users(fused_order(candidates, base, scores, w), relevant)
            per_model[name] = per_user
            extra = {"fusion_weight": w}
            for label, chosen in (("all", users), ("sample200", sample)):
                rows.append(summarise(name, label, per_user, chosen, candidates=strongest, **extra))
        paired["cf+rerank"] = _paired(per_model, "cf+rerank", strongest, users, seed)
        notes["reranker"] = {
            k: reranker.meta.get(k)
            for k in (
                "seed",
                "steps",
                "total_steps",
                "complete",
                "fusion",
                "fusion_weight",
                "minutes",
                "fusion_formula",
            )
        }
    if served is not None:
        per_user = score_users(served_rankings(served, train, users, progress=progress), relevant)
        per_model["served"] = per_user
        for label, chosen in (("all", users), ("sample200", sample)):
            rows.append(
                summarise(
                    "served", label, per_user, chosen, note=f'Agent.read + Agent.rank, rules, "{SERVED_MESSAGE}"'
                )
            )
        paired["served"] = _paired(per_model, "served", strongest, users, seed)
    if chat_model is not None:
        ranked, invalid = llm_rankings(chat_model, train, candidates, sample, progress)
        per_user = score_users(ranked, relevant)
        rows.append(summarise("cf+llm", "sample200", per_user, sample, invalid_answers=invalid, candidates=strongest))
    return {
        "protocol": PROTOCOL,
        "seed": seed,
        "n_users_with_relevant": len(users),
        "strongest_cf": strongest,
        "rows": rows,
        "paired": paired,
        **notes,
        "paper": [{"model": m, "precision@5": p, "recall@5": r, "ndcg@5": n} for m, p, r, n in PAPER_ROWS],
        "seconds": round(time.perf_counter() - started, 1),
    }


def _paired(per_model: dict, name: str, against: str, users: Sequence[int], seed: int) -> dict:
    out = {"against": against}
    for metric in ("precision", "recall", "ndcg"):
        diff = [getattr(per_model[name][u], metric) - getattr(per_model[against][u], metric) for u in users]
        out[f"{metric}@5"] = paired_bootstrap(diff, seed=seed)
    return out


def format_table(result: dict) -> str:
    head = f"{'model':<34}{'users':<11}{'n':>5}{'P@5':>9}{'R@5':>9}{'NDCG@5':>9}{'R@20':>9}  notes"
    lines = [f"Chat-REC MovieLens-100K top-5, seed {result['seed']} ({result['seconds']} s)", head, "-" * len(head)]
    for r in result["rows"]:
        note = f"lambda={r['lambda']:g}" if "lambda" in r else ""
        if "candidates" in r:
            note = f"{r.get('note') or 'w={:g}'.format(r['fusion_weight'])} over {r['candidates']} top-20"
        if r["model"] == "served":
            note = r["note"]
        if "invalid_answers" in r:
            note = f"invalid answers {r['invalid_answers']}/{r['n_users']}"
        if r["model"] == result.get("strongest_cf") and r["users"] == "all":
            note = (note + " strongest CF").strip()
        lines.append(
            f"{r['model']:<34}{r['users']:<11}{r['n_users']:>5}{r['precision@5']:>9.4f}{r['recall@5']:>9.4f}"
            f"{r['ndcg@5']:>9.4f}{r['recall@20']:>9.4f}  {note}"
        )
    for name, block in (result.get("paired") or {}).items():
        for metric, p in block.items():
            if metric == "against":
                continue
            lines.append(
                f"paired {name} - {block['against']} {metric}: mean {p['mean_diff']:+.4f}, "
                f"bootstrap 95% [{p['ci95'][0]:+.4f}, {p['ci95'][1]:+.4f}] over {p['n_users']} users"
            )
    for p in result["paper"]:
        lines.append(
            f"{'paper: ' + p['model']:<34}{'paper':<11}{'':>5}{p['precision@5']:>9.4f}{p['recall@5']:>9.4f}"
            f"{p['ndcg@5']:>9.4f}{'':>9}"
        )
    return "\n".join(lines)
