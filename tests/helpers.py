"""Small data writers and environment checks shared by tests."""

import json
import os
import tempfile
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from chat_rec.models.llm import GGUF_NAME

REPO = Path(__file__).resolve().parents[1]
#: the embedded local LLM (``chat-rec llm fetch``), or another GGUF named by CHATREC_LLM_GGUF
GGUF = Path(os.environ.get("CHATREC_LLM_GGUF") or REPO / "data" / "models" / GGUF_NAME)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_local_llm() -> Path:
    """The GGUF path when llama-cpp-python and the model are there; skips with the command to run, or fails
    under CI, where `make test` must have fetched them."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("llama-cpp-python is not installed: run `make setup`")
    if not GGUF.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{GGUF} missing in CI: `make test` must run `chat-rec llm fetch` first")
        pytest.skip(f"{GGUF} missing: run `chat-rec llm fetch`")
    return GGUF


@contextmanager
def chromium_page(width: int = 1300, height: int = 1400):
    """A page in Debian's Chromium driven by Playwright (a fresh profile, the flags these machines need); skips
    without Chromium, fails under CI, where .ci/run installs it."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} missing in CI: .ci/run must apt-get install chromium")
        pytest.skip(f"{CHROMIUM} missing: apt-get install -y chromium fonts-noto-color-emoji")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": width, "height": height},
        )
        try:
            yield ctx.new_page()
        finally:
            ctx.close()


FLAGS = "|".join(["0"] * 19)


def write_ml(dir: Path, data_lines=None) -> Path:
    dir.mkdir(parents=True, exist_ok=True)
    horror = "|".join("1" if i == 11 else "0" for i in range(19))
    (dir / "u.item").write_text(
        f"1|Toy Story (1995)|01-Jan-1995||http://x|{FLAGS}\n"
        f"2|Shining, The (1980)|01-Jan-1980||http://x|{horror}\n"
        f"267|unknown||||{'|'.join(['1'] + ['0'] * 18)}\n",
        encoding="latin-1",
    )
    (dir / "u.data").write_text(
        "".join(data_lines or ["10\t1\t5\t881250949\n", "10\t2\t3\t881250950\n", "11\t2\t4\t881250951\n"])
    )
    (dir / "u.user").write_text("10|24|M|technician|85711\n11|53|F|other|94043\n")
    return dir


def _pg_bin() -> Path | None:
    """Debian's PostgreSQL server programs (``initdb``, ``pg_ctl``): on PATH, or under /usr/lib/postgresql/N/bin."""
    import shutil

    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else None


class PostgresServer:
    """A real PostgreSQL server in a temporary directory on 127.0.0.1 (``initdb`` + ``pg_ctl``), run as the
    ``postgres`` user when the tests run as root (PostgreSQL refuses root). ``dsn(db)`` names a database on it;
    ``crash()`` stops it the way a power cut does (``pg_ctl stop -m immediate``: no checkpoint, recovery at the
    next start); ``start()`` brings it back on the same port."""

    def __init__(self):
        import socket
        import subprocess

        self.bin = _pg_bin()
        if self.bin is None:
            if os.environ.get("CI"):
                pytest.fail("PostgreSQL is missing in CI: .ci/run must apt-get install postgresql")
            pytest.skip("PostgreSQL is not installed: apt-get install -y postgresql")
        # directly under /tmp (not pytest's owner-only folders), so the postgres user can reach it
        root = Path(tempfile.mkdtemp(prefix="chatrec-pg-"))
        self.root, self.data = root, root / "pgdata"
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            subprocess.run(["chown", "-R", "postgres:postgres", str(root)], check=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._pg("initdb", "-D", str(self.data), "-A", "trust", "-U", "chatrec", "--no-sync", "-E", "UTF8")
        self.start()

    def _pg(self, program: str, *args: str) -> None:
        import subprocess

        proc = subprocess.run(self.as_user + [str(self.bin / program), *args], capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"{program} failed: {proc.stderr.strip() or proc.stdout.strip()}")

    def start(self) -> None:
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=on -c synchronous_commit=on"
        self._pg("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.root / "server.log"), "-w", "start")

    def crash(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        import contextlib
        import shutil

        with contextlib.suppress(RuntimeError):  # already stopped
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def dsn(self, db: str = "postgres") -> str:
        return f"postgresql://chatrec@127.0.0.1:{self.port}/{db}"

    def new_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}"')
            db.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)


# ------------------------------------------------------------------------------ an OpenAI-compatible server
#: a reading an OpenAI-compatible test server streams back
GOOD_READING = '{"keywords": ["family", "rain"], "avoid_keywords": [], "mood": "light", "similar_to_titles": []}'


class FakeOpenAI(BaseHTTPRequestHandler):
    """A real HTTP server speaking the chat-completions API; ``mode`` says how it misbehaves."""

    mode = "ok"
    calls = 0

    def log_message(self, *args):
        pass

    def do_POST(self):
        type(self).calls += 1
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.mode == "hang":
            time.sleep(4)
            return
        if self.mode in ("500", "429"):
            body = json.dumps({"error": {"message": "overloaded", "type": "server_error"}}).encode()
            self.send_response(int(self.mode))
            if self.mode == "429":
                self.send_header("Retry-After", "1")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in (GOOD_READING[:20], GOOD_READING[20:]):
            chunk = {
                "id": "x",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "test",
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": piece}, "finish_reason": None}],
            }
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")


@contextmanager
def fake_openai_server(mode: str = "ok"):
    """A ``FakeOpenAI`` server on 127.0.0.1 in a thread; yields its ``/v1`` base URL."""
    import threading
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeOpenAI.mode, FakeOpenAI.calls = mode, 0
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()


def wait_until(condition, what: str, timeout: float = 60.0, every: float = 0.02) -> None:
    """Synchronisation by a condition, not by a guessed sleep: polls ``condition()`` until it holds; after a
    generous ``timeout`` (a slow shared machine is not a failure) fails with ``what`` it was waiting for."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:g} s for {what}")
        time.sleep(every)
