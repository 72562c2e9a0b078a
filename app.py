"""Entry point for `make run` and Hugging Face Spaces: set up what is missing, then serve the chat.

Host and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (defaults 127.0.0.1:7860).
"""

from __future__ import annotations

import logging
import os
import sys
import threading

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from chat_rec.assemble import build_agent, make_llm_helper, warm_llm
from chat_rec.config import Config, ConfigError
from chat_rec.datasets import fetch_movielens_100k
from chat_rec.errors import ChatRecError
from chat_rec.models.llm import fetch_gguf
from chat_rec.ui.app import build_app


def prepare(cfg: Config) -> tuple[str, threading.Thread | None]:
    """First start: the data, then (in the background, while the index builds) the local LLM when it is the
    chosen one. Returns the LLM status line and the fetching thread."""
    print("Preparing MovieLens-100K ...", flush=True)
    print(f"  {fetch_movielens_100k(cfg.data).source}", flush=True)
    status = {
        "local": "local (Qwen2.5-Coder 0.5B, llama.cpp)",
        "openai": f"OpenAI-compatible ({cfg.llm.base_url})",
        "none": "none (built-in rules)",
    }.get(cfg.llm.kind, cfg.llm.kind)
    if cfg.llm.kind != "local" or cfg.llm.gguf:
        return status, None
    try:
        import llama_cpp  # noqa: F401  (not installed on Spaces: the chat then uses its rules)
    except ImportError:
        return "none (llama-cpp-python is not installed; built-in rules)", None

    def fetch():
        try:
            fetch_gguf(cfg.llm.models_dir)
        except ChatRecError as exc:
            print(f"  local LLM unavailable ({exc}); the chat uses its built-in rules", flush=True)

    thread = threading.Thread(target=fetch, name="gguf-fetch", daemon=True)
    thread.start()
    return status, thread


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    try:
        cfg = Config.from_env()
        status, fetching = prepare(cfg)
        print("Loading the catalog, the item index and the models ...", flush=True)
        agent = build_agent(cfg, llm_kind="none", show_progress=True)
        if cfg.llm.kind != "none":
            if fetching is not None:
                fetching.join()
            agent.llm, agent.llm_notice = make_llm_helper(cfg.llm, agent.catalog, agent.titles)
    except (ChatRecError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    agent.rec.encoder.encode(["warm up"])  # load the encoder now, not on the first message
    if agent.llm is not None:
        threading.Thread(target=warm_llm, args=(agent,), name="llm-warm-up", daemon=True).start()
    if agent.llm is None and cfg.llm.kind != "none":
        status += " — unavailable, using built-in rules"
    demo = build_app(agent, status)
    host = os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    port = int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
    print(f"chat-rec is ready: http://{host}:{port}", flush=True)
    demo.launch(server_name=host, server_port=port, show_error=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
