"""The LLM's part in a turn: structured intent extraction (JSON-schema constrained) and the optional
rewrite of explanation facts into prose. Every call has a timeout; any failure returns None and a
reason, and the caller falls back to the rules or the template."""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any, Literal, get_args

import yaml
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field, field_validator

from chat_rec.catalog import Catalog
from chat_rec.recommender.intent.lexicon import META_WORDS
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
#: the fields a background refinement asks for (``CHATREC_READER=refine``): the soft aspects the rules cannot
#: read (topic words, mood, titles said loosely); genres, eras and negated genres stay the rules' (on real
#: seekers' words the LLM read them with precision 0.15 / 0.28 / 0.42 against the rules' 0.93 / 0.90 / 0.82).
#: Four fields instead of eleven: about 25 output tokens instead of 67.
SOFT_FIELDS = ("keywords", "avoid_keywords", "mood", "similar_to_titles")


def describe_error(exc: BaseException) -> str:
    """A short reason for a backend failure, e.g. "HTTP 429" or "ConnectionError", for notices and the panel."""
    status = getattr(exc, "status_code", None) or getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(status, int):
        return f"HTTP {status}"
    name = type(exc).__name__
    if "Timeout" in name:
        return "the server timed out"
    if "Connection" in name:
        return "cannot connect to the server"
    return name


def is_meta(word: str) -> bool:
    """A word about the software rather than the wanted item ("prompt", "instructions"): not a topic word."""
    return any(w in META_WORDS for w in re.findall(r"\w+", word.lower()))


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
    def json_schema(cls, genres: list[str], fields: tuple[str, ...] | None = None) -> dict:
        """The JSON schema of the answer, from the model: every field (of ``fields``, default all) required, lists
        capped, genres (when the catalog has them) limited to the catalog's."""
        schema = cls.model_json_schema()
        props = {}
        for name, prop in schema["properties"].items():
            if fields is not None and name not in fields:
                continue
            prop = {k: v for k, v in prop.items() if k not in ("title", "default", "description")}
            if name in LIMITS:
                item = {"type": "string", "maxLength": MAX_WORD}
                if name in ("genres", "avoid_genres") and genres:
                    item = {"type": "string", "enum": list(genres)}
                prop = {"type": "array", "items": item, "maxItems": LIMITS[name]}
            props[name] = prop
        return {"type": "object", "additionalProperties": False, "properties": props, "required": list(props)}

    @classmethod
    def field_lines(cls, genres: list[str], fields: tuple[str, ...] | None = None) -> str:
        """The prompt's description of the answer, one line per field (of ``fields``, default all)."""
        return "\n".join(
            f"{name}: {field.description.replace('{genres}', ', '.join(genres))}"
            for name, field in cls.model_fields.items()
            if fields is None or name in fields
        )


class LLMFailure(Exception):
    """The LLM timed out, raised, or answered something unusable; ``str()`` says which, for the notice."""


class LLMBusy(LLMFailure):
    """The one model is serving other visitors and this request would wait longer than allowed."""


class LLMUnavailable(LLMFailure):
    """The backend failed recently and its back-off has not run out: the call is not made."""


class LLMHealth:
    """Whether the backend answers, with exponential back-off after failures. A call that times out or raises
    (a crashed local model, an OpenAI-compatible server answering 500 or 429, a hang) marks the backend
    unhealthy; calls are then refused at once (``LLMUnavailable``, the turn keeps its rules) until the back-off
    runs out (``base`` seconds, doubling per failure up to ``cap``); the next call is the retry, and the first
    answer makes it healthy again. The side panel shows ``status()``.

    Example:
        >>> now = [0.0]
        >>> health = LLMHealth(base=5, cap=60, clock=lambda: now[0])
        >>> health.failed("timeout"); health.ready(), health.healthy
        (False, False)
        >>> now[0] = 5.0; health.ready()
        True
        >>> health.ok(); health.healthy
        True
    """

    def __init__(self, base: float = 5.0, cap: float = 120.0, clock: Callable[[], float] = time.monotonic):
        self.base, self.cap, self.clock = base, cap, clock
        self.failures, self.retry_at, self.last_error = 0, 0.0, ""
        self._lock = threading.Lock()

    @property
    def healthy(self) -> bool:
        return self.failures == 0

    def ready(self) -> bool:
        return self.failures == 0 or self.clock() >= self.retry_at

    def wait_left(self) -> float:
        return max(0.0, self.retry_at - self.clock()) if self.failures else 0.0

    def ok(self) -> None:
        with self._lock:
            if self.failures:
                log.warning("the language model answers again (after %d failed calls)", self.failures)
            self.failures, self.retry_at, self.last_error = 0, 0.0, ""

    def failed(self, reason: str) -> None:
        with self._lock:
            self.failures += 1
            delay = min(self.cap, self.base * 2 ** (self.failures - 1))
            self.retry_at, self.last_error = self.clock() + delay, reason
            log.warning("language model unhealthy (%s); next try in %.0f s", reason, delay)

    def status(self) -> str:
        if self.healthy:
            return "answering"
        left = self.wait_left()
        when = f"retrying in {left:.0f} s" if left > 0 else "retrying with the next request"
        return f"unhealthy: {self.last_error}; {when}"


