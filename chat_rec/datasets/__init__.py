"""Dataset loaders: MovieLens-100K (official format), any catalog as CSV/JSONL, and fetching."""

from __future__ import annotations

from pathlib import Path

from ..catalog import Catalog, Interactions
from ..config import DataConfig
from ..errors import DataNotFoundError
from .fetch import FETCH_HINT, fetch_movielens_100k, find_details, find_movielens_100k
from .generic import load_interactions, load_items
from .movielens import load_movielens_100k

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
    """The catalog to serve: a generic items file when ``items`` is given, else MovieLens-100K.

    MovieLens is read where ``find_movielens_100k`` finds it (no copies, no downloads here:
    ``chat-rec data fetch movielens-100k`` does those). ``details="auto"`` attaches
    the IMDb descriptions when a details file is found; ``None`` never does.

    Raises:
        DataNotFoundError: nothing local; the message says to run ``chat-rec data fetch movielens-100k``.
    """
    if items is not None:
        catalog = load_items(Path(items))
        return catalog, load_interactions(Path(interactions), catalog) if interactions else None
    path = find_movielens_100k(cfg)
    if path is None:
        raise DataNotFoundError(
            f"MovieLens-100K is not in {cfg.root / 'ml-100k'}: run `chat-rec data fetch "
            f"movielens-100k` (or {FETCH_HINT})"
        )
    details_path = find_details(cfg) if details == "auto" else (Path(details) if details else None)
    return load_movielens_100k(path, details=details_path)
