"""Many visitors at once against the running app, over HTTP (``gradio_client``, the ``/send`` and ``/feedback``
endpoints): ``chat-rec bench load`` and the concurrency and crash tests.

Every simulated visitor has its own conversation: a title of its own ("something like <title>"), a decade, a
👍 and a 👎 on its cards, a "why" question. Cross-talk is measured, not assumed: each visitor's script is run
again alone, one visitor at a time, against the same server, and a turn whose picks (the cards, with their
explanations, which name what the visitor liked) or whose feedback result (the cards after the 👍/👎) differ
from the lone run counts as cross-talk. The server's feedback store is then compared with the events the
server acknowledged (``/feedback`` answered ``stored: true``): it must hold exactly those.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from chat_rec.errors import ChatRecError

#: what the person types, per turn; ``{title}`` is the visitor's own title, ``{decade}`` its own decade
TURNS = (
    "something like {title}",
    "{genre} from the {decade}s",
    "why the first one?",
    "more like {title} but not too long",
    "something {mood} instead",
)
GENRES = ("a comedy", "a thriller", "a drama", "an action movie", "a romance", "a horror movie", "a western")
MOODS = ("light", "dark", "funny", "sad", "exciting")
#: 👍/👎 after these turns (0-based), on these card ranks
FEEDBACK_AFTER = {0: (("up", 2), ("down", 1)), 3: (("up", 1),)}


@dataclass
class Step:
    kind: str  # "say" | "feedback"
    text: str = ""
    value: str = ""
    rank: int = 0


@dataclass
class SessionRun:
    """What one visitor saw: per step, the picks (or the feedback result), its seconds and any error."""

    results: list = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # per turn (``/send``)
    errors: list[str] = field(default_factory=list)
    acked: list[tuple[str, object, str]] = field(default_factory=list)  # (user, item, value) stored


def scripts(titles: list[str], sessions: int, turns: int) -> list[list[Step]]:
    """``sessions`` distinct conversations of ``turns`` turns each (and their 👍/👎)."""
    out = []
    for i in range(sessions):
        steps = []
        for t in range(turns):
            template = TURNS[t % len(TURNS)]
            text = template.format(
                title=titles[i % len(titles)],
                genre=GENRES[i % len(GENRES)],
                decade=1950 + 10 * (i % 5),
                mood=MOODS[i % len(MOODS)],
            )
            steps.append(Step("say", text))
            for value, rank in FEEDBACK_AFTER.get(t, ()):
                steps.append(Step("feedback", value=value, rank=rank))
        out.append(steps)
    return out


def picks(history: list) -> list[str]:
    """What a turn showed, from the chatbot messages ``/send`` returned: every assistant message (the reply,
    each card with its explanation); a "why" answer counts by its first sentence (the item's record: the rest
    may be the language model's wording)."""
    out = []
    for message in history or []:
        if message.get("role") != "assistant":
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(str(c.get("text", "")) if isinstance(c, dict) else str(c) for c in content)
        text = str(content or "")
        text = re.sub(r"\n\n> ℹ️ .*", "", text, flags=re.S)  # notices (a busy model) are not the picks
        out.append(text)
    if len(out) == 1:  # an answer without cards: a "why" (its first sentence is the record)
        out = [out[0].split(". ")[0]]
    return out


def connect(url: str):
    """A visitor opening the page: its own ``gradio_client.Client`` (its own server-side session and state)."""
    from gradio_client import Client

    return Client(url, verbose=False)


def run_session(
    url: str,
    steps: list[Step],
    deadline: float,
    user: str = "",
    think: tuple[float, float] = (0, 0),
    seed: int = 0,
    client=None,
) -> SessionRun:
    """One visitor's conversation through its own client (``connect``; made here when not given).
    ``think``: seconds the person takes before each message (uniform in the range; a 👍/👎 takes a third of it)."""
    import random

    rng = random.Random(seed)
    run = SessionRun()
    try:
        client = client or connect(url)
    except Exception as exc:  # a failed request is counted, not raised
        run.errors.append(f"connect: {type(exc).__name__}: {exc}")
        return run
    try:
        for step in steps:
            if think[1] > 0:  # the first message too: visitors arrive over time, not all at once
                time.sleep(rng.uniform(*think) / (3 if step.kind == "feedback" else 1))
            left = deadline - time.monotonic()
            if left <= 0:
                run.errors.append("out of time")
                break
            start = time.perf_counter()
            try:
                if step.kind == "say":
                    job = client.submit(step.text, [], user, "laptop", "now", api_name="/send")
                    history, _ = job.result(timeout=left)
                    run.seconds.append(time.perf_counter() - start)
                    shown = picks(history)
                    run.results.append(("say", step.text, shown))
                    if any("Something went wrong" in p for p in shown):
                        run.errors.append(f"turn {step.text!r}: the friendly error line")
                else:
                    ack = client.submit(step.rank, step.value, api_name="/feedback").result(timeout=left)
                    run.results.append(("feedback", step.value, ack.get("cards")))
                    if not ack.get("ok"):
                        run.errors.append(f"feedback: {ack}")
                    elif ack.get("stored"):
                        run.acked.append((ack["user"], ack["item"], step.value))
            except Exception as exc:
                run.errors.append(f"{step.kind} {step.text or step.value}: {type(exc).__name__}: {exc}"[:300])
    finally:
        with contextlib.suppress(Exception):
            client.close()
    return run


def cross_talk(together: SessionRun, alone: SessionRun) -> int:
    """Steps whose picks or feedback result differ between the visitor's concurrent run and its lone run."""
    n = sum(1 for a, b in zip(together.results, alone.results) if a != b)
    return n + abs(len(together.results) - len(alone.results))


def p95(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(0.95 * (len(values) - 1)))] if values else 0.0