class LLMGate:
    """The bounded queue in front of one model: one call at a time. A request that would wait longer than
    ``max_wait`` seconds (the calls ahead of it times their recent average duration), or that has waited that
    long, is refused with ``LLMBusy`` and the turn keeps its rules-only reading.

    Example:
        >>> gate = LLMGate(max_wait=0.01)
        >>> gate.acquire() >= 0.0
        True
        >>> try:
        ...     gate.acquire()
        ... except LLMBusy as exc:
        ...     print("busy")
        busy
        >>> gate.release(1.0)
    """

    def __init__(self, max_wait: float = 8.0):
        self.max_wait = max_wait
        self._lock = threading.Lock()
        self._state = threading.Lock()
        self.waiting = 0
        self.busy = False
        self.average = 2.0  # seconds per call, a moving average (starts at a typical local call)
        self.refused = 0

    def acquire(self) -> float:
        """Blocks until this caller holds the model; returns the seconds waited. Raises LLMBusy."""
        with self._state:
            ahead = self.waiting + int(self.busy)
            if ahead and ahead * self.average > self.max_wait:
                self.refused += 1
                raise LLMBusy(
                    f"the language model is busy with other visitors (about {ahead * self.average:.0f} s of queue)"
                )
            self.waiting += 1
        start = time.perf_counter()
        try:
            got = self._lock.acquire(timeout=self.max_wait)
        finally:
            with self._state:
                self.waiting -= 1
        if not got:
            with self._state:
                self.refused += 1
            raise LLMBusy(f"the language model is busy with other visitors (waited {self.max_wait:g} s)")
        with self._state:
            self.busy = True
        return time.perf_counter() - start

    def release(self, seconds: float) -> None:
        with self._state:
            self.busy = False
            self.average = 0.7 * self.average + 0.3 * seconds
        self._lock.release()


