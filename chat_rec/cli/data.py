"""`chat-rec data fetch`, `index build`, `search`, `llm fetch`."""

from __future__ import annotations

import sys
import time

from chat_rec.cli.common import build_index, make_config
from chat_rec.config import MAX_QUERY_CHARS


def cmd_data_fetch(args) -> int:
    from chat_rec.datasets import fetch_movielens_100k

    cfg = make_config(args)
    result = fetch_movielens_100k(cfg.data, force=args.force)
    print(f"MovieLens-100K ready in {result.path} ({result.source})")
    return 0


def cmd_data_check_facts(args) -> int:
    """The packaged facts' directors against the IMDb details: agreement and every disagreement."""
    from pathlib import Path

    from chat_rec.datasets import find_details
    from chat_rec.errors import DataNotFoundError
    from chat_rec.evaluation.facts import check_facts
    from chat_rec.files import write_result

    cfg = make_config(args)
    details = Path(args.details) if args.details else find_details(cfg.data)
    if getattr(args, "catalog", None) == "redial":
        return check_redial(cfg, details, args)
    if details is None or not details.is_file():
        raise DataNotFoundError(
            "no IMDb details file (ml-100k-imdb-details/movielens100k_details.csv) under the data folders: "
            "it is team data; pass --details PATH"
        )
    r = check_facts(details)
    print(
        f"packaged facts: {r['films_in_table']:,} films, {r['with_director']:,} with a director, {r['with_cast']:,} "
        f"with cast, {r['with_runtime']:,} with running time, {r['with_age_rating']:,} with an age rating"
    )
    print(
        f"directors agree with the details on {r['agree']:,} of the {r['covered']:,} films it covers "
        f"({r['agreement']:.3f}); on {r['agree_any_record']:,} of all {r['records_with_director']:,} records with a "
        f"director ({r['agreement_any_record']:.3f}, counting records of other titles)"
    )
    for d in r["disagreements"]:
        print(f"  {d['id']} {d['title']}: ours {', '.join(d['ours']) or '-'}; details {', '.join(d['details'])}")
    if args.out:
        write_result(Path(args.out), r)
        print(f"wrote {args.out}")
    return 0


def cmd_index_build(args) -> int:
    cfg = make_config(args)
    start = time.perf_counter()
    catalog, built = build_index(args, cfg)
    how = (
        "reused cached embeddings"
        if built.embeddings_cached
        else f"embedded {len(catalog)} items in {built.embed_seconds:.1f} s "
        f"({len(catalog) / max(built.embed_seconds, 1e-9):.0f} texts/s)"
    )
    print(
        f"index ready: {len(catalog)} items of {catalog.name!r}, {built.index.kind} FAISS index at {built.path}; "
        f"{how}; {time.perf_counter() - start:.1f} s in all"
    )
    if catalog.text_source:
        print(f"item texts: titles, genres and {catalog.text_source}")
    return 0


def search_filters(args):
    from chat_rec.models.index import SearchFilter

    exclude = set()
    for raw in args.exclude or ():
        exclude.add(int(raw) if raw.isdigit() else raw)
    return SearchFilter(
        exclude_ids=frozenset(exclude),
        require_genres=tuple(args.genre or ()),
        forbid_genres=tuple(args.not_genre or ()),
        year_min=args.year_min,
        year_max=args.year_max,
    )


def print_hits(catalog, hits) -> None:
    if not hits:
        print("no items match (the filters may exclude everything)")
    for rank, hit in enumerate(hits, 1):
        item = catalog.items[hit.row]
        genres = ", ".join(item.genres)
        print(f"{rank:>3}. {item.title}  {hit.score:.3f}  [{genres}]  (id {item.id})")


def cmd_search(args) -> int:
    from chat_rec.models.index import check_query

    cfg = make_config(args)
    query, notices = check_query(args.query, MAX_QUERY_CHARS)  # validate before loading any model
    for notice in notices:
        print(f"note: {notice}", file=sys.stderr)
    catalog, built = build_index(args, cfg, quiet=True)
    print_hits(catalog, built.search_text(query, args.k, search_filters(args)))
    return 0


def cmd_llm_fetch(args) -> int:
    from chat_rec.models.llm import fetch_gguf, sha256_file

    cfg = make_config(args)
    path = fetch_gguf(cfg.llm.models_dir, force=args.force)
    print(f"local LLM ready: {path} ({path.stat().st_size / 1e6:.0f} MB, sha256 {sha256_file(path)[:16]}...)")
    return 0


def check_redial(cfg, details, args) -> int:
    """`data check-facts --catalog redial`: the packaged ReDial facts against the team's IMDb details and
    MovieLens-latest genres."""
    from chat_rec.cli.common import shared_path
    from chat_rec.errors import DataNotFoundError
    from chat_rec.evaluation.facts import check_redial_facts
    from chat_rec.files import write_result

    if details is None or not details.is_file():
        raise DataNotFoundError("no IMDb details file under the data folders: it is team data; pass --details PATH")
    r = check_redial_facts(
        details,
        shared_path(cfg, "ml-latest-small", "movies.csv"),
        shared_path(cfg, "redial_movielens_map", "movies_merged.csv"),
    )
    print(
        f"packaged ReDial facts: {r['described']:,} of {r['films']:,} films described, {r['with_director']:,} with a "
        f"director, {r['with_cast']:,} with cast, {r['with_genres']:,} with genres"
    )
    print(
        f"directors agree with the IMDb details on {r['directors_agree']:,} of the {r['directors_covered']:,} films "
        f"both name ({r['director_agreement']:.3f}); genres overlap MovieLens-latest's on {r['genres']['overlap']:,} "
        f"of {r['genres']['compared']:,} films ({r['genres'].get('agreement', 0):.3f})"
    )
    for d in r["disagreements"][:30]:
        print(f"  {d['title']}: ours {', '.join(d['ours'])}; details {', '.join(d['details'])}")
    if args.out:
        write_result(args.out, r)
    return 0
