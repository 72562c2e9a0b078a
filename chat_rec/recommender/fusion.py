"""The learned fusion of the ranking signals: a small, versioned JSON artifact with its provenance.

The heads, chosen per request by ``head_for``:

* ``request``: the person said something to rank by (genres, a mood, keywords, an era, titles, words);
  fitted on training dialogues replayed through the agent (``chat-rec train ranker``);
* ``history``: a known user who gives no request; fitted on the MovieLens-100K train part;
* ``feedback`` (optional): a request once the person has given 👍/👎 in the session. It starts from the
  ``request`` weights and adds the ``feedback`` signal; its weights and the signal's threshold are fitted on
  simulated people who give feedback (replayed dialogues carry none): ``chat-rec train feedback``. It has
  no tree stage. Without it, feedback reaches the ``request`` head through ``user``.

The score of a candidate is ``w[head] @ z(signals)``. A signal whose fitted weight is 0 is not computed.
A head may also carry a **tree stage** (``TreeStage``): a LambdaRank model (LightGBM) that re-orders the
linear top ``top`` from the same standardised signals plus the linear score and rank; it is fitted on the
same cases and kept only when it beats the linear order on held-out dialogues (``training.ranker.fit_tree``).
``chat-rec train ranker`` writes ``data/models/ranker.json``; the package ships the one fitted by the
team (``chat_rec/recommender/ranker.json``) so a fresh install ranks with fitted weights; when neither
can be read the chat ranks on ``DEFAULT_WEIGHTS`` (hand-set, documented here) and says so.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chat_rec.errors import ChatRecError
from chat_rec.files import write_json
from chat_rec.recommender.signals import NAMES

log = logging.getLogger(__name__)

#: The BERT context re-ranker's score: an input of the fusion like the signals, but computed only for the
#: linear top ``Recommender.rerank_top`` and only when a head gives it a weight.
RERANKER = "reranker"
WEIGHT_NAMES = NAMES + (RERANKER,)

VERSION = 1
HEADS = ("request", "history", "feedback")
PACKAGED = Path(__file__).with_name("ranker.json")

#: The hand-set fallback (and the "hand-set defaults" ablation row of the evaluations).
DEFAULT_WEIGHTS: dict[str, dict[str, float]] = {
    "request": {
        "sem": 1.0,
        "words": 0.3,
        "ref_max": 1.0,
        "ref_mean": 0.5,
        "cf": 0.7,
        "pop": 0.25,
        "genre": 0.3,
        "era": 0.3,
        "mood": 0.25,
        "unwanted_keyword": -0.6,
        "disliked": -0.3,
        "user": 1.0,
    },
    "history": {"cf": 1.5, "pop": 0.25, "user": 1.0},
}


class RankerUnavailable(ChatRecError):
    """The fusion artifact is missing, unreadable or of another version."""


class TreeUnavailable(RankerUnavailable):
    """The linear weights loaded but a tree stage did not; ``model`` is the artifact without its trees."""

    def __init__(self, message: str, model: FusionModel):
        super().__init__(message)
        self.model = model


@dataclass
class TreeStage:
    """LightGBM LambdaRank over the linear top ``top``; features ``tree_features`` of the ``names`` signals."""

    names: tuple[str, ...]
    top: int
    model: str  # LightGBM's text dump
    meta: dict = field(default_factory=dict)
    _booster: object = field(default=None, repr=False, compare=False)

    @property
    def booster(self):
        if self._booster is None:
            import lightgbm

            self._booster = lightgbm.Booster(model_str=self.model)
        return self._booster

    def scores(self, Z: np.ndarray, linear: np.ndarray) -> np.ndarray:
        """Tree scores of candidates given their standardised signals (``NAMES`` rows) and linear scores,
        ordered by the linear score (best first)."""
        return self.booster.predict(tree_features(Z, linear, self.names), num_threads=1)

    def serves(self, catalog: str | None) -> bool:
        """Only on the catalog it was fitted and validated on (``meta["catalog"]``): a tree learns the shape
        of one catalog's signals and does not transfer (on MovieLens-100K the ReDial-fitted tree lowered the
        simulator's first-turn hit@10 from 0.56 to 0.49), where the linear weights do."""
        return catalog is None or self.meta.get("catalog") in (None, catalog)

    def to_json(self) -> dict:
        return {"names": list(self.names), "top": self.top, "model": self.model, "meta": self.meta}


