"""Intent extraction quality on hand-labelled requests: genre F1 and negation recall."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml


def load_labelled(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def score_intents(cases: list[dict], parse: Callable[[str], object]) -> dict:
    """``parse(message) -> Intent``. Genre F1 is micro-averaged over (case, genre) pairs; negation recall
    counts labelled unwanted genres found in ``unwanted_genres`` and labelled unwanted words found in
    ``unwanted_keywords``."""
    tp = fp = fn = 0
    neg_total = neg_found = 0
    misses = []
    for case in cases:
        intent = parse(case["say"])
        want, got = set(case.get("genres", [])), set(intent.wanted_genres)
        tp, fp, fn = tp + len(want & got), fp + len(got - want), fn + len(want - got)
        for g in case.get("neg_genres", []):
            neg_total += 1
            neg_found += g in intent.unwanted_genres
        for w in case.get("neg_keywords", []):
            neg_total += 1
            neg_found += any(w in k or k in w for k in intent.unwanted_keywords)
        if want != got or not set(case.get("neg_genres", [])) <= set(intent.unwanted_genres):
            misses.append({"say": case["say"], "genres": sorted(got), "unwanted": sorted(intent.unwanted_genres)})
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "n_cases": len(cases),
        "genre_precision": round(precision, 4),
        "genre_recall": round(recall, 4),
        "genre_f1": round(f1, 4),
        "negation_recall": round(neg_found / neg_total, 4) if neg_total else 1.0,
        "n_negations": neg_total,
        "misses": misses,
    }
