"""``chat-rec bench scale``: the cost of a turn as the catalog grows, on synthetic catalogs
(``evaluation.synthetic``) of 10^4-10^6 items.

Per size, a *prepare* process generates the catalog, embeds a subset for real with the served encoder,
maps every other item to a vector by the cheap method (``cheap_item_vectors``), writes the vectors where
``build_item_index`` looks for its embedding cache, builds and saves each index kind (build seconds, size)
and fits the CF model the size gets (fit seconds, size). Then, per index kind, a fresh *serve* process
starts the agent with ``build_agent`` (what ``app.py`` runs) on that catalog, the LLM off, and measures:

* search: one query at a time, ``k=10``, as a turn asks the index (median and p95 ms), over the encoded
  synthetic requests and item vectors (a "more like this" search);
* recall@10: the overlap of those searches' top 10 with exact (brute-force) search, averaged;
* the turn: ``Agent.turn`` over synthetic conversations (a request, a follow-up, a 👍 then "more like that";
  known users asking for "something to watch"), median and p95 ms;
* peak RSS of the serving process (``ru_maxrss``), start-up included.

Each process is separate so one size's memory never counts towards another's.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy import sparse

from chat_rec.evaluation import synthetic as syn
from chat_rec.evaluation.load import p95

log = logging.getLogger(__name__)

REAL_SUBSET = 1_000  # items embedded for real per size (about 80 s on two cores)
RIDGE = 1.0
NOISE_SHARE = 0.5  # of the held-out residual's standard deviation: matches real nearest-neighbour cosines
N_QUERIES = 200


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _config(work: Path, kind: str = "auto"):
    from chat_rec.config import Config, DataConfig, IndexConfig

    cfg = Config.from_env({})
    return replace(
        cfg, data=DataConfig(root=work / "data", shared_dirs=(), allow_download=False), index=IndexConfig(kind=kind)
    )


# ----------------------------------------------------------------------------------------------- vectors


def _features(words: list[list[str]], vocab: dict[str, int]) -> sparse.csr_matrix:
    indptr = np.zeros(len(words) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(ws) + 1 for ws in words])
    indices = np.fromiter(
        (c for ws in words for c in [*(vocab[w] for w in ws), len(vocab)]), dtype=np.int64, count=int(indptr[-1])
    )
    data = np.ones(len(indices), dtype=np.float32)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(words), len(vocab) + 1))


def cheap_item_vectors(words: list[list[str]], real_rows: np.ndarray, real: np.ndarray, seed: int = syn.SEED):
    """Vectors for every item from a subset embedded for real: a ridge map from the item's words (theme words,
    genres, title words, the syllables of its made-up name, its decade; one-hot counts) to the MiniLM vector,
    fitted on 80 % of the subset, plus Gaussian noise of ``NOISE_SHARE`` of the held-out residual, normalised.
    The subset's own rows keep their real vectors. Returns (vectors, agreement on the held-out 20 %)."""
    vocab = {w: j for j, w in enumerate(sorted({w for ws in words for w in ws}))}
    X = _features([words[i] for i in real_rows], vocab).toarray()
    cut = int(0.8 * len(real_rows))
    A = X[:cut]
    W = np.linalg.solve(A.T @ A + RIDGE * np.eye(A.shape[1]), A.T @ real[:cut]).astype(np.float32)
    held = X[cut:] @ W
    noise = NOISE_SHARE * float((real[cut:] - held).std())
    rng = np.random.default_rng(seed + 5)

    def finish(block: np.ndarray) -> np.ndarray:
        block = block + rng.normal(0.0, noise, block.shape).astype(np.float32)
        return block / np.linalg.norm(block, axis=1, keepdims=True)

    cheap_held = finish(held)
    agreement = {
        "real_subset": len(real_rows),
        "held_out": int(len(real_rows) - cut),
        "cosine_cheap_real": round(float((cheap_held * real[cut:]).sum(1).mean()), 3),
        "top10_overlap_cheap_real": _overlap(cheap_held, real[cut:]),
        "nn1_cosine": {"real": _nn1(real[cut:]), "cheap": _nn1(cheap_held)},
        "noise_per_dim": round(noise, 4),
    }
    out = np.empty((len(words), real.shape[1]), dtype=np.float32)
    step = 50_000
    for a in range(0, len(words), step):
        out[a : a + step] = finish(np.asarray(_features(words[a : a + step], vocab) @ W))
    out[real_rows] = real
    return out, agreement


def _nn1(V: np.ndarray) -> float:
    S = V @ V.T
    np.fill_diagonal(S, -np.inf)
    return round(float(S.max(axis=1).mean()), 3)


def _overlap(a: np.ndarray, b: np.ndarray, k: int = 10) -> float:
    Sa, Sb = a @ a.T, b @ b.T
    np.fill_diagonal(Sa, -np.inf)
    np.fill_diagonal(Sb, -np.inf)
    ta, tb = np.argsort(-Sa, axis=1)[:, :k], np.argsort(-Sb, axis=1)[:, :k]
    return round(float(np.mean([len(set(x) & set(y)) / k for x, y in zip(ta, tb)])), 3)