def tree_features(Z: np.ndarray, linear: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """``(n, len(names) + 3)``: the ``names`` signals (rows of ``Z``, ``NAMES`` order), the linear score, its gap
    to the best and the linear rank; the columns are the linear top, best first."""
    rows = [NAMES.index(n) for n in names]
    linear = np.asarray(linear, dtype=np.float64)
    return (
        np.column_stack(
            [
                np.asarray(Z, dtype=np.float64)[rows].T,
                linear,
                linear - linear[0],
                np.arange(len(linear), dtype=np.float64),
            ]
        )
        if len(linear)
        else np.zeros((0, len(rows) + 3))
    )


def stage_scores(fusion: FusionModel, head: str, Z: np.ndarray, catalog: str | None = None) -> np.ndarray:
    """The fused score of every candidate: ``w @ Z``, then the head's tree stage (if any, and if it was
    fitted on ``catalog``: ``TreeStage.serves``) re-orders the linear top; those stay above the rest. The
    chat, the fitting of the re-ranker and the evaluations all score through this."""
    fused = fusion.vector(head).astype(np.float64) @ Z
    tree = fusion.trees.get(head)
    if tree is None or len(fused) < 2 or not tree.serves(catalog):
        return fused
    top = np.argsort(-fused, kind="stable")[: tree.top]
    p = tree.scores(Z[:, top], fused[top])
    fused = fused.copy()
    fused[top] = fused[top[-1]] + 1e-6 + (p - p.min())
    return fused


@dataclass
class FusionModel:
    heads: dict[str, dict[str, float]]
    meta: dict = field(default_factory=dict)
    path: str = ""
    trees: dict[str, TreeStage] = field(default_factory=dict)

    def vector(self, head: str) -> np.ndarray:
        weights = self.heads.get(head) or {}
        return np.array([float(weights.get(name, 0.0)) for name in NAMES], dtype=np.float32)

    def weight(self, head: str, name: str) -> float:
        return float((self.heads.get(head) or {}).get(name, 0.0))

    def active(self, head: str) -> tuple[str, ...]:
        """The signals this head uses (non-zero weight): the only ones computed."""
        return tuple(name for name in NAMES if (self.heads.get(head) or {}).get(name, 0.0) != 0.0)

    @property
    def fitted(self) -> bool:
        return bool(self.meta.get("fitted"))

    def to_json(self) -> dict:
        out = {
            "version": VERSION,
            "heads": {h: {k: v for k, v in w.items() if v != 0.0} for h, w in self.heads.items()},
            "meta": self.meta,
        }
        if self.trees:
            out["trees"] = {h: t.to_json() for h, t in self.trees.items()}
        return out

    def without_trees(self) -> FusionModel:
        return FusionModel({h: dict(w) for h, w in self.heads.items()}, dict(self.meta), self.path)

    def save(self, path: Path) -> Path:
        return write_json(path, self.to_json(), indent=1)

    @classmethod
    def load(cls, path: Path) -> FusionModel:
        path = Path(path)
        if not path.is_file():
            raise RankerUnavailable(f"no fitted ranker at {path}; run `chat-rec train ranker` to fit it again")
        # the file is there but damaged: fitting it again replaces it; without it the next choice is used
        fix = (
            "run `chat-rec train ranker` to fit one in data/models, or reinstall chat-rec"
            if path.resolve() == PACKAGED.resolve()
            else "run `chat-rec train ranker` to fit it again, or delete the file"
        )
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise RankerUnavailable(f"fitted ranker {path} is unreadable ({exc.__class__.__name__}); {fix}") from None
        if not isinstance(raw, dict) or raw.get("version") != VERSION or not isinstance(raw.get("heads"), dict):
            raise RankerUnavailable(f"{path} is not a version-{VERSION} chat-rec ranker; {fix}")
        if not raw["heads"]:
            raise RankerUnavailable(f"{path}: no heads (no weights to rank with); {fix}")
        if not isinstance(raw.get("meta") or {}, dict) or not isinstance(raw.get("trees") or {}, dict):
            raise RankerUnavailable(f"{path}: 'meta' and 'trees' must be objects; {fix}")
        heads = {}
        for head, weights in raw["heads"].items():
            if head not in HEADS or not isinstance(weights, dict):
                raise RankerUnavailable(f"{path}: unknown head {head!r}; {fix}")
            unknown = sorted(set(weights) - set(WEIGHT_NAMES))
            if unknown:
                raise RankerUnavailable(f"{path}: unknown signals {unknown}; {fix}")
            try:
                heads[head] = {k: float(v) for k, v in weights.items()}
            except (TypeError, ValueError):
                raise RankerUnavailable(f"{path}: weights must be numbers; {fix}") from None
            if not all(np.isfinite(list(heads[head].values()) or [0.0])):
                raise RankerUnavailable(f"{path}: weights must be finite; {fix}")
        model = cls(heads, dict(raw.get("meta") or {}), str(path))
        for head, t in (raw.get("trees") or {}).items():
            try:
                names = tuple(t["names"])
                if head not in heads or set(names) - set(NAMES) or not isinstance(t["model"], str):
                    raise ValueError(head)
                model.trees[head] = TreeStage(names, int(t["top"]), t["model"], dict(t.get("meta") or {}))
                _ = model.trees[head].booster  # parse now: a corrupt model is found at load, not mid-turn
            except ImportError:
                # lightgbm is an extra (`pip install 'chat-rec[train]'`): without it the linear stage serves. The
                # tree serves only the catalog it was fitted on (ReDial's), so the default chat loses nothing: info
                log.info(
                    "lightgbm is not installed: the tree stage of head %r (fitted for the %s catalog) is left out",
                    head,
                    (t.get("meta") or {}).get("catalog", "ReDial"),
                )
                model.trees.pop(head, None)
            except Exception as exc:
                raise TreeUnavailable(
                    f"the tree stage of head {head!r} in {path} is unreadable ({exc.__class__.__name__}); {fix}",
                    model.without_trees(),
                ) from None
        return model


def describe(fusion: FusionModel) -> str:
    """One line naming the ranker that serves: the packaged fitted weights, a local refit (which then overrides
    the packaged ones), another file, or the hand-set defaults; with the git commit and date it was fitted at."""
    if not fusion.fitted:
        return "hand-set default weights (no fitted ranker could be read)"
    meta = fusion.meta
    when = " ".join(x for x in (str(meta.get("git") or "")[:12], str(meta.get("created") or "")[:10]) if x)
    when = f" (fitted {when})" if when else ""
    path = Path(fusion.path) if fusion.path else None
    if path is None or path.resolve() == PACKAGED.resolve():
        return f"the packaged fitted weights{when}"
    if path.resolve() == PACKAGED.with_name(ranker_name("redial")).resolve():
        return (
            f"the packaged ReDial-catalog weights{when}: fitted on real dialogues; CF from the films ReDial seekers "
            "liked together (no MovieLens ratings)"
        )
    if path.name in ("ranker.json", ranker_name("redial")) and path.parent.name == "models":
        return f"your refit {path}{when}, used instead of the packaged weights (delete it to serve those)"
    return f"{path}{when}"


def defaults() -> FusionModel:
    return FusionModel(
        {h: dict(w) for h, w in DEFAULT_WEIGHTS.items()}, {"fitted": False, "source": "hand-set defaults"}
    )


def with_reranker(weight: float, base: FusionModel | None = None) -> FusionModel:
    """``base`` (the hand-set defaults when None) with the re-ranker's score added at ``weight`` to both
    heads: for trying a re-ranker checkpoint in the chat (``chat-rec explain``, tests)."""
    base = base or defaults()
    return FusionModel(
        {h: {**w, RERANKER: weight} for h, w in base.heads.items()}, dict(base.meta), base.path, dict(base.trees)
    )


def ranker_name(catalog: str | None = None) -> str:
    """The fitted ranker's file name for a catalog: ``ranker.json`` (MovieLens-100K and any catalog without one
    of its own), ``ranker-redial.json`` for the packaged ReDial catalog."""
    return "ranker-redial.json" if catalog == "redial" else "ranker.json"


def load_fusion(
    path: str | Path | None = "auto", models_dir: Path = Path("data") / "models", catalog: str | None = None
) -> tuple[FusionModel, str | None]:
    """The fusion to serve and a one-line notice when it had to fall back to the hand-set defaults.

    ``path``: ``auto`` (``models_dir/<ranker_name(catalog)>`` when present, else the packaged artifact of that
    name), a file, or ``defaults`` (the hand-set weights, on purpose: no notice)."""
    if path == "defaults":
        return defaults(), None
    if path in (None, "auto"):
        name = ranker_name(catalog)
        local = Path(models_dir) / name
        path = local if local.exists() else PACKAGED.with_name(name)
    try:
        return FusionModel.load(Path(path)), None
    except TreeUnavailable as exc:
        log.warning("%s", exc)
        return exc.model, f"ranking on the fitted weights without their tree stage ({exc})"
    except RankerUnavailable as exc:
        log.warning("%s", exc)
        return defaults(), f"ranking on hand-set default weights ({exc})"
    except Exception as exc:  # whatever a damaged file raises, the chat ranks on the defaults and says so
        log.warning("fitted ranker %s cannot be loaded", path, exc_info=True)
        return defaults(), (
            f"ranking on hand-set default weights (fitted ranker {path} cannot be loaded: {exc.__class__.__name__}; "
            "run `chat-rec train ranker` to fit it again, or delete the file)"
        )
