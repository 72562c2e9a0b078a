"""Shared fixtures: tiny catalogs written by the tests, and the team data folder when present."""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from chat_rec.catalog import Catalog, Item, build_interactions

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CHATREC_SHARED_DATA", REPO.parent / "shared" / "data"))
ML100K = SHARED_DATA / "ml-100k"
#: the test slice, written in the ML-100K format at test time: 398 films (tests/data/slice_films.tsv), synthetic
#: users and ratings (tests/data/make_slice.py); no file in the dataset's format is committed
sys.path.insert(0, str(REPO / "tests" / "data"))
from make_slice import write_slice  # noqa: E402


def require_shared(*parts: str) -> Path:
    """Skip with the path named when the team data (never committed: licences) is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (team data folder ../shared/data, absent here)")
    return path


@pytest.fixture
def ml100k_dir() -> Path:
    return require_shared("ml-100k")


@pytest.fixture(scope="session")
def minilm():
    from chat_rec.models.encoder import SentenceTransformerEncoder

    return SentenceTransformerEncoder()


@pytest.fixture(scope="session")
def ml_parts(tmp_path_factory, minilm):
    """MovieLens-100K (team data folder) with the real encoder and FAISS index, built once per run; on a clone
    without the team data, the committed slice (``source`` says which). ``recommender`` is the served ranking core
    (``build_agent``: the packaged fitted fusion, rating-weighted EASE); ``served_agent`` the factory of the
    ``served_agent`` fixture."""
    from chat_rec.assemble import build_agent
    from chat_rec.config import DataConfig
    from chat_rec.datasets import load_dataset
    from chat_rec.models.index import build_item_index
    from chat_rec.recommender.feedback import MemoryStore

    root = tmp_path_factory.mktemp("data")
    if ML100K.is_dir():
        source, data = "ml-100k", DataConfig(root=root, shared_dirs=(ML100K.parent,), allow_download=False)
    else:
        write_slice(root / "ml-100k")
        source, data = "slice", DataConfig(root=root, shared_dirs=(), allow_download=False)
    catalog, interactions = load_dataset(data)
    built = build_item_index(catalog, minilm, data, show_progress=False)
    # the ranking core as the chat serves it (``served_config``: the packaged fitted fusion), shared by the tests
    agent = build_agent(
        served_config(data), llm_kind="none", encoder=minilm, dataset=(catalog, interactions), store=MemoryStore()
    )
    parts = {
        "catalog": catalog,
        "interactions": interactions,
        "built": built,
        "data": data,
        "recommender": agent.rec,
        "source": source,
    }
    parts["served_agent"] = served_agents(parts, agent, minilm)  # the ``served_agent`` fixture
    return parts


def served_config(data, agent=None):
    """The Config ``app.py`` builds from the environment, on the test data root: the fusion is the packaged
    artifact named explicitly (``chat_rec/recommender/ranker.json``), so a developer's ``data/models/ranker.json``
    cannot change what the tests see; the feedback store is in memory."""
    from chat_rec.config import AgentConfig, Config, LLMConfig, RankerConfig, RerankerConfig
    from chat_rec.recommender.fusion import PACKAGED

    models = data.root / "models"
    return Config(
        data=data,
        llm=LLMConfig(kind="none", models_dir=models),
        reranker=RerankerConfig(models_dir=models),
        ranker=RankerConfig(path=str(PACKAGED), models_dir=models),
        agent=agent or AgentConfig(),
        store="memory",
    )


def served_agents(parts: dict, served, encoder):
    """The factory behind the ``served_agent`` fixture; ``served``: the agent built for ``parts``."""
    from chat_rec.assemble import build_agent
    from chat_rec.config import AgentConfig
    from chat_rec.recommender.feedback import MemoryStore

    built = {id(parts["interactions"]): (parts["interactions"], served)}

    def make(config=None, store=None, interactions=None, fresh=False):
        config = config or AgentConfig()
        interactions = parts["interactions"] if interactions is None else interactions
        key = id(interactions)
        if fresh or key not in built:
            agent = build_agent(
                served_config(parts["data"], config),
                llm_kind="none",
                encoder=encoder,
                dataset=(parts["catalog"], interactions),
                store=store or MemoryStore(),
            )
            if fresh:
                return agent
            built[key] = (interactions, agent)  # the interactions kept alive: their id stays theirs
        agent = copy.copy(built[key][1])
        agent.config, agent.store, agent.store_notice, agent.llm = config, store or MemoryStore(), None, None
        return agent

    return make


@pytest.fixture(scope="session")
def served_agent(ml_parts):
    """The chat as ``app.py`` serves it, on the test catalog: ``served_agent(config=None, store=None,
    interactions=None, fresh=False)`` returns an agent made by ``chat_rec.assemble.build_agent`` with the packaged
    fitted fusion (``served_config``), the real MiniLM encoder, FAISS and rating-weighted EASE, and no language model
    (a test that needs one attaches it: ``agent.llm = LLMHelper(...)``). Also ``ml_parts["served_agent"]``.

    ``config``: the ``AgentConfig`` (the served default when None); ``store``: the feedback store (a new
    ``MemoryStore`` when None); ``interactions``: other ratings (a train split) for the CF, the history and the
    popularity, built once per run; ``fresh``: a ranking core of its own, for a test that changes it (its encoder,
    re-ranker or fusion). Otherwise the agents share one ranking core, as the served chat's sessions do, each with
    its own config and store."""
    return ml_parts["served_agent"]


@pytest.fixture(scope="session")
def redial_agent(tmp_path_factory, minilm):
    """The chat ``CHATREC_CATALOG=redial`` serves on a fresh clone (``build_agent``: the packaged ReDial catalog,
    corpus and ranker; no team data), rules only, the real MiniLM and FAISS; built once per run. Its data root
    (``redial_agent.data_root``) holds the index, for CLI tests that reuse it."""
    from chat_rec.assemble import build_agent
    from chat_rec.config import Config, DataConfig, LLMConfig, RankerConfig, RerankerConfig
    from chat_rec.recommender.feedback import MemoryStore

    data = DataConfig(root=tmp_path_factory.mktemp("redial"), shared_dirs=(), allow_download=False, catalog="redial")
    models = data.root / "models"
    cfg = Config(
        data=data,
        llm=LLMConfig(kind="none", models_dir=models),
        reranker=RerankerConfig(models_dir=models),
        ranker=RankerConfig(models_dir=models),
        store="memory",
    )
    agent = build_agent(cfg, llm_kind="none", encoder=minilm, store=MemoryStore())
    agent.data_root = data.root
    return agent


def require_full_movielens(ml_parts) -> None:
    """Skip a test whose expectations hold for the full ML-100K (its ratings, its 1,682 films) only."""
    if ml_parts["source"] != "ml-100k":
        pytest.skip(f"needs the full MovieLens-100K ({ML100K}); this clone has the committed slice only")


@pytest.fixture
def tiny_catalog() -> Catalog:
    items = [
        Item(1, "Alien (1979)", 1979, ("Horror", "Sci-Fi"), "A spaceship crew is hunted by a deadly creature."),
        Item(2, "Aliens (1986)", 1986, ("Action", "Horror", "Sci-Fi"), "Marines fight creatures on a distant colony."),
        Item(3, "Toy Story (1995)", 1995, ("Animation", "Children's", "Comedy"), "Toys come to life."),
        Item(4, "Fargo (1996)", 1996, ("Crime", "Drama", "Thriller"), "A pregnant police chief investigates murders."),
        Item(5, "Sound of Music, The (1965)", 1965, ("Musical",), "A governess sings with a family in Austria."),
        Item(6, "Shining, The (1980)", 1980, ("Horror",), "A writer goes mad in an isolated hotel."),
        Item(7, "Airplane! (1980)", 1980, ("Comedy",), "A spoof of disaster movies on a doomed flight."),
        Item(8, "unknown", None, ("unknown",)),
    ]
    return Catalog("tiny", items)


@pytest.fixture
def block_interactions(tiny_catalog):
    """Two taste groups: users 1-6 rate {1,2,6} (horror), users 7-12 rate {3,7} (comedy); ratings 5."""
    rows = []
    for user in range(1, 7):
        rows += [(user, i, 5.0, 0) for i in (1, 2, 6)]
    for user in range(7, 13):
        rows += [(user, i, 5.0, 0) for i in (3, 7)]
    return build_interactions(tiny_catalog, rows)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def tiny_recommender(tiny_catalog, block_interactions):
    """The ranking core on the tiny catalog with fakes: hash encoder, exact index, EASE, for fast unit tests of one
    component (the agent's mechanics, the UI's rendering, the feedback store, the fusion's code). It ranks on the
    hand-set ``DEFAULT_WEIGHTS`` on purpose: the fitted fusion's weights were fitted on MiniLM's signals over real
    catalogs and mean nothing on hash vectors over 8 films. A test of what the chat does uses ``served_agent``."""
    from chat_rec.models.cf import EASE
    from chat_rec.models.encoder import HashEncoder
    from chat_rec.models.index import ExactIndex
    from chat_rec.recommender.pipeline import Recommender

    enc = HashEncoder(64)
    vectors = enc.encode(tiny_catalog.texts())
    return Recommender(
        tiny_catalog,
        ExactIndex(tiny_catalog, vectors),
        vectors,
        enc,
        EASE(1.0, "rating").fit(block_interactions),
        block_interactions,
    )


@pytest.fixture(scope="session")
def quick_reranker(tmp_path_factory, ml_parts):
    """`chat-rec train reranker --quick` on MovieLens-100K (about a minute), as a loaded reranker."""
    from chat_rec.training.reranker import train_reranker

    path = tmp_path_factory.mktemp("models") / "reranker-quick.pt"
    lines: list[str] = []
    # the quick settings, without their 3-minute budget: a busy machine must not stop it early (no timing in tests)
    reranker = train_reranker(
        ml_parts["catalog"],
        ml_parts["interactions"],
        path,
        quick=True,
        progress=False,
        log=lines.append,
        max_minutes=60.0,
    )
    reranker.path, reranker.log_lines = path, lines
    return reranker
