"""Assembling the embedded default agent from a Config (data, index, CF, re-ranker, LLM, store)."""

from __future__ import annotations

import logging
from pathlib import Path

from chat_rec.agent import Agent
from chat_rec.recommender.fusion import RERANKER, load_fusion
from chat_rec.recommender.intent.llm_reader import LLMGate, LLMHelper
from chat_rec.recommender.intent.titles import TitleMatcher
from chat_rec.recommender.pipeline import Recommender

log = logging.getLogger(__name__)
#: Catalogs up to this size have the re-ranker's item side encoded at start-up.
WARM_MAX = 20_000


def build_agent(
    cfg,
    *,
    llm_kind: str | None = None,
    encoder=None,
    show_progress: bool = False,
    prepare=None,
    store=None,
    dataset=None,
) -> Agent:
    """The embedded default agent from a Config: catalog, cached item index, CF chosen by catalog size
    (rating-weighted EASE, or the sparse item-kNN on a large catalog: ``models.cf.make_cf``),
    and the chosen LLM (falling back to rules, with a notice, when it cannot load).

    ``dataset``: an already loaded (catalog, interactions) pair; loaded from ``cfg.data`` when None.
    """
    from dataclasses import replace

    from chat_rec.datasets import load_dataset
    from chat_rec.models.cf import make_cf
    from chat_rec.models.encoder import BatchingEncoder, make_encoder
    from chat_rec.models.index import build_item_index

    catalog, interactions = dataset if dataset is not None else load_dataset(cfg.data)
    if prepare is not None and interactions is not None:  # evaluation: hold out events before fitting
        interactions = prepare(interactions)
    # CF first: fitting the item-kNN of a large catalog takes a few GB for a moment (a million items: 3 GB),
    # which must not stack on the index's memory
    cf = make_cf(interactions, cfg.cf)
    encoder = encoder or make_encoder(cfg.encoder)
    built = build_item_index(catalog, encoder, cfg.data, cfg.index, show_progress=show_progress)
    fusion, fusion_notice = load_fusion(cfg.ranker.path, cfg.ranker.models_dir, catalog.name)
    side = corpus_side(cfg, catalog, encoder, show_progress=show_progress) if catalog.name == "redial" else None
    # The re-ranker is loaded only when the fitted fusion gives it a weight: a part that does not beat its
    # baseline on validation is neither computed nor shown.
    reranker, reranker_notice = None, None
    if any(fusion.weight(h, RERANKER) for h in fusion.heads):
        reranker, reranker_notice = load_fusion_reranker(fusion, cfg.reranker)
    recommender = Recommender(
        catalog,
        built.index,
        built.index.vectors,
        BatchingEncoder(encoder),  # turns running together share one forward pass
        cf,
        interactions,
        reranker=reranker,
        fusion=fusion,
        rerank_top=cfg.reranker.top,
        full_rank_max=cfg.index.full_rank_max,
        side=side,
    )
    if reranker is not None and len(catalog) <= WARM_MAX:
        # the frozen item side of every catalog text, once at start (about 10 s for MovieLens-100K on two
        # cores), so no turn pays for it
        reranker.warm(recommender.texts, progress=show_progress)
    titles = TitleMatcher(catalog, recommender.popularity)
    llm_cfg = replace(cfg.llm, kind=llm_kind) if llm_kind else cfg.llm
    helper, notice = make_llm_helper(llm_cfg, catalog, titles)
    if llm_cfg.fallback == "local" and llm_cfg.kind != "local":
        helper, notice = with_local_fallback(helper, notice, llm_cfg, catalog, titles)
    store, store_notice = (store, None) if store is not None else open_feedback_store(cfg.store_path)
    # a damaged or unsaveable index cache (rebuilt, served from memory) is said on the first turn too
    reranker_notice = "; ".join(n for n in (fusion_notice, reranker_notice, *built.notices) if n) or None
    return Agent(
        recommender,
        interactions,
        helper,
        cfg.agent,
        titles,
        llm_notice=notice,
        store=store,
        store_notice=store_notice,
        reranker_notice=reranker_notice,
    )


def corpus_side(cfg, catalog, encoder, *, show_progress: bool = False):
    """The packaged ReDial catalog's signal data: its training dialogues (mentions, co-mention, the seekers'
    requests before each suggestion, and CF from the films seekers liked together), the requests' vectors
    cached under ``data/cache`` (about a minute to encode on two cores, once)."""
    import hashlib

    import numpy as np

    from chat_rec.datasets.redial_pack import pack_dialogues
    from chat_rec.files import atomic_write
    from chat_rec.recommender.side import dialogue_side

    dialogues = pack_dialogues()

    def encode(texts: list[str]) -> np.ndarray:
        key = hashlib.sha256("\n".join([encoder.name, *texts]).encode()).hexdigest()[:16]
        path = cfg.data.cache_dir / f"asked-{catalog.name}-{key}.npy"
        if path.is_file():
            try:
                vectors = np.load(path)
                if vectors.shape[0] == len(texts):
                    return vectors
            except (OSError, ValueError):
                log.warning("cached request vectors %s are damaged; encoding again", path)
        if show_progress:
            print(f"encoding {len(texts):,} recorded requests of {len(dialogues):,} dialogues (once) ...", flush=True)
        vectors = np.asarray(encoder.encode(texts, show_progress=show_progress), dtype=np.float32)

        def save(tmp):
            with open(tmp, "wb") as fh:  # a file object: np.save would add ".npy" to a path
                np.save(fh, vectors)

        try:
            atomic_write(path, save)
        except OSError as exc:
            log.warning("cannot cache the request vectors at %s: %s", path, exc)
        return vectors

    return dialogue_side(catalog, dialogues, None, encode)


