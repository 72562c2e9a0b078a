"""Small data writers and environment checks shared by tests."""

import os
import tempfile
from contextlib import contextmanager
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