# ----------------------------------------------------------------------------------------------- prepare


def prepare(n_items: int, work: Path, kinds: list[str], real_subset: int = REAL_SUBSET) -> dict:
    """Generate, embed (cheaply), write the embedding cache, build and save each index kind, fit the CF."""
    from chat_rec.catalog import item_text
    from chat_rec.models.cf import make_cf
    from chat_rec.models.encoder import make_encoder
    from chat_rec.models.index import build_item_index, embedding_cache_path

    cfg = _config(work)
    start = time.perf_counter()
    catalog, theme, words = syn.synthetic_catalog(n_items)
    interactions = syn.synthetic_interactions(catalog, theme)
    generate_s = time.perf_counter() - start
    encoder = make_encoder(cfg.encoder)
    rng = np.random.default_rng(syn.SEED + 6)
    real_rows = np.sort(rng.choice(n_items, min(real_subset, n_items), replace=False))
    real_path = work / f"real-{n_items}-{len(real_rows)}-{syn.SEED}-{encoder.name}.npy"
    if real_path.is_file():
        real = np.load(real_path)
    else:
        texts = [item_text(catalog.items[int(r)]) for r in real_rows]
        real = np.asarray(encoder.encode(texts, show_progress=True), dtype=np.float32)
        np.save(real_path, real)
    t = time.perf_counter()
    vectors, agreement = cheap_item_vectors(words, real_rows, real)
    cheap_s = time.perf_counter() - t
    cache = embedding_cache_path(catalog, encoder, cfg.data)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    del vectors
    builds = {}
    for kind in kinds:
        for old in cfg.data.index_dir.glob(f"{catalog.name}-*-{kind}.faiss"):  # a build, not a load, is timed
            old.unlink()
        t = time.perf_counter()
        built = build_item_index(catalog, encoder, cfg.data, replace(cfg.index, kind=kind), show_progress=False)
        builds[kind] = {
            "build_s": round(time.perf_counter() - t, 1),
            "memory_mb": round(built.path.stat().st_size / 2**20, 1),
        }
        del built
    t = time.perf_counter()
    cf = make_cf(interactions, cfg.cf)
    cf_row = {
        "cf": type(cf).__name__,
        "cf_fit_s": round(time.perf_counter() - t, 1),
        "cf_mb": round(cf.nbytes / 2**20, 1),
    }
    return {
        "items": n_items,
        "users": interactions.n_users,
        "events": len(interactions),
        "generate_s": round(generate_s, 1),
        "cheap_vectors_s": round(cheap_s, 1),
        "vectors": agreement,
        "indexes": builds,
        **cf_row,
    }


# ----------------------------------------------------------------------------------------------- serve


def _stats(values: list[float]) -> dict:
    return {"median": round(float(np.median(values)), 2), "p95": round(p95(values), 2), "n": len(values)}


def conversations(catalog, theme, interactions, n_sessions: int, n_known: int) -> list[tuple[object, list]]:
    """(user id or None, steps): a step is a message or ("up", card rank)."""
    requests = syn.synthetic_requests(catalog, theme, n_sessions)
    follow = ("something more recent", "more like the first one", "no, darker please", "from the 90s instead")
    out = []
    for k, message in enumerate(requests):
        out.append((None, [message, follow[k % len(follow)], ("up", 1), "more like that"]))
    users = interactions.user_ids[: n_known * 7 : 7]
    for u in users:
        out.append((u, ["recommend me something to watch", "something newer"]))
    return out


