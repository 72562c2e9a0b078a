"""Dataset loaders: MovieLens-100K (official format), any catalog as CSV/JSONL, and fetching."""

from __future__ import annotations

from pathlib import Path

from chat_rec.catalog import Catalog, Interactions
from chat_rec.config import DataConfig
from chat_rec.datasets.fetch import FETCH_HINT, fetch_movielens_100k, find_details, find_movielens_100k
from chat_rec.datasets.generic import load_interactions, load_items
from chat_rec.datasets.movielens import load_movielens_100k
from chat_rec.errors import DataNotFoundError

__all__ = [
    "fetch_movielens_100k",
    "find_details",
    "find_movielens_100k",
    "load_dataset",
    "load_interactions",
    "load_items",
    "load_movielens_100k",
]


def load_dataset(
    cfg: DataConfig,
    *,
    items: Path | None = None,
    interactions: Path | None = None,
    details: Path | str | None = "auto",
) -> tuple[Catalog, Interactions | None]:
    """The catalog to serve: a generic items file when ``items`` is given, the packaged ReDial catalog when
    ``cfg.catalog`` says ``redial`` (no interactions: its signals come from dialogues), else MovieLens-100K.

    MovieLens is read where ``find_movielens_100k`` finds it (no copies, no downloads here:
    ``chat-rec data fetch movielens-100k`` does those). ``details="auto"`` attaches
    the IMDb descriptions when a details file is found, else the descriptions the package ships
    (``datasets.descriptions``, ``datasets.facts``); ``"packaged"`` those even where details are found (what a fresh
    install serves); ``None`` attaches none. ``catalog.text_source`` says which.

    Raises:
        DataNotFoundError: nothing local; the message says to run ``chat-rec data fetch movielens-100k``.
    """
    if items is None and cfg.catalog == "redial":
        from chat_rec.datasets.redial_pack import load_pack

        return load_pack(), None
    if items is not None:
        catalog = load_items(Path(items))
        described = sum(bool(item.description) for item in catalog.items)
        catalog.text_source = (
            f"the items file's descriptions: {described:,} of {len(catalog):,} items"
            if described
            else "titles and genres only: add a description column to the items file for better search"
        )
        return catalog, load_interactions(Path(interactions), catalog) if interactions else None
    path = find_movielens_100k(cfg)
    if path is None:
        raise DataNotFoundError(
            f"MovieLens-100K is not in {cfg.root / 'ml-100k'}: run `chat-rec data fetch "
            f"movielens-100k` (or {FETCH_HINT})"
        )
    # "packaged": what a fresh install serves (the package's descriptions and facts), even where details are found
    details_path = (
        find_details(cfg) if details == "auto" else (Path(details) if details and details != "packaged" else None)
    )
    return load_movielens_100k(path, details=details_path, packaged=details in ("auto", "packaged"))
