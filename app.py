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
from chat_rec.models.llm import GGUF_NAME, fetch_gguf
from chat_rec.ui.app import build_app


def prepare(cfg: Config) -> tuple[str, bool]:
    """First start: the data; says whether the local LLM must still be fetched (it then is, in the background,
    once the chat serves). Returns the LLM status line and that flag."""
    if cfg.data.catalog == "redial":
        print("Serving the packaged ReDial catalog (CHATREC_CATALOG=redial) ...", flush=True)
    else:
        print("Preparing MovieLens-100K ...", flush=True)
        print(f"  {fetch_movielens_100k(cfg.data).source}", flush=True)
    status = {
        "local": "local (Qwen2.5-Coder 0.5B, llama.cpp)",
        "openai": f"OpenAI-compatible ({cfg.llm.base_url})",
        "none": "none (built-in rules)",
    }.get(cfg.llm.kind, cfg.llm.kind)
    if cfg.llm.kind != "local" or cfg.llm.gguf:
        return status, False
    try:
        import llama_cpp  # noqa: F401  (not installed on Spaces: the chat then uses its rules)
    except ImportError:
        return "none (llama-cpp-python is not installed; built-in rules)", False
    if (cfg.llm.models_dir / GGUF_NAME).is_file():
        return status, False
    return status, True


def attach_llm(agent, cfg: Config, fetch: bool) -> None:
    """The local LLM joins the running chat: fetched first when missing (first start), then its prompt prefixes
    are evaluated. Until then the chat answers with its rules."""
    if fetch:
        try:
            fetch_gguf(cfg.llm.models_dir)
        except ChatRecError as exc:
            print(f"  local LLM unavailable ({exc}); the chat uses its built-in rules", flush=True)
            return
    helper, notice = make_llm_helper(cfg.llm, agent.catalog, agent.titles)
    if helper is None:
        print(f"  {notice}", flush=True)
        return
    agent.llm = helper
    print("  the language model is ready", flush=True)
    warm_llm(agent)


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    try:
        cfg = Config.from_env()
        status, fetch = prepare(cfg)
        print("Loading the catalog, the item index and the models ...", flush=True)
        agent = build_agent(cfg, llm_kind="none" if fetch else None, show_progress=True)
    except (ChatRecError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"  ranker: {agent.ranker_source}", flush=True)
    agent.rec.encoder.encode(["warm up"])  # load the encoder now, not on the first message
    if fetch:  # first start: the chat serves now; the model joins when fetched (the index no longer competes)
        threading.Thread(target=attach_llm, args=(agent, cfg, True), name="llm-fetch", daemon=True).start()
    elif agent.llm is not None:
        threading.Thread(target=warm_llm, args=(agent,), name="llm-warm-up", daemon=True).start()
    elif cfg.llm.kind != "none":
        status += " — unavailable, using built-in rules"
    fetching = f"{status.split(' (')[0]}: being fetched (first start); built-in rules until it is ready"
    demo = build_app(agent, fetching, ready_status=status) if fetch else build_app(agent, status)
    host = os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    port = int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
    print(f"chat-rec is ready: http://{host}:{port}", flush=True)
    demo.launch(server_name=host, server_port=port, show_error=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