def run_load(
    url: str,
    titles: list[str],
    sessions: int,
    turns: int,
    timeout: float = 600.0,
    think: tuple[float, float] = (3.0, 8.0),
) -> tuple[dict, list]:
    """``sessions`` visitors at once (each taking ``think`` seconds per message, as people read the picks and
    type), then each alone and without pauses (the cross-talk baseline). Returns the row (see ``chat-rec bench
    load``) and every acknowledged event (user, item, value)."""
    plan = scripts(titles, sessions, turns)
    with ThreadPoolExecutor(max_workers=8) as pool:  # the visitors open the page (not timed)
        clients = list(pool.map(lambda _: connect(url), range(sessions)))
    deadline = time.monotonic() + timeout
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=sessions) as pool:
        together = list(
            pool.map(
                lambda i: run_session(url, plan[i], deadline, think=think, seed=i, client=clients[i]), range(sessions)
            )
        )
    wall = time.perf_counter() - start
    alone = [run_session(url, s, time.monotonic() + timeout) for s in plan]
    seconds = [s for r in together for s in r.seconds]
    errors = [e for r in together + alone for e in r.errors]
    row = {
        "sessions": sessions,
        "turns": len(seconds),
        "errors": len(errors),
        "cross_talk": sum(cross_talk(t, a) for t, a in zip(together, alone)),
        "turn_ms": {
            "median": round(statistics.median(seconds) * 1000, 1) if seconds else None,
            "p95": round(p95(seconds) * 1000, 1) if seconds else None,
        },
        "throughput_turns_s": round(len(seconds) / wall, 2) if wall else None,
        "wall_s": round(wall, 2),
        "think_s": list(think),
        "error_samples": errors[:5],
    }
    acked = [e for r in together + alone for e in r.acked]
    return row, acked


def stored_events(path: Path) -> Counter:
    """(user, item, value) of every event in a SQLite feedback store (items as the store writes them)."""
    import json

    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT user, item, value FROM feedback").fetchall()
    finally:
        db.close()
    return Counter((u, json.loads(i), v) for u, i, v in rows)


# ------------------------------------------------------------------------------------------ the app itself


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    """``python app.py`` (what ``make run`` serves) in a child process on 127.0.0.1, with ``env`` on top of
    this process's environment; its output goes to ``log``."""

    def __init__(self, env: dict[str, str], log: Path, app: Path | None = None, port: int | None = None):
        self.app = app or Path(__file__).resolve().parents[2] / "app.py"
        if not self.app.is_file():
            raise FileNotFoundError(f"{self.app} not found: run from a checkout, or pass --url of a running app")
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = {**os.environ, **env, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(self.port)}
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 600.0) -> App:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(self.app)],
                cwd=self.app.parent,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited with {self.proc.returncode}; see {self.log}")
            if "Running on" in self.log.read_text(errors="replace"):
                return self
            time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"the app did not serve within {timeout:.0f} s; see {self.log}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> App:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def visitor_titles(catalog, interactions, n: int = 60) -> list[str]:
    """``n`` distinct, well-known titles of the catalog (the most rated), one per visitor, as a person types them:
    ``"Star Wars"``, ``"The Godfather"`` (no year, the article in front; titles with other signs are left out)."""
    from chat_rec.catalog import display_title

    if interactions is not None:
        rows = [r for r, _ in Counter(int(r) for r in interactions.item_rows).most_common()]
    else:
        rows = list(range(len(catalog)))
    out: list[str] = []
    for r in rows:
        title = re.sub(r"\s*\(\d{4}\)$", "", display_title(catalog.items[r].title).strip())
        if title not in out and title.lower() != "unknown" and re.fullmatch(r"[\w' :.&-]+", title):
            out.append(title)
        if len(out) == n:
            break
    if not out:
        raise ChatRecError(f"no title of {catalog.name} can be typed as a visitor's request (letters, digits, ' :.&-)")
    return out
