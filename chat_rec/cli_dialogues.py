"""``chat-rec eval redial`` and ``chat-rec eval inspired``: real human dialogues (see evaluation/redial.py)."""

from __future__ import annotations

from pathlib import Path

from .errors import ChatRecError


def _shared(cfg, *parts: str) -> Path | None:
    for base in cfg.data.shared_dirs:
        path = Path(base).joinpath(*parts)
        if path.exists():
            return path
    return None


def cmd_eval_dialogues(args) -> dict:
    """Run the protocol and print its report; ``cmd_eval`` writes ``--out``."""
    from .cli import _config
    from .datasets.dialogues import load_redial_catalog, read_inspired, read_redial
    from .evaluation import redial
    from .index import build_item_index
    from .models.encoder import make_encoder

    cfg = _config(args)
    if not args.dialogues or not args.movies:
        raise ChatRecError("eval redial/inspired needs --dialogues FILE and --movies movies_with_mentions.csv")
    plots = Path(args.plots) if args.plots else None
    ml_movies = Path(args.ml_movies) if args.ml_movies else _shared(cfg, "ml-latest-small", "movies.csv")
    catalog = load_redial_catalog(Path(args.movies), plots, ml_movies)
    if args.protocol == "inspired":
        catalog, eval_file = inspired_catalog(catalog, Path(args.dialogues))
    else:
        eval_file = read_redial(Path(args.dialogues))
    evaluated = Path(args.dialogues).resolve()
    train_files = []
    for t in args.train or []:
        if Path(t).resolve() == evaluated:
            raise ChatRecError(f"{t} is the evaluated file: nothing may be fitted on it; pass other --train files")
        train_files.append(read_redial(Path(t)))
    ml_cf = None
    if args.ml_ratings:
        merged = Path(args.ml_map) if args.ml_map else _shared(cfg, "redial_movielens_map", "movies_merged.csv")
        if merged is None:
            raise ChatRecError("--ml-ratings needs --ml-map movies_merged.csv (ReDial id <-> MovieLens id)")
        ml_cf = redial.load_ml_cf(catalog, Path(args.ml_ratings), merged)
    encoder = make_encoder(cfg.encoder)
    built = build_item_index(catalog, encoder, cfg.data, cfg.index, show_progress=True)
    result = redial.run(eval_file, train_files, catalog, built.index.vectors, encoder, ml_cf=ml_cf)
    result["protocol"] = args.protocol
    print(redial.format_report(result))
    return result


def inspired_catalog(catalog, dialogues: Path):
    """INSPIRED mentions recent movies ReDial's list lacks: they join the catalog as title-only items."""
    import csv

    from .catalog import Catalog, Item
    from .datasets.dialogues import _YEAR, _titles, read_inspired

    known = {it.title.lower() for it in catalog.items} | {_YEAR.sub("", it.title).strip().lower() for it in catalog.items}
    extra, next_id = [], max(int(it.id) for it in catalog.items) + 1
    with open(dialogues, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            for title in _titles(row.get("movies") or ""):
                t = " ".join(title.split())
                if t.lower() not in known and _YEAR.sub("", t).strip().lower() not in known:
                    year = _YEAR.search(t)
                    extra.append(Item(next_id, t, int(year.group(1)) if year else None))
                    known.add(t.lower())
                    next_id += 1
    if extra:
        catalog = Catalog(catalog.name + "+inspired", list(catalog.items) + extra)
    return catalog, read_inspired(dialogues, catalog)


def add_eval_args(ev) -> None:
    ev.add_argument("--dialogues", help="for redial/inspired: the evaluated dialogues (ReDial JSONL / INSPIRED TSV)")
    ev.add_argument("--movies", help="for redial/inspired: movies_with_mentions.csv")
    ev.add_argument("--plots", help="for redial/inspired: movie_plot.csv (plots where present)")
    ev.add_argument("--train", action="append", help="for redial/inspired: training dialogues (repeatable)")
    ev.add_argument("--ml-ratings", help="for redial/inspired: ML-latest-small ratings.csv as CF training data")
    ev.add_argument("--ml-map", help="for redial/inspired: movies_merged.csv (default: the shared data folder)")
    ev.add_argument("--ml-movies", help="for redial/inspired: ML-latest-small movies.csv for genres (default: shared)")
