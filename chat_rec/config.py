"""Typed configuration. The only module that reads environment variables.

Build a config at the entry point (``Config.from_env()``) and pass its parts down.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

#: Hard cap on a search query, in characters; longer text is truncated (and the caller told so).
MAX_QUERY_CHARS = 2_000


def _default_shared_dirs() -> tuple[Path, ...]:
    """Team data beside the checkout (``../shared/data``); absent on users' machines."""
    return (Path.cwd().parent / "shared" / "data",)


@dataclass(frozen=True)
class DataConfig:
    """Where data lives.

    Args:
        root: where fetched datasets, caches and indexes land (``CHATREC_DATA_DIR``, default ``./data``).
        shared_dirs: read-only team folders searched after ``root`` (``CHATREC_SHARED_DATA``).
        allow_download: whether the package registry and the GroupLens site may be used.
    """

    root: Path = Path("data")
    shared_dirs: tuple[Path, ...] = field(default_factory=_default_shared_dirs)
    allow_download: bool = True

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def index_dir(self) -> Path:
        return self.root / "index"


@dataclass(frozen=True)
class EncoderConfig:
    """Item/query text encoder. ``kind``: ``minilm`` (packaged all-MiniLM-L6-v2) or ``hash`` (fake)."""

    kind: str = "minilm"
    batch_size: int = 16  # measured fastest on 2 cores (less padding per batch)
    dim: int = 384


@dataclass(frozen=True)
class IndexConfig:
    """FAISS index. ``kind``: ``auto`` (flat up to ``flat_max`` items, else HNSW), ``flat``, ``ivf``, ``hnsw``."""

    kind: str = "auto"
    flat_max: int = 50_000
    ivf_nprobe: int = 16
    hnsw_m: int = 32
    hnsw_ef_search: int = 128


@dataclass(frozen=True)
class LLMConfig:
    """The conversational LLM. ``kind``: ``local`` (embedded GGUF, llama.cpp), ``openai`` (any
    OpenAI-compatible endpoint at ``base_url``), ``none`` (rules only)."""

    kind: str = "local"
    gguf: str | None = None  # CHATREC_LLM_GGUF: any other GGUF file
    base_url: str | None = None  # CHATREC_LLM_BASE_URL
    model: str | None = None  # CHATREC_LLM_MODEL
    api_key: str | None = None  # CHATREC_LLM_API_KEY (or OPENAI_API_KEY)
    timeout: float = 20.0  # CHATREC_LLM_TIMEOUT, seconds per call
    threads: int = 2
    models_dir: Path = Path("data") / "models"


@dataclass(frozen=True)
class RerankerConfig:
    """The BERT context re-ranker. ``path``: ``auto`` (``data/models/reranker.pt``, else the quick
    ``reranker-quick.pt``), a checkpoint file, or ``none`` (CHATREC_RERANKER)."""

    path: str = "auto"
    models_dir: Path = Path("data") / "models"
    top: int = 50  # how many of the linear top candidates it re-scores per turn

    def candidates(self) -> list[Path]:
        if self.path == "none":
            return []
        if self.path == "auto":
            return [self.models_dir / "reranker.pt", self.models_dir / "reranker-quick.pt"]
        return [Path(self.path)]

    def checkpoint(self) -> Path | None:
        """The checkpoint to load: the first candidate on disk, else the first (to name in the error);
        None when turned off."""
        paths = self.candidates()
        return next((p for p in paths if p.exists()), paths[0]) if paths else None


@dataclass(frozen=True)
class RankerConfig:
    """The fitted fusion of the ranking signals (``recommender.fusion``). ``path``: ``auto``
    (``data/models/ranker.json`` from ``chat-rec train ranker``, else the one packaged with chat-rec),
    a file, or ``defaults`` for the hand-set weights (CHATREC_RANKER)."""

    path: str = "auto"
    models_dir: Path = Path("data") / "models"


READERS = ("merge", "rules", "llm")


@dataclass(frozen=True)
class AgentConfig:
    k: int = 5  # recommendations per reply
    # who reads a message's intent (READERS): "rules" (the LLM only writes text), "merge" (rules, with the
    # LLM filling what they leave open) or "llm" (the LLM alone; for measuring it). "rules" because on real
    # seekers' words (`chat-rec eval intents --set real`) the merge read genres, eras, unwanted genres and
    # liked titles with lower precision than the rules alone, and 15x slower
    reader: str = "rules"
    max_message_chars: int = MAX_QUERY_CHARS


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    reranker: RerankerConfig = field(default_factory=RerankerConfig)
    ranker: RankerConfig = field(default_factory=RankerConfig)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> Config:
        """Read ``CHATREC_*`` variables; keyword overrides (from CLI flags) win."""
        env = dict(os.environ if env is None else env)
        data = DataConfig()
        if env.get("CHATREC_DATA_DIR"):
            data = replace(data, root=Path(env["CHATREC_DATA_DIR"]))
        if env.get("CHATREC_SHARED_DATA"):
            data = replace(data, shared_dirs=tuple(Path(p) for p in env["CHATREC_SHARED_DATA"].split(os.pathsep) if p))
        if env.get("CHATREC_OFFLINE", "").lower() in {"1", "true", "yes"}:
            data = replace(data, allow_download=False)
        encoder = EncoderConfig(kind=env.get("CHATREC_ENCODER", "minilm"))
        index = IndexConfig(kind=env.get("CHATREC_INDEX", "auto"))
        if overrides.get("data_dir"):
            data = replace(data, root=Path(overrides["data_dir"]))
        if overrides.get("encoder"):
            encoder = replace(encoder, kind=overrides["encoder"])
        if overrides.get("index"):
            index = replace(index, kind=overrides["index"])
        llm = LLMConfig(
            kind=overrides.get("llm") or env.get("CHATREC_LLM", "local"),
            gguf=env.get("CHATREC_LLM_GGUF") or None,
            base_url=env.get("CHATREC_LLM_BASE_URL") or None,
            model=env.get("CHATREC_LLM_MODEL") or None,
            api_key=env.get("CHATREC_LLM_API_KEY") or env.get("OPENAI_API_KEY") or None,
            timeout=float(env.get("CHATREC_LLM_TIMEOUT", "20")),
            models_dir=data.root / "models",
        )
        # Models load from packages on disk; never reach a hub at run time.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        reranker = RerankerConfig(
            path=overrides.get("reranker") or env.get("CHATREC_RERANKER", "auto"), models_dir=data.root / "models"
        )
        ranker = RankerConfig(
            path=overrides.get("ranker") or env.get("CHATREC_RANKER", "auto"), models_dir=data.root / "models"
        )
        reader = overrides.get("reader") or env.get("CHATREC_READER", AgentConfig.reader)  # checked by build_agent
        return cls(
            data=data,
            encoder=encoder,
            index=index,
            llm=llm,
            reranker=reranker,
            ranker=ranker,
            agent=AgentConfig(reader=reader),
        )
