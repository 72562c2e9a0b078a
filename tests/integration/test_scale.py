"""A catalog past the sizes that are ranked in full: the agent served on an approximate index (HNSW) and the
sparse item-kNN, as a large catalog gets them, with the real encoder; and ``chat-rec bench scale`` end to end."""

import json
from dataclasses import replace

import numpy as np
import pytest

from chat_rec.config import CFConfig, Config, DataConfig, IndexConfig
from chat_rec.evaluation import synthetic as syn

N = 4_000


@pytest.fixture(scope="module")
def large_agent(tmp_path_factory, minilm):
    """The served assembly with the size thresholds scaled down: HNSW above 1,000 items, the item-kNN above
    1,000, candidates retrieved when more than 500 rows pass the filters."""
    from chat_rec.assemble import build_agent
    from chat_rec.recommender.feedback import MemoryStore

    catalog, theme, _ = syn.synthetic_catalog(N)
    interactions = syn.synthetic_interactions(catalog, theme)
    cfg = replace(
        Config.from_env({}),
        data=DataConfig(root=tmp_path_factory.mktemp("scale"), shared_dirs=(), allow_download=False),
        index=IndexConfig(flat_max=1_000, exact_below=200, full_rank_max=500),
        cf=CFConfig(ease_max=1_000),
    )
    agent = build_agent(cfg, llm_kind="none", encoder=minilm, dataset=(catalog, interactions), store=MemoryStore())
    return agent, theme


def test_a_large_catalog_gets_hnsw_and_the_item_knn(large_agent):
    from chat_rec.models.cf import ItemKNN

    agent, _ = large_agent
    assert agent.rec.index.kind == "hnsw"
    assert isinstance(agent.rec.cf, ItemKNN)
    assert agent.rec.full_rank_max == 500


def test_retrieved_picks_meet_the_request(large_agent):
    from chat_rec.session import Session

    agent, _ = large_agent
    session = Session()
    reply = agent.turn("a western from the 1970s with a sheriff", session)
    assert len(reply.items) == 5
    for r in reply.items:
        assert "Western" in r.genres and 1970 <= r.year <= 1979
    reply = agent.turn("something about a haunted mansion but no comedy please", Session())
    assert len(reply.items) == 5 and not any("Comedy" in r.genres for r in reply.items)
    # the semantic candidates came from the index: most picks are of the haunting theme's words
    texts = [agent.catalog.item(r.item_id).description for r in reply.items]
    assert sum(any(w in t for w in ("haunted", "mansion", "ghost", "curse", "spirit")) for t in texts) >= 3


def test_the_item_knn_folds_in_a_like_and_retrieval_reads_only_its_neighbours(large_agent):
    from chat_rec.recommender import signals as sig
    from chat_rec.recommender.intent import Intent

    agent, _ = large_agent
    rec = agent.rec
    liked = int(np.argmax(np.diff(rec.cf.B.indptr)))  # an item with many neighbours
    request = sig.Request(Intent(), references=[liked], liked={liked})
    allowed = np.ones(len(rec.catalog), dtype=bool)
    allowed[liked] = False
    top = sig.cf_top(rec.features, request, allowed, 20)
    neighbours = set(rec.cf.B[liked].indices.tolist()) - {liked}
    assert len(top) == min(20, len(neighbours)) and set(top.tolist()) <= neighbours
    scores = rec.cf.B[liked].toarray().ravel()
    assert scores[top[0]] == pytest.approx(scores[list(neighbours)].max())


def test_a_like_on_a_large_catalog_shapes_the_next_turn(large_agent):
    from chat_rec.session import Session

    agent, _ = large_agent
    session = Session()
    first = agent.turn("something eerie about a ghost", session)
    agent.record_feedback(session, first.items[0].item_id, "up")
    again = agent.turn("more like that", session)
    assert len(again.items) == 5
    assert first.items[0].item_id not in [r.item_id for r in again.items]


def test_bench_scale_end_to_end(tmp_path):
    """``chat-rec bench scale`` on one small size: a prepare and two serve processes, rows as the issue asks."""
    from chat_rec.evaluation.scale import run_scale

    result = run_scale([3_000], ["flat", "hnsw"], tmp_path, echo=lambda *_: None, real_subset=150)
    rows = {r["index"]: r for r in result["rows"]}
    assert set(rows) == {"flat", "hnsw"}
    for r in rows.values():
        for key in (
            "items",
            "index",
            "cf",
            "build_s",
            "memory_mb",
            "search_ms",
            "recall@10",
            "turn_ms_p95",
            "peak_rss_mb",
        ):
            assert key in r
        assert r["items"] == 3_000 and r["cf"] == "EASE" and r["turn_ms"]["n"] >= 100
    assert rows["flat"]["recall@10"] == 1.0 and rows["hnsw"]["recall@10"] >= 0.95
    agreement = result["prepared"][0]["vectors"]
    assert agreement["real_subset"] == 150 and agreement["cosine_cheap_real"] > 0.5
    json.dumps(result)
