"""The LLM's part in a turn: structured intent extraction (JSON-schema constrained) and the optional
rewrite of explanation facts into prose. Every call has a timeout; any failure returns None and a
reason, and the caller falls back to the rules or the template."""

from __future__ import annotations

import concurrent.futures
import json
import logging
from importlib import resources
from typing import Any, Literal, get_args

import yaml
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field, field_validator

from chat_rec.catalog import Catalog
from chat_rec.recommender.intent.model import Intent, Kind
from chat_rec.recommender.intent.titles import TitleMatcher

log = logging.getLogger(__name__)
#: tokens for a rewritten explanation (one or two sentences)
REWRITE_TOKENS = 80
#: list fields of the answer -> how many entries are read (small models loop otherwise, DESIGN section 3)
LIMITS = {
    "genres": 4,
    "avoid_genres": 4,
    "keywords": 5,
    "avoid_keywords": 4,
    "liked_titles": 3,
    "disliked_titles": 3,
    "similar_to_titles": 3,
}
MAX_WORD = 40
Mood = Literal["light", "dark", "sad"]


def load_prompt(name: str) -> dict:
    """A prompt from the package data (``chat_rec/prompts/<name>.yaml``): works from a checkout and an install."""
    return yaml.safe_load(resources.files("chat_rec.prompts").joinpath(f"{name}.yaml").read_text(encoding="utf-8"))


class LLMReading(BaseModel):
    """The LLM's answer for one message. This model is the one schema of that answer: it generates the JSON
    schema the local model decodes under (``json_schema``), the field list in the prompt (``field_lines``), and
    parses the answer (``model_validate``), leniently: extra keys are ignored, lists are cut to their limit,
    entries that are not words are dropped, an unknown kind reads as ``recommend``, an unknown mood or an
    implausible year as null."""

    model_config = ConfigDict(extra="ignore")

    kind: Kind = Field("recommend", description="recommend | more_like | refine | explain | chat")
    genres: list[str] = Field([], description="genres the person wants, from: {genres}")
    avoid_genres: list[str] = Field([], description="genres they do not want")
    keywords: list[str] = Field([], description="up to 5 short topic words (plot, setting, mood)")
    avoid_keywords: list[str] = Field([], description="things they do not want")
    liked_titles: list[str] = Field([], description="titles they liked, as written")
    disliked_titles: list[str] = Field([], description="titles they disliked, as written")
    similar_to_titles: list[str] = Field([], description="titles they want something like, as written")
    year_min: int | None = Field(None, description="earliest release year, or null")
    year_max: int | None = Field(None, description="latest release year, or null")
    mood: Mood | None = Field(None, description="light | dark | sad | null")

    @field_validator(*LIMITS, mode="before")
    @classmethod
    def _words(cls, value, info):
        if not isinstance(value, list):
            return []
        words = [str(v).strip()[:MAX_WORD] for v in value if isinstance(v, (str, int)) and str(v).strip()]
        return words[: LIMITS[info.field_name]]

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value):
        return value if value in get_args(Kind) else "recommend"

    @field_validator("mood", mode="before")
    @classmethod
    def _mood(cls, value):
        return value if value in get_args(Mood) else None

    @field_validator("year_min", "year_max", mode="before")
    @classmethod
    def _year(cls, value):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 1870 <= int(value) <= 2100
        return int(value) if ok else None

    @classmethod
    def json_schema(cls, genres: list[str]) -> dict:
        """The JSON schema of the answer, from the model: every field required, lists capped, genres (when the
        catalog has them) limited to the catalog's."""
        schema = cls.model_json_schema()
        props = {}
        for name, prop in schema["properties"].items():
            prop = {k: v for k, v in prop.items() if k not in ("title", "default", "description")}
            if name in LIMITS:
                item = {"type": "string", "maxLength": MAX_WORD}
                if name in ("genres", "avoid_genres") and genres:
                    item = {"type": "string", "enum": list(genres)}
                prop = {"type": "array", "items": item, "maxItems": LIMITS[name]}
            props[name] = prop
        return {"type": "object", "additionalProperties": False, "properties": props, "required": list(props)}

    @classmethod
    def field_lines(cls, genres: list[str]) -> str:
        """The prompt's description of the answer, one line per field."""
        return "\n".join(
            f"{name}: {field.description.replace('{genres}', ', '.join(genres))}"
            for name, field in cls.model_fields.items()
        )


class LLMFailure(Exception):
    """The LLM timed out, raised, or answered something unusable; ``str()`` says which, for the notice."""


class LLMHelper:
    """Wraps a LangChain chat model with prompts, a schema, a timeout and validation."""

    def __init__(self, model: BaseChatModel, catalog: Catalog, titles: TitleMatcher, timeout: float = 20.0):
        self.model, self.catalog, self.titles, self.timeout = model, catalog, titles, timeout
        self.genres = [g for g in catalog.genre_names if g.lower() != "unknown"]
        self.schema = LLMReading.json_schema(self.genres)
        prompt = load_prompt("intent")
        self.system = prompt["system"].replace("{fields}", LLMReading.field_lines(self.genres))
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
        """How the model is asked for JSON: a model that decodes under a JSON schema (the local llama.cpp model
        and the test double declare ``accepts_json_schema``) gets the schema; an OpenAI-compatible one, JSON mode."""
        if not schema:
            return {}
        if getattr(self.model, "accepts_json_schema", False):
            return {"json_schema": schema}
        return {"response_format": {"type": "json_object"}}

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
        """Validate and map the LLM's JSON (``LLMReading``): genres must be the catalog's, titles must resolve."""
        try:
            start, end = raw.index("{"), raw.rindex("}") + 1
            data: Any = json.loads(raw[start:end])
        except ValueError:
            raise LLMFailure("the language model returned text that is not JSON") from None
        if not isinstance(data, dict):
            raise LLMFailure("the language model returned JSON that is not an object")
        reading = LLMReading.model_validate(data)
        known = {g.lower(): g for g in self.genres}

        def genres(values: list[str]) -> list[str]:
            return list(dict.fromkeys(known[g.lower()] for g in values if g.lower() in known))

        def titles(values: list[str]) -> list:
            return list(dict.fromkeys(i for i in (self.titles.lookup(t) for t in values) if i is not None))

        return Intent(
            kind=reading.kind,
            wanted_genres=genres(reading.genres),
            unwanted_genres=genres(reading.avoid_genres),
            keywords=[k.lower() for k in reading.keywords],
            unwanted_keywords=[k.lower() for k in reading.avoid_keywords],
            liked_items=titles(reading.liked_titles),
            disliked_items=titles(reading.disliked_titles),
            reference_items=titles(reading.similar_to_titles),
            year_min=reading.year_min,
            year_max=reading.year_max,
            mood=reading.mood,
        )

    def rewrite(self, facts_text: str) -> str:
        """One or two sentences from the facts (checked for grounding by the caller). Raises LLMFailure."""
        messages = [SystemMessage(self.explain_system), HumanMessage("Facts: " + facts_text)]
        text = self._call(messages, max_tokens=REWRITE_TOKENS).strip()
        if not text:
            raise LLMFailure("the language model returned an empty explanation")
        return text
