"""The rule reading and the LLM's reading of one message, merged: the rules win on hard constraints."""

from __future__ import annotations

from chat_rec.recommender.intent.model import Intent
from chat_rec.recommender.intent.rules import REQUEST


def merge_intents(rules: Intent, llm: Intent | None, message: str = "") -> Intent:
    """Rules win on hard constraints (negations, years, genres they found, the request kind); the LLM
    adds soft aspects (keywords, mood, titles it recognised) and fills what the rules left empty."""
    if llm is None:
        return rules
    merged = rules.model_copy(deep=True)
    for field in ("liked_items", "disliked_items", "reference_items", "keywords", "unwanted_keywords"):
        for value in getattr(llm, field):
            if value not in getattr(merged, field):
                getattr(merged, field).append(value)
    for genre in llm.unwanted_genres:
        if genre not in merged.unwanted_genres and genre not in rules.wanted_genres:
            merged.unwanted_genres.append(genre)
    if not rules.wanted_genres:
        merged.wanted_genres = [g for g in llm.wanted_genres if g not in merged.unwanted_genres]
    merged.keywords = [k for k in merged.keywords if k not in merged.unwanted_keywords][:12]
    if rules.year_min is None and rules.year_max is None:
        merged.year_min, merged.year_max = llm.year_min, llm.year_max
    merged.mood = rules.mood or llm.mood
    merged.liked_items = [i for i in merged.liked_items if i not in merged.disliked_items]
    merged.reference_items = [i for i in merged.reference_items if i not in merged.disliked_items]
    if rules.kind == "recommend" and merged.reference_items and not rules.reference_items:
        merged.kind = "more_like"
    elif (
        rules.kind == "recommend"
        and llm.kind == "chat"
        and rules.is_empty()
        and not rules.unknown_titles
        and not REQUEST.search(message)
    ):
        merged.kind = "chat"
    return merged


def merge_soft(rules: Intent, llm: Intent | None) -> Intent:
    """The background refinement's merge (``CHATREC_READER=refine``): the rules' reading stands whole; the
    LLM adds only soft aspects: topic words, words to avoid, a mood, and titles the message says."""
    if llm is None:
        return rules
    merged = rules.model_copy(deep=True)
    for word in llm.unwanted_keywords:
        if word not in merged.unwanted_keywords:
            merged.unwanted_keywords.append(word)
    for word in llm.keywords[:3]:
        if word not in merged.keywords and word not in merged.unwanted_keywords:
            merged.keywords.append(word)
    merged.keywords = [k for k in merged.keywords if k not in merged.unwanted_keywords][:12]
    merged.mood = rules.mood or llm.mood
    new_refs = [i for i in llm.reference_items if i not in merged.reference_items and i not in merged.disliked_items]
    merged.reference_items += new_refs
    if rules.kind == "recommend" and new_refs:
        merged.kind = "more_like"
    return merged
