"""Reading what the person wants: the ``Intent`` record (``model``), the rule reader (``rules``, with its word
lists in ``lexicon.yaml``), catalog titles in free text (``titles``), the LLM reader (``llm_reader``) and the
merge of the two readings (``merge``)."""

from chat_rec.recommender.intent.lexicon import KEYWORD_EXPANSIONS, MOOD_GENRES, RULED_OUT_WORDS, ruled_out
from chat_rec.recommender.intent.merge import merge_intents, merge_soft
from chat_rec.recommender.intent.model import Intent, Kind
from chat_rec.recommender.intent.rules import ANSWER_NO, ANSWER_YES, RuleParser

__all__ = [
    "ANSWER_NO",
    "ANSWER_YES",
    "KEYWORD_EXPANSIONS",
    "MOOD_GENRES",
    "RULED_OUT_WORDS",
    "Intent",
    "Kind",
    "RuleParser",
    "merge_intents",
    "merge_soft",
    "ruled_out",
]
