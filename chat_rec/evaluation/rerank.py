"""Second-stage rows of the Chat-REC protocol: the strongest CF row's top 20, re-ranked to a top 5.

* ``cf+rerank``: the BERT context re-ranker fused with the CF score, ``z(cf) + w * z(ce)`` (w from the
  checkpoint, fitted on a validation slice of the train part); ``-no-context`` / ``-no-profile`` drop
  that part of the query text at scoring time (the model was trained with parts dropped at random).
* ``cf+llm``: the paper's own method with the local LLM: the prompt lists the user's rated titles and
  the 20 candidates, the LLM answers five candidate numbers (JSON-schema constrained); an invalid or
  short answer is completed from the CF order and counted.

Also the paired per-user comparison with a seeded bootstrap interval.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

from chat_rec.catalog import Interactions, display_title, item_text
from chat_rec.recommender.context import offline_query
from chat_rec.training.reranker import fuse

ABLATIONS = {"cf+rerank": (), "cf+rerank-no-context": ("context",), "cf+rerank-no-profile": ("profile",)}


def cross_encoder_scores(
    reranker, train: Interactions, candidates: dict[int, np.ndarray], progress: bool = True
) -> dict[str, dict[int, np.ndarray]]:
    """Per ablation name, user row -> the cross-encoder's scores of that user's candidates."""
    catalog = train.catalog
    texts: dict[int, str] = {}
    out: dict[str, dict[int, np.ndarray]] = {name: {} for name in ABLATIONS}
    for u in tqdm(sorted(candidates), desc="re-rank", disable=not progress):
        item_texts = [texts.setdefault(r, item_text(catalog.items[r])) for r in candidates[u]]
        for name, drop in ABLATIONS.items():
            out[name][u] = reranker.score(offline_query(catalog, train, u, drop=drop), item_texts)
    return out


def fused_order(
    candidates: dict[int, np.ndarray], base: dict[int, np.ndarray], ce: dict[int, np.ndarray] | None, weight: float
) -> dict[int, np.ndarray]:
    """User row -> candidates ordered by ``z(base) + weight * z(ce)`` (ties keep the candidate order)."""
    out = {}
    for u, cand in candidates.items():
        extra = ce[u] if ce is not None else np.zeros(len(cand))
        out[u] = cand[np.argsort(-fuse(base[u], extra, weight), kind="stable")]
    return out


def paired_bootstrap(diff: Sequence[float], n_boot: int = 10000, seed: int = 0) -> dict:
    """Mean of per-user differences and its percentile 95 % interval."""
    diff = np.asarray(diff, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(n_boot, len(diff)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {
        "mean_diff": round(float(diff.mean()), 5),
        "ci95": [round(float(lo), 5), round(float(hi), 5)],
        "n_users": len(diff),
    }


LLM_SYSTEM = (
    "You are a movie recommender. From the numbered candidates, choose the 5 movies the user will "
    'like most, best first. Answer JSON: {"picks": [five candidate numbers]}.'
)


def llm_prompt(train: Interactions, u: int, cand: Sequence[int], max_rated: int = 15) -> str:
    catalog = train.catalog
    mask = train.user_rows == u
    order = np.argsort(-train.ratings[mask], kind="stable")[:max_rated]
    rated = [
        f"{display_title(catalog.items[r].title)}: {int(x)}/5"
        for r, x in zip(train.item_rows[mask][order], train.ratings[mask][order])
    ]
    lines = [f"{n + 1}. {display_title(catalog.items[r].title)}" for n, r in enumerate(cand)]
    return "The user rated: " + "; ".join(rated) + "\nCandidates:\n" + "\n".join(lines)


def llm_schema(n: int) -> dict:
    return {
        "type": "object",
        "properties": {
            "picks": {
                "type": "array",
                "items": {"type": "integer", "enum": list(range(1, n + 1))},
                "minItems": 5,
                "maxItems": 5,
            }
        },
        "required": ["picks"],
    }


def llm_rankings(
    chat_model, train: Interactions, candidates: dict[int, np.ndarray], users: Sequence[int], progress: bool = True
) -> tuple[dict[int, np.ndarray], int]:
    """The LLM's top 5 per user (completed from the CF order when invalid) and the count of invalid answers."""
    from langchain_core.messages import HumanMessage, SystemMessage

    out, invalid = {}, 0
    for u in tqdm(list(users), desc="cf+llm", disable=not progress):
        cand = candidates[u]
        picks: list[int] = []
        try:
            raw = chat_model.invoke(
                [SystemMessage(LLM_SYSTEM), HumanMessage(llm_prompt(train, u, cand))],
                json_schema=llm_schema(len(cand)),
                max_tokens=40,
            ).content
            numbers = json.loads(raw).get("picks", [])
            picks = list(dict.fromkeys(int(x) for x in numbers if isinstance(x, int) and 1 <= x <= len(cand)))
        except Exception:
            picks = []
        if len(picks) < 5:
            invalid += 1
        chosen = [int(cand[p - 1]) for p in picks[:5]]
        chosen += [int(r) for r in cand if int(r) not in chosen]
        out[u] = np.asarray(chosen, dtype=np.int64)
    return out, invalid
