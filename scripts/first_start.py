"""First start, measured: clone the checkout's committed HEAD into a temporary folder, run `make run` there with
pip's cache as it is, and time it until the chat answers a message; write the result as JSON.

    .venv/bin/python scripts/first_start.py --out results/first-start.json

The clone has no data folder, no virtual environment and no GGUF: `make run` creates the venv, pip installs what
the chat needs (from pip's cache where it holds the wheels), app.py fetches MovieLens-100K and builds the item
index, then serves; the local LLM is fetched in the background after that (not timed). The chat "answers" when the
app's `/recommend` endpoint (gradio_client, polled once a second) returns picks. The app is then stopped (its whole
process group) and the clone removed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MESSAGE = "something scary from the 80s"


def free_port(avoid: int = 7860) -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port != avoid:
            return port


def http_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def answers(url: str) -> bool:
    """True once ``/recommend`` returns picks (a fresh client each time: the app may still be starting)."""
    from gradio_client import Client

    try:
        out = Client(url, verbose=False).predict(MESSAGE, api_name="/recommend")
    except Exception:  # not up yet, in any way
        return False
    return bool(isinstance(out, dict) and out.get("items"))


def pip_cache_state(log: str) -> dict:
    """How much pip took from its cache, read from `make run`'s output."""
    built = sorted(set(re.findall(r"Building wheel for (\S+)", log)))
    downloaded = len(re.findall(r"^\s*Downloading \S+", log, re.M))
    cached = len(re.findall(r"^\s*Using cached \S+", log, re.M))
    state = "cold" if any(b.startswith("llama") for b in built) else ("warm" if downloaded == 0 else "partly warm")
    return {"pip_cache": state, "wheels_built": built, "files_downloaded": downloaded, "files_from_cache": cached}


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the whole process group `make run` leads (make, python app.py, any fetch), then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):  # children that outlived make
        os.killpg(proc.pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="write the result as JSON, e.g. results/first-start.json")
    ap.add_argument("--timeout", type=float, default=1200.0, help="seconds to wait for the chat (default 1200)")
    ap.add_argument("--port", type=int, help="the app's port (default: a free one, never 7860)")
    ap.add_argument("--keep", action="store_true", help="keep the clone (its folder is printed)")
    args = ap.parse_args(argv)

    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    commit = commit.stdout.strip()
    work = Path(tempfile.mkdtemp(prefix="chatrec-first-start-"))
    clone = work / "chat-rec"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    port = args.port or free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATREC_", "VIRTUAL_ENV", "PYTHON"))}
    env.update({"GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)})
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if "/.venv/" not in p)
    log_path = work / "make-run.log"
    print(f"clone of {commit[:12]} in {clone}; `make run` on {url} (log {log_path})", flush=True)
    result: dict = {}
    load_before = round(os.getloadavg()[0], 2)
    with open(log_path, "wb") as log:
        start = time.monotonic()
        proc = subprocess.Popen(
            ["make", "run"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            http_s = None
            while time.monotonic() - start < args.timeout:
                if proc.poll() is not None:
                    raise SystemExit(f"`make run` exited with {proc.returncode}; see {log_path}")
                if http_s is None and http_up(url):
                    http_s = time.monotonic() - start
                    print(f"  page served after {http_s:.1f} s", flush=True)
                if http_s is not None and answers(url):
                    seconds = round(time.monotonic() - start, 1)
                    result = {"seconds_to_answer": seconds, "seconds_to_page": round(http_s, 1)}
                    break
                time.sleep(1.0)
            else:
                raise SystemExit(f"the chat did not answer within {args.timeout:.0f} s; see {log_path}")
        finally:
            stop(proc)
    text = log_path.read_text(errors="replace")
    result = {
        "what": "seconds from `make run` in a fresh clone (no venv, no data, no GGUF) until /recommend answers",
        **result,
        **pip_cache_state(text),
        "team_data_beside_clone": (clone.parent / "shared" / "data").exists(),
        "llm": "the local LLM is fetched in the background after the chat serves (not timed)",
        "commit": commit,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1m": {"before": load_before, "after": round(os.getloadavg()[0], 2)},  # other jobs beside it
        "date": time.strftime("%Y-%m-%d"),
        "command": "python scripts/first_start.py" + (f" --out {args.out}" if args.out else ""),
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if args.out:
        sys.path.insert(0, str(REPO))
        from chat_rec.files import write_result

        write_result(Path(args.out), result)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
