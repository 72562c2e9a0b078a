"""Helpers every command group shares: the configuration from the arguments, the catalog, the index."""

from __future__ import annotations

import argparse
import logging
import statistics
from pathlib import Path

from chat_rec.config import Config
from chat_rec.errors import ChatRecError

WRITTEN_REQUESTS = "tests/data/intents.yaml"  # written alongside the parser: an in-sample check
REAL_DIALOGUE = "tests/data/dialogue_real.yaml"  # real seekers' turns with context, labelled with act and check
REAL_REQUESTS = "tests/data/real_requests.yaml"  # real seekers' words (ReDial, INSPIRED), labelled
log = logging.getLogger("chat_rec")


def make_config(args) -> Config:
    cfg = Config.from_env(
        data_dir=getattr(args, "data_dir", None),
        encoder=getattr(args, "encoder", None),
        index=getattr(args, "index_kind", None),
    )
    if getattr(args, "offline", False):
        from dataclasses import replace

        cfg = replace(cfg, data=replace(cfg.data, allow_download=False))
    return cfg


def load_catalog(args, cfg: Config, *, with_details: bool = True):
    from chat_rec.datasets import load_dataset
    from chat_rec.errors import DataNotFoundError

    if getattr(args, "data_dir", None) and not Path(args.data_dir).is_dir():
        raise DataNotFoundError(
            f"data directory {args.data_dir} does not exist; create it and run "
            f"`chat-rec --data-dir {args.data_dir} data fetch movielens-100k`, or drop --data-dir"
        )

    details = "auto" if with_details and not getattr(args, "no_details", False) else None
    if details and getattr(args, "packaged_texts", False):
        details = "packaged"
    return load_dataset(
        cfg.data, items=getattr(args, "items", None), interactions=getattr(args, "interactions", None), details=details
    )


def build_index(args, cfg: Config, *, quiet: bool = False):
    from chat_rec.models.encoder import make_encoder
    from chat_rec.models.index import build_item_index

    catalog, _ = load_catalog(args, cfg)
    encoder = make_encoder(cfg.encoder)
    built = build_item_index(catalog, encoder, cfg.data, cfg.index, show_progress=not quiet)
    return catalog, built


def read_lines(prompt: str):
    """Lines typed at ``prompt`` until an empty line, Ctrl-D or Ctrl-C."""
    while True:
        try:
            line = input(prompt)
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if not line.strip():
            return
        yield line


def percentiles(times: list[float]) -> str:

    times = sorted(times)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return f"median {statistics.median(times) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms"


def add_catalog_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--items", type=Path, help="a generic items CSV/JSONL instead of MovieLens-100K")
    p.add_argument("--interactions", type=Path, help="interactions CSV for --items (user,item,rating,timestamp)")
    p.add_argument("--no-details", action="store_true", help="do not attach IMDb descriptions even when found")
    p.add_argument(
        "--packaged-texts",
        action="store_true",
        help="serve the package's own MovieLens-100K descriptions and facts, as a fresh install does, even where "
        "the team's IMDb details are found",
    )
    p.add_argument("--encoder", help="minilm (default), hash, or a sentence-transformers folder")
    p.add_argument("--index-kind", choices=("auto", "flat", "ivf", "hnsw"), help="FAISS index type (default auto)")


def user_id_arg(value: str):
    return int(value) if value.isdigit() else value


def shared_path(cfg, *parts: str) -> Path | None:
    for base in cfg.data.shared_dirs:
        path = Path(base).joinpath(*parts)
        if path.exists():
            return path
    return None


def need_file(cfg, given, *parts: str) -> Path:
    path = Path(given) if given else shared_path(cfg, *parts)
    if path is None or not path.exists():
        raise ChatRecError(
            f"{given or '/'.join(parts)} not found: pass it with its flag (see `chat-rec train ranker -h`) "
            "or put the team data folder at ../shared/data"
        )
    return path


def masked_agent(cfg, catalog, interactions, mask, *, k: int, llm_kind: str = "none"):
    """The served agent (``build_agent``) with ``k`` picks a turn, its CF, histories and popularity fitted on the
    ratings ``mask`` keeps (a simulation's held-out events left out), its feedback kept in memory."""
    from dataclasses import replace

    from chat_rec.assemble import build_agent
    from chat_rec.recommender.feedback import MemoryStore

    return build_agent(
        replace(cfg, agent=replace(cfg.agent, k=k)),
        llm_kind=llm_kind,
        prepare=lambda inter: inter.subset(mask),
        store=MemoryStore(),
        dataset=(catalog, interactions),
    )