def serve(n_items: int, work: Path, kind: str, n_sessions: int = 30, n_known: int = 10) -> dict:
    """Start the agent as ``app.py`` does (LLM off) on the prepared catalog; time searches and turns."""
    from chat_rec.assemble import build_agent
    from chat_rec.recommender.feedback import MemoryStore
    from chat_rec.session import Session

    cfg = _config(work, kind)
    start = time.perf_counter()
    catalog, theme, words = syn.synthetic_catalog(n_items)
    del words  # the vector recipe is the prepare step's; a served catalog has only its items
    interactions = syn.synthetic_interactions(catalog, theme)
    agent = build_agent(cfg, llm_kind="none", dataset=(catalog, interactions), store=MemoryStore())
    startup_s = time.perf_counter() - start
    rec = agent.rec
    # search and recall: encoded requests and item vectors, one query at a time, k = 10
    queries = np.asarray(rec.encoder.encode(syn.synthetic_requests(catalog, theme, N_QUERIES // 2)), dtype=np.float32)
    rng = np.random.default_rng(syn.SEED + 7)
    queries = np.vstack([queries, rec.vectors[rng.choice(n_items, N_QUERIES - len(queries), replace=False)]])
    search_ms, found = [], []
    for q in queries:
        t = time.perf_counter()
        hits = rec.index.search(q[None, :], 10)[0]
        search_ms.append((time.perf_counter() - t) * 1000)
        found.append({h.row for h in hits})
    exact = []
    for a in range(0, len(queries), 50):
        scores = queries[a : a + 50] @ rec.vectors.T
        top = np.argpartition(-scores, 9, axis=1)[:, :10]
        exact.extend(set(row.tolist()) for row in top)
    recall = float(np.mean([len(f & e) / 10 for f, e in zip(found, exact)]))
    # turns
    agent.turn("warm up: a comedy", Session())
    turn_ms, stages = [], {"retrieve": [], "rerank": [], "explain": [], "intent_rules": []}
    for user, steps in conversations(catalog, theme, interactions, n_sessions, n_known):
        session = Session(user_id=user)
        reply = None
        for step in steps:
            if isinstance(step, tuple):
                if reply is not None and len(reply.items) >= step[1]:
                    agent.record_feedback(session, reply.items[step[1] - 1].item_id, step[0])
                continue
            t = time.perf_counter()
            reply = agent.turn(step, session)
            turn_ms.append((time.perf_counter() - t) * 1000)
            for s in stages:
                if s in reply.timings:
                    stages[s].append(reply.timings[s])
            if not reply.items:
                raise RuntimeError(f"no picks for {step!r} on {catalog.name}")
    turn = _stats(turn_ms)
    return {
        "items": n_items,
        "index": rec.index.kind,
        "cf": type(rec.cf).__name__,
        "startup_s": round(startup_s, 1),
        "search_ms": _stats(search_ms),
        "recall@10": round(recall, 4),
        "turn_ms": turn,
        "turn_ms_p95": turn["p95"],
        "stages_ms": {s: _stats(v) for s, v in stages.items() if v},
        "peak_rss_mb": _rss_mb(),
    }


# ----------------------------------------------------------------------------------------------- driver


def _child(args: list[str], timeout: float) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    proc = subprocess.run(
        [sys.executable, "-m", "chat_rec.evaluation.scale", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench scale {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_scale(
    sizes: list[int], kinds: list[str], work: Path, timeout: float = 3600.0, echo=print, real_subset: int = REAL_SUBSET
) -> dict:
    """Every size: a prepare process, then one serve process per index kind. Rows as the issue asks."""
    work.mkdir(parents=True, exist_ok=True)
    rows, prepared = [], []
    for n in sizes:
        echo(f"bench scale: preparing {n:,} items (catalog, vectors, indexes {', '.join(kinds)}, CF) ...")
        prep = _child(
            [
                "prepare",
                "--items",
                str(n),
                "--work",
                str(work),
                "--index",
                ",".join(kinds),
                "--real",
                str(real_subset),
            ],
            timeout,
        )
        prepared.append(prep)
        echo(f"  {json.dumps(prep)}")
        for kind in kinds:
            echo(f"bench scale: serving {n:,} items on {kind} ...")
            got = _child(["serve", "--items", str(n), "--work", str(work), "--index", kind], timeout)
            row = {
                "items": n,
                "index": got["index"],
                "cf": got["cf"],
                "build_s": prep["indexes"][kind]["build_s"],
                "memory_mb": prep["indexes"][kind]["memory_mb"],
                "search_ms": {k: got["search_ms"][k] for k in ("median", "p95")},
                "recall@10": got["recall@10"],
                "turn_ms_p95": got["turn_ms_p95"],
                "peak_rss_mb": got["peak_rss_mb"],
                "cf_fit_s": prep["cf_fit_s"],
                "cf_mb": prep["cf_mb"],
                "turn_ms": got["turn_ms"],
                "stages_ms": got["stages_ms"],
                "startup_s": got["startup_s"],
            }
            rows.append(row)
            echo(
                f"  {n:>9,} items  {row['index']:<5} cf {row['cf']:<7} build {row['build_s']:>7} s  "
                f"index {row['memory_mb']:>7} MB  search {row['search_ms']['median']:.2f}/"
                f"{row['search_ms']['p95']:.2f} ms  recall@10 {row['recall@10']:.3f}  "
                f"turn p95 {row['turn_ms_p95']:.0f} ms "
                f"(median {row['turn_ms']['median']:.0f})  peak RSS {row['peak_rss_mb']:,.0f} MB"
            )
    return {"rows": rows, "prepared": prepared, "method": METHOD}


METHOD = (
    "Synthetic catalogs from chat_rec.evaluation.synthetic (seeded vocabulary of 20 themes, Zipf-like popularity "
    "1/(rank+10)^0.9, n/4 users with ~20 events each). 1,000 items per size embedded for real with the served "
    "MiniLM; every other item's vector from a ridge map (fitted on 800 of them) from its words to the MiniLM "
    "vector, plus noise matching the real nearest-neighbour cosines ('vectors' in 'prepared' gives the held-out "
    "agreement). Each serve row is a fresh process running build_agent as app.py does (LLM off); turns go through "
    "Agent.turn. recall@10: ANN top 10 against exact search over 200 single queries (100 encoded requests, 100 item "
    "vectors)."
)


def main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m chat_rec.evaluation.scale")
    p.add_argument("what", choices=("prepare", "serve"))
    p.add_argument("--items", type=int, required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--index", default="flat,hnsw")
    p.add_argument("--real", type=int, default=REAL_SUBSET)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    work = Path(args.work)
    if args.what == "prepare":
        out = prepare(args.items, work, args.index.split(","), args.real)
    else:
        out = serve(args.items, work, args.index)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
