"""The late-joint cross-encoder: exact BERT arithmetic, shared-query path, windows, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chat_rec.config import CrossEncoderSpec
from chat_rec.models.cross_encoder import (
    CrossEncoderReranker,
    LateCrossEncoder,
    RerankerUnavailable,
    bert_layer,
    read_checkpoint,
)

QUERY = "woman 25-34 engineer; weekend evening; asks: something scary; likes horror, sci-fi; loved alien (1979)"
ITEMS = [
    "Alien (1979). Genres: Horror, Sci-Fi. A crew in deep space meets a deadly creature.",
    "Toy Story (1995). Genres: Animation, Children's, Comedy.",
    "Fargo (1996)",
]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = LateCrossEncoder(CrossEncoderSpec())
    torch.nn.init.normal_(m.head[1].weight, std=0.5)  # an untrained but non-trivial head
    return m.eval()


def test_layer_arithmetic_matches_bert(model):
    from transformers import AutoModel

    from chat_rec.models.cross_encoder import base_model_path

    bert = AutoModel.from_pretrained(base_model_path()).eval()
    enc = model.tokenizer(["a scary movie from the 80s", "toy story"], padding=True, return_tensors="pt")
    with torch.no_grad():
        ref = bert(**enc).last_hidden_state
        x = model.embeddings(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"])
        keep = enc["attention_mask"].bool()
        for layer in list(model.lower) + list(model.bi_upper):
            x = bert_layer(layer, x, keep)
    assert torch.allclose(x[keep], ref[keep], atol=1e-5)


def test_shared_query_path_equals_repeated_query(model):
    rr = CrossEncoderReranker(model)
    shared = rr.score(QUERY, ITEMS)
    q, qk, qe = model.encode_side([QUERY], "query")
    i, ik, ie = rr.item_batch(ITEMS)
    with torch.no_grad():
        repeated = model(q.expand(3, -1, -1), qk.expand(3, -1), qe.expand(3, -1), i, ik, ie).numpy()
    assert np.allclose(shared, repeated, atol=1e-5)
    assert len(set(np.round(shared, 4))) == 3  # the items are told apart


def test_query_window_cut_on_purpose(model):
    rr = CrossEncoderReranker(model)
    long_a = QUERY + "; loved " + ", ".join(f"movie number {n}" for n in range(60))
    long_b = long_a + " and a tail the window never reaches"
    assert rr.query_tokens(long_a) > model.spec.max_query_tokens
    a = rr.score(long_a, ITEMS)
    assert rr.last_truncated
    assert np.allclose(a, rr.score(long_b, ITEMS))  # only the first 36 word pieces count
    rr.score(QUERY[:40], ITEMS)
    assert not rr.last_truncated
    tok = model.tokenize([long_a], "query")
    assert tok["ids"].shape[1] == model.spec.max_query_tokens


def test_title_only_item_scores(model):
    scores = CrossEncoderReranker(model).score(QUERY, ["Fargo (1996)", "X"])
    assert np.isfinite(scores).all()


def test_checkpoint_roundtrip_and_bad_files(model, tmp_path):
    rr = CrossEncoderReranker(model, {"seed": 0, "fusion_weight": 0.4})
    path = rr.save(tmp_path / "rr.pt")
    back = CrossEncoderReranker.load(path)
    assert back.fusion_weight == 0.4
    assert np.allclose(back.score(QUERY, ITEMS), rr.score(QUERY, ITEMS), atol=1e-5)

    with pytest.raises(RerankerUnavailable, match="chat-rec train reranker"):
        read_checkpoint(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(RerankerUnavailable, match=r"corrupt.*chat-rec train reranker"):
        CrossEncoderReranker.load(corrupt)
    other = tmp_path / "other.pt"
    torch.save({"weights": [1, 2, 3]}, other)
    with pytest.raises(RerankerUnavailable, match="not a chat-rec re-ranker"):
        CrossEncoderReranker.load(other)
    blob = torch.load(path, weights_only=True)
    blob["state"] = {k: v for k, v in blob["state"].items() if not k.startswith("head.")}
    torch.save(blob, other)
    with pytest.raises(RerankerUnavailable, match="does not fit"):
        CrossEncoderReranker.load(other)