def open_feedback_store(spec):
    """The feedback store ``CHATREC_STORE`` names (``Config.store_path``): a ``postgresql://`` URL
    (``PostgresStore``), a SQLite file, or None (in memory). When it cannot be used: an in-memory store and a
    notice saying why."""
    from chat_rec.errors import ChatRecError
    from chat_rec.recommender.feedback import MemoryStore, open_store

    if isinstance(spec, str) and spec.startswith(("postgresql://", "postgres://")):
        from chat_rec.recommender.pgstore import PostgresStore

        try:
            return PostgresStore(spec), None
        except ChatRecError as exc:
            log.warning("feedback store unavailable: %s", exc)
            return MemoryStore(), f"feedback is kept in memory only for this session: {exc}"
    return open_store(spec)


def with_local_fallback(helper, notice, llm_cfg, catalog, titles):
    """``CHATREC_LLM_FALLBACK=local``: this replica's embedded model behind the shared server (``helper``),
    answering while the server is down; it answers alone when the server's client cannot be made."""
    from dataclasses import replace

    local, local_notice = make_llm_helper(replace(llm_cfg, kind="local", fallback=""), catalog, titles)
    if local is None:
        return helper, "; ".join(n for n in (notice, local_notice and f"no fallback: {local_notice}") if n) or None
    if helper is None:
        return local, f"{notice}; the local model answers instead" if notice else None
    helper.fallback = local
    return helper, notice


def make_llm_helper(llm_cfg, catalog, titles) -> tuple[LLMHelper | None, str | None]:
    """The configured LLM behind its prompts, timeout and queue, or (None, a notice) when it cannot load: a
    missing, damaged (size, sha256, header) or unloadable GGUF never stops the chat, which then uses its rules."""
    from chat_rec.errors import ChatRecError
    from chat_rec.models.llm import make_chat_model

    try:
        model = make_chat_model(llm_cfg)
        if model is None:
            return None, None
        if llm_cfg.kind == "local":
            model._load()
        return LLMHelper(model, catalog, titles, timeout=llm_cfg.timeout, gate=LLMGate(llm_cfg.queue_wait)), None
    except ChatRecError as exc:
        log.warning("language model unavailable: %s", exc)
        return None, f"language model unavailable ({exc}); using built-in rules"
    except Exception as exc:  # an unforeseen failure of the model's loader must not stop the chat either
        log.warning("language model unavailable", exc_info=True)
        return None, f"language model unavailable ({exc.__class__.__name__}: {exc}); using built-in rules"


def warm_llm(agent) -> None:
    """Evaluate the language model's fixed prompt prefixes once (the intent prompt and the explanation prompt,
    each in its own slot), so the first visitor's call evaluates only their message. ``app.py`` runs it in the
    background at start (a turn that needs the model meanwhile waits its turn); the bench runs it before timing."""
    from chat_rec.recommender.intent.llm_reader import LLMFailure

    for helper in (agent.llm, agent.llm.fallback):  # a local fallback's prefixes too, so it answers at once
        if helper is None:
            continue
        try:
            helper.extract("something to watch tonight", soft=agent.config.reader == "refine")
            "".join(helper.rewrite_stream("Alien (1979); genres: Horror, Sci-Fi; it is among the most watched titles"))
        except LLMFailure as exc:
            log.warning("language model warm-up failed: %s", exc)


def load_fusion_reranker(fusion, cfg) -> tuple[object | None, str | None]:
    """The re-ranker checkpoint the fusion weights were fitted with: the file its provenance names, looked
    up in ``models_dir`` and beside the fusion artifact (the package ships both), or ``cfg.path`` when set.
    Another checkpoint (a different sha256) is not used: its scores would not fit the weight."""
    import hashlib

    from chat_rec.models.cross_encoder import CrossEncoderReranker, RerankerUnavailable

    info = (fusion.meta.get("fitting") or {}).get("reranker") or {}
    if cfg.path == "none":
        return None, None
    if cfg.path != "auto":
        path = Path(cfg.path)
    else:
        name = info.get("checkpoint") or "reranker-dialogues.pt"
        candidates = [Path(cfg.models_dir) / name] + ([Path(fusion.path).with_name(name)] if fusion.path else [])
        path = next((p for p in candidates if p.exists()), candidates[0])
    fix = "run `chat-rec train ranker` to fit the weights and the re-ranker again"
    if not path.exists():
        return None, f"re-ranker off (no checkpoint at {path}, the one the fusion weights were fitted with); {fix}"
    try:
        reranker = CrossEncoderReranker.load(path)
    except RerankerUnavailable as exc:
        log.warning("%s", exc)
        return None, f"re-ranker off ({path} cannot be read); {fix}"
    want = info.get("sha256")
    if want and hashlib.sha256(path.read_bytes()).hexdigest()[: len(want)] != want:
        return None, f"re-ranker off ({path} is not the checkpoint the fusion weights were fitted with); {fix}"
    return reranker, None


def load_reranker(cfg) -> tuple[object | None, str | None]:
    """The trained re-ranker named by a ``RerankerConfig``, or (None, a one-line notice) when there is none
    or it cannot be read; ``path="none"`` turns it off without a notice."""
    path = cfg.checkpoint()
    if path is None:
        return None, None
    from chat_rec.models.cross_encoder import CrossEncoderReranker, RerankerUnavailable

    try:
        return CrossEncoderReranker.load(path), None
    except RerankerUnavailable as exc:
        log.warning("%s", exc)
        return None, f"re-ranker off ({exc}); ranking on the other signals"
