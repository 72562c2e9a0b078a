"""The LLM's part in a turn: structured intent extraction (JSON-schema constrained) and the optional
rewrite of explanation facts into prose. Every call has a timeout; any failure returns None and a
reason, and the caller falls back to the rules or the template."""

from __future__ import annotations

import concurrent.futures
import json
import logging
from pathlib import Path
from typing import Any

import yaml
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from ..catalog import Catalog
from .intent import Intent
from .titles import TitleMatcher

log = logging.getLogger(__name__)
PROMPTS = Path(__file__).resolve().parents[2] / "prompts"
KINDS = ["recommend", "more_like", "refine", "explain", "chat"]


def load_prompt(name: str) -> dict:
    path = PROMPTS / f"{name}.yaml"
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def intent_schema(genres: list[str]) -> dict:
    """JSON schema for the LLM's answer. Arrays are capped (small models loop otherwise, DESIGN §3)."""

    def arr(n: int, items: dict | None = None) -> dict:
        return {"type": "array", "items": items or {"type": "string", "maxLength": 40}, "maxItems": n}

    genre_item = {"type": "string", "enum": genres} if genres else None
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "kind": {"type": "string", "enum": KINDS},
            "genres": arr(4, genre_item),
            "avoid_genres": arr(4, genre_item),
            "keywords": arr(5),
            "avoid_keywords": arr(4),
            "liked_titles": arr(3),
            "disliked_titles": arr(3),
            "similar_to_titles": arr(3),
            "year_min": {"type": ["integer", "null"]},
            "year_max": {"type": ["integer", "null"]},
            "mood": {"type": ["string", "null"], "enum": ["light", "dark", "sad", None]},
        },
        "required": [
            "kind",
            "genres",
            "avoid_genres",
            "keywords",
            "avoid_keywords",
            "liked_titles",
            "disliked_titles",
            "similar_to_titles",
            "year_min",
            "year_max",
            "mood",
        ],
    }


class LLMFailure(Exception):
    """The LLM timed out, raised, or answered something unusable; ``str()`` says which, for the notice."""


class LLMHelper:
    """Wraps a LangChain chat model with prompts, a schema, a timeout and validation."""

    def __init__(self, model: BaseChatModel, catalog: Catalog, titles: TitleMatcher, timeout: float = 20.0):
        self.model, self.catalog, self.titles, self.timeout = model, catalog, titles, timeout
        self.genres = [g for g in catalog.genre_names if g.lower() != "unknown"]
        self.schema = intent_schema(self.genres)
        prompt = load_prompt("intent")
        self.system = prompt["system"].replace("{genres}", ", ".join(self.genres))
        self.examples = prompt.get("examples", [])
        self.explain_system = load_prompt("explain")["system"]
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="llm")

    @property
    def name(self) -> str:
        return getattr(self.model, "_llm_type", type(self.model).__name__)

    def _call(self, messages, **kwargs) -> str:
        future = self._pool.submit(self.model.invoke, messages, **kwargs)
        try:
            result = future.result(timeout=self.timeout)
        except concurrent.futures.TimeoutError:
            raise LLMFailure(f"the language model did not answer within {self.timeout:g} s") from None
        except Exception as exc:  # the model's failure is reported to the person, never raised into the chat
            log.warning("LLM call failed: %r", exc)
            raise LLMFailure(f"the language model failed ({type(exc).__name__})") from None
        return str(result.content)

    def _kwargs(self, schema: dict | None) -> dict:
        if self.name == "llama-cpp":
            return {"json_schema": schema} if schema else {}
        if self.name == "scripted":
            return {}
        return {"response_format": {"type": "json_object"}} if schema else {}

    def extract(self, message: str, history: list[str] | None = None) -> Intent:
        """The LLM's reading of ``message`` as an Intent. Raises LLMFailure."""
        messages: list = [SystemMessage(self.system)]
        for ex in self.examples:
            messages += [HumanMessage(ex["user"]), AIMessage(ex["assistant"])]
        context = ""
        if history:
            context = "Earlier in this chat the person said: " + " | ".join(h[:200] for h in history[-2:]) + "\n"
        messages.append(HumanMessage(context + "Message: " + message))
        raw = self._call(messages, **self._kwargs(self.schema))
        return self.to_intent(raw)

    def to_intent(self, raw: str) -> Intent:
        """Validate and map the LLM's JSON: genres must be the catalog's, titles must resolve, years sane."""
        try:
            start, end = raw.index("{"), raw.rindex("}") + 1
            data: Any = json.loads(raw[start:end])
        except ValueError:
            raise LLMFailure("the language model returned text that is not JSON") from None
        if not isinstance(data, dict):
            raise LLMFailure("the language model returned JSON that is not an object")
        known = {g.lower(): g for g in self.genres}

        def strings(key: str, limit: int) -> list[str]:
            value = data.get(key) or []
            return (
                [str(v).strip() for v in value if isinstance(v, (str, int)) and str(v).strip()][:limit]
                if isinstance(value, list)
                else []
            )

        def genres(key: str) -> list[str]:
            return list(dict.fromkeys(known[g.lower()] for g in strings(key, 4) if g.lower() in known))

        def titles(key: str) -> list:
            found = [self.titles.lookup(t) for t in strings(key, 3)]
            return list(dict.fromkeys(i for i in found if i is not None))

        def year(key: str) -> int | None:
            value = data.get(key)
            return int(value) if isinstance(value, (int, float)) and 1870 <= int(value) <= 2100 else None

        kind = data.get("kind") if data.get("kind") in KINDS else "recommend"
        mood = data.get("mood") if data.get("mood") in ("light", "dark", "sad") else None
        return Intent(
            kind=kind,
            wanted_genres=genres("genres"),
            unwanted_genres=genres("avoid_genres"),
            keywords=[k.lower() for k in strings("keywords", 5)],
            unwanted_keywords=[k.lower() for k in strings("avoid_keywords", 4)],
            liked_items=titles("liked_titles"),
            disliked_items=titles("disliked_titles"),
            reference_items=titles("similar_to_titles"),
            year_min=year("year_min"),
            year_max=year("year_max"),
            mood=mood,
        )

    def rewrite(self, facts_text: str) -> str:
        """One or two sentences from the facts (checked for grounding by the caller). Raises LLMFailure."""
        messages = [SystemMessage(self.explain_system), HumanMessage("Facts: " + facts_text)]
        text = self._call(messages, **({"max_tokens": 80} if self.name == "llama-cpp" else {})).strip()
        if not text:
            raise LLMFailure("the language model returned an empty explanation")
        return text