class LLMHelper:
    """Wraps a LangChain chat model with prompts, a schema, a timeout, a bounded queue and validation.

    Every call streams from the backend (llama.cpp's stream, or the OpenAI-compatible stream) in a worker
    thread that holds the model. The caller reads tokens as they come; on its timeout it stops waiting at
    once and the worker stops the generation at the next token and frees the model (a llama.cpp prompt
    evaluation in progress is finished first: under a second once the prompt prefix is cached). ``timings``
    of the last call (per thread) split the time into queue, prompt (to the first token) and generation."""

    def __init__(
        self,
        model: BaseChatModel,
        catalog: Catalog,
        titles: TitleMatcher,
        timeout: float = 20.0,
        gate: LLMGate | None = None,
        health: LLMHealth | None = None,
        fallback: LLMHelper | None = None,
    ):
        self.model, self.catalog, self.titles, self.timeout = model, catalog, titles, timeout
        #: another backend (e.g. the local model of this replica behind a shared OpenAI-compatible server) that
        #: answers a call this one cannot: while this one is unhealthy, or when it fails before its first token
        self.fallback = fallback
        self.gate = gate or LLMGate()
        self.health = health or LLMHealth()
        self.genres = [g for g in catalog.genre_names if g.lower() != "unknown"]
        self.schema = LLMReading.json_schema(self.genres)
        self.soft_schema = LLMReading.json_schema(self.genres, SOFT_FIELDS)
        prompt = load_prompt("intent")
        self.system = prompt["system"].replace("{fields}", LLMReading.field_lines(self.genres))
        self.soft_system = prompt["system"].replace("{fields}", LLMReading.field_lines(self.genres, SOFT_FIELDS))
        self.examples = prompt.get("examples", [])
        self.explain_system = load_prompt("explain")["system"]
        self._local = threading.local()

    @property
    def name(self) -> str:
        return getattr(self.model, "_llm_type", type(self.model).__name__)

    @property
    def timings(self) -> dict[str, float]:
        """Milliseconds of this thread's last call: ``queue``, ``prompt`` (to the first token), ``generate``."""
        if getattr(self._local, "via_fallback", False):
            return self.fallback.timings
        return dict(getattr(self._local, "timings", {}))

    def stream(self, messages, slot: str | None = None, schema: dict | None = None, **kwargs) -> Iterator[str]:
        """The model's answer as it is generated. ``slot``: the prompt-cache slot (a local model); ``schema``: the
        JSON schema the answer follows (a local model decodes under it; an OpenAI-compatible one gets JSON mode).
        Raises LLMFailure (LLMBusy when the queue is too long); a caller that stops reading early abandons the
        call (the worker stops at the next token). While the backend is unhealthy and its back-off runs, raises
        ``LLMUnavailable`` at once (``health``). With a ``fallback``, a call this backend cannot answer (unhealthy,
        or failing before its first token) goes to the fallback instead."""
        self._local.via_fallback = False
        if self.fallback is None:
            yield from self._stream(messages, **self._slot(slot), **self._kwargs(schema), **kwargs)
            return
        started = False
        try:
            if self.health.ready():
                for token in self._stream(messages, **self._slot(slot), **self._kwargs(schema), **kwargs):
                    started = True
                    yield token
                return
        except LLMFailure as exc:
            if started:
                raise
            log.warning("%s; the fallback model answers", exc)
        self._local.via_fallback = True
        yield from self.fallback.stream(messages, slot=slot, schema=schema, **kwargs)

    @property
    def answering(self) -> LLMHelper:
        """The backend that answers now: this one, or its fallback while this one is unhealthy."""
        return self if self.fallback is None or self.health.ready() else self.fallback

    def _stream(self, messages, **kwargs) -> Iterator[str]:
        timings = {"queue": 0.0, "prompt": 0.0, "generate": 0.0}
        self._local.timings = timings
        if not self.health.ready():
            raise LLMUnavailable(f"the language model is unavailable ({self.health.last_error})")
        deadline = time.perf_counter() + self.timeout
        timings["queue"] = self.gate.acquire() * 1000
        events: queue.Queue = queue.Queue()
        cancel = threading.Event()

        def work():
            start = time.perf_counter()
            first, outcome = None, ("done", None)
            try:
                for chunk in self.model.stream(messages, **kwargs):
                    if first is None:
                        first = time.perf_counter()
                    if cancel.is_set():
                        break
                    text = str(chunk.content)
                    if text:
                        events.put(("token", text))
            except Exception as exc:  # the model's failure is reported to the person, never raised into the chat
                outcome = ("error", exc)
            finally:
                end = time.perf_counter()
                first = first or end
                timings["prompt"], timings["generate"] = (first - start) * 1000, (end - first) * 1000
                self.gate.release(end - start)
                events.put(outcome)  # last: the caller reads the timings once it has the outcome

        threading.Thread(target=work, name="llm-call", daemon=True).start()
        finished = False
        try:
            while True:
                left = deadline - time.perf_counter()
                try:
                    kind, value = events.get(timeout=max(left, 0.001))
                except queue.Empty:
                    reason = f"no answer within {self.timeout:g} s"
                    self.health.failed(reason)
                    raise LLMFailure(f"the language model did not answer within {self.timeout:g} s") from None
                if kind == "token":
                    yield value
                elif kind == "done":
                    finished = True
                    self.health.ok()
                    return
                else:
                    log.warning("LLM call failed: %r", value)
                    self.health.failed(describe_error(value))
                    raise LLMFailure(f"the language model failed ({describe_error(value)})")
        finally:
            if not finished:
                cancel.set()

    def _call(self, messages, on_token: Callable[[str], None] | None = None, **kwargs) -> str:
        parts = []
        for token in self.stream(messages, **kwargs):
            parts.append(token)
            if on_token is not None:
                on_token(token)
        return "".join(parts)

    def _slot(self, name: str | None) -> dict:
        """A model with prompt-cache slots (the local one) keeps each kind of prompt in its own context."""
        return {"slot": name} if name and getattr(self.model, "accepts_slot", False) else {}

    def _kwargs(self, schema: dict | None) -> dict:
        """How the model is asked for JSON: a model that decodes under a JSON schema (the local llama.cpp model
        and the test double declare ``accepts_json_schema``) gets the schema; an OpenAI-compatible one, JSON mode."""
        if not schema:
            return {}
        if getattr(self.model, "accepts_json_schema", False):
            return {"json_schema": schema}
        return {"response_format": {"type": "json_object"}}

    def extract(self, message: str, history: list[str] | None = None, soft: bool = False) -> Intent:
        """The LLM's reading of ``message`` as an Intent. ``soft``: only ``SOFT_FIELDS`` are asked for, and
        titles count only when the message says them. Raises LLMFailure."""
        fields = SOFT_FIELDS if soft else None
        messages: list = [SystemMessage(self.soft_system if soft else self.system)]
        for ex in self.examples:
            answer = ex["assistant"]
            if fields:
                answer = json.dumps({k: v for k, v in json.loads(answer).items() if k in fields})
            messages += [HumanMessage(ex["user"]), AIMessage(answer)]
        context = ""
        if history:
            context = "Earlier in this chat the person said: " + " | ".join(h[:200] for h in history[-2:]) + "\n"
        messages.append(HumanMessage(context + "Message: " + message))
        raw = self._call(messages, slot="intent", schema=self.soft_schema if soft else self.schema)
        return self.to_intent(raw, said=message if soft else None)

    def to_intent(self, raw: str, said: str | None = None) -> Intent:
        """Validate and map the LLM's JSON (``LLMReading``): genres must be the catalog's, titles must resolve
        (and, with ``said``, be written in it: a small model otherwise offers the prompt's example titles)."""
        try:
            start, end = raw.index("{"), raw.rindex("}") + 1
            data: Any = json.loads(raw[start:end])
        except ValueError:
            raise LLMFailure("the language model returned text that is not JSON") from None
        if not isinstance(data, dict):
            raise LLMFailure("the language model returned JSON that is not an object")
        if data and not set(data) & set(LLMReading.model_fields):
            raise LLMFailure("the language model returned JSON that does not fit the schema")
        try:
            reading = LLMReading.model_validate(data)
        except ValueError:  # pydantic's ValidationError: the answer does not fit the schema
            raise LLMFailure("the language model returned JSON that does not fit the schema") from None
        known = {g.lower(): g for g in self.genres}

        def genres(values: list[str]) -> list[str]:
            return list(dict.fromkeys(known[g.lower()] for g in values if g.lower() in known))

        def titles(values: list[str]) -> list:
            if said is not None:
                words = set(re.findall(r"\w+", said.lower()))
                values = [t for t in values if set(re.findall(r"\w+", t.lower())) <= words]
            return list(dict.fromkeys(i for i in (self.titles.lookup(t) for t in values) if i is not None))

        return Intent(
            kind=reading.kind,
            wanted_genres=genres(reading.genres),
            unwanted_genres=genres(reading.avoid_genres),
            keywords=[k.lower() for k in reading.keywords if not is_meta(k)],
            unwanted_keywords=[k.lower() for k in reading.avoid_keywords if not is_meta(k)],
            liked_items=titles(reading.liked_titles),
            disliked_items=titles(reading.disliked_titles),
            reference_items=titles(reading.similar_to_titles),
            year_min=reading.year_min,
            year_max=reading.year_max,
            mood=reading.mood,
        )

    def rewrite(self, facts_text: str) -> str:
        """One or two sentences from the facts (checked for grounding by the caller). Raises LLMFailure."""
        text = "".join(self.rewrite_stream(facts_text)).strip()
        if not text:
            raise LLMFailure("the language model returned an empty explanation")
        return text

    def rewrite_stream(self, facts_text: str) -> Iterator[str]:
        """``rewrite`` token by token, as the model writes it. Raises LLMFailure."""
        messages = [SystemMessage(self.explain_system), HumanMessage("Facts: " + facts_text)]
        yield from self.stream(messages, slot="text", max_tokens=REWRITE_TOKENS)
