"""Fitting the fusion weights of the ranking signals (``chat-rec train ranker``).

Both heads are fitted by the same loss: a softmax over each case's candidates of ``w @ z(signals)``, the
case's positives as labels (``-mean log p(positive)``), L2 0.01, full-batch L-BFGS from zero
(deterministic). The signal matrices come from ``Agent.signals`` / ``Recommender.signal_matrix``: exactly
what the chat fuses.

* ``request`` head: recorded dialogues replayed through the agent (``replay``); a case is the session just
  before the recommender's first mention of a movie, that movie the positive. Two-fold cross-fitting:
  the dialogue statistics (popularity, co-mention) come from one half and the cases from the other, so
  the weights see the signals as they behave on dialogues the statistics have not seen.
* ``history`` head: a known user who asks for nothing; MovieLens-100K's train part (of the evaluation
  split of ``seed``) split again (``seed + 1``), the user's fit-part ratings as history, their held-out
  ratings >= 4 as positives, EASE and popularity fitted on the fit part.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from chat_rec.agent import Agent
from chat_rec.catalog import Catalog, Interactions
from chat_rec.datasets.dialogues import Dialogue
from chat_rec.datasets.splits import relevant_sets, split_per_user
from chat_rec.models.cf import EASE
from chat_rec.recommender.fusion import VERSION, FusionModel, TreeStage, tree_features
from chat_rec.recommender.intent import Intent
from chat_rec.recommender.pipeline import Recommender, UserState
from chat_rec.recommender.signals import NAMES
from chat_rec.training.replay import replay_all

L2 = 0.01
HISTORY_USERS = 400
#: Signals a catalog's own interactions cannot provide (dialogue corpora and external CF sources do).
CORPUS_ONLY = ("mentions", "year_pop", "comention", "asked", "asked_wide", "ext_pop", "ext_recent")
#: The tree stage: how many of the linear top it re-orders, LightGBM's settings, the number of trees and
#: the held-out share of the dialogues (for the keep-or-drop test).
TREE_TOP = 300
#: Chosen by 5-fold cross-validation over the training dialogues' cases (kepler_train_subset, by dialogue)
#: among 15/7/3 leaves, with and without bagging, 500-1500 trees: small trees on bagged rows and features
#: generalise best there (CV Recall@10/50 0.174/0.363 against the linear order's 0.158/0.336).
TREE_PARAMS = {
    "objective": "lambdarank",
    "learning_rate": 0.02,
    "num_leaves": 3,
    "min_data_in_leaf": 100,
    "lambda_l2": 1.0,
    "feature_fraction": 0.7,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambdarank_truncation_level": 60,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "verbose": -1,
}
TREE_ROUNDS, TREE_HELDOUT, TREE_MIN_CASES = 800, 0.2, 20
#: With many cases (the 4,600 training dialogues' 13,694 ReDial cases), larger trees learn faster and further:
#: chosen by cross-validation over those dialogues' cases (two of five folds by dialogue, the linear weights
#: fixed) among 3/7/15/31 leaves, 300-1500 trees, a linear top of 300 or 600 and LambdaRank or XE-NDCG:
#: 15 leaves, rate 0.05, 600 trees had R@10/R@50 0.2368/0.4656 against the small trees' 0.2360/0.4579 and the
#: linear order's 0.2278/0.4428 (``docs/redial.md``). Below ``LARGE_TREE_CASES`` the small trees stay.
LARGE_TREE_CASES = 5_000
LARGE_TREE_PARAMS = {**TREE_PARAMS, "num_leaves": 15, "learning_rate": 0.05, "min_data_in_leaf": 200}
LARGE_TREE_ROUNDS = 600


def tree_settings(n_cases: int) -> tuple[dict, int]:
    """LightGBM's settings and the number of trees for a tree stage fitted on ``n_cases`` cases."""
    return (LARGE_TREE_PARAMS, LARGE_TREE_ROUNDS) if n_cases >= LARGE_TREE_CASES else (TREE_PARAMS, TREE_ROUNDS)


@dataclass
class FitCase:
    Z: np.ndarray  # (len(NAMES), n candidates) float32, standardised
    positives: np.ndarray  # indices into the candidates
    dialogue: str = ""  # where the case comes from (held-out parts are whole dialogues)


def collect_dialogue_cases(
    agent: Agent,
    dialogues: Sequence[Dialogue],
    *,
    questionnaire: bool = True,
    progress: bool = True,
    desc: str = "replay",
    dtype=np.float32,
) -> tuple[list[FitCase], int]:
    """Fitting cases from replayed dialogues, and how many targets the chat's filters had already removed.
    ``dtype``: how each case's signals are kept (``float16`` halves the memory of thousands of dialogues)."""
    cases, missed = [], 0
    for case, session in tqdm(
        replay_all(agent, dialogues, questionnaire=questionnaire), desc=desc, disable=not progress, unit="case"
    ):
        cand, Z, _ = agent.signals(session)
        j = int(np.searchsorted(cand, case.target))
        if j < len(cand) and cand[j] == case.target:
            cases.append(FitCase(Z.astype(dtype, copy=False), np.array([j]), case.dialogue))
        else:
            missed += 1
    return cases, missed


#: Above this many padded cells (cases x signals x widest candidate list) the linear fit samples each case's
#: negatives (``SAMPLED_NEGATIVES`` of them, uniformly, seeded) with the log-Q correction: thousands of dialogues
#: over a catalog of thousands would otherwise need tens of GB.
FULL_BATCH_CELLS = 300_000_000
SAMPLED_NEGATIVES = 1000


def fit_weights(
    cases: Sequence[FitCase], names: Sequence[str] = NAMES, l2: float = L2, max_iter: int = 100
) -> dict[str, float]:
    """Weights of ``names`` (the others 0) by the multi-positive softmax over each case's candidates.

    When the full batch would exceed ``FULL_BATCH_CELLS``, each case keeps its positives and a uniform sample of
    ``SAMPLED_NEGATIVES`` negatives (seed 0), whose logits get ``log(negatives / sampled)`` added: the sampled
    softmax's estimate of the same loss."""
    import torch

    if not cases:
        raise ValueError("no fitting cases")
    use = [NAMES.index(n) for n in names]
    width = max(c.Z.shape[1] for c in cases)
    sample = len(cases) * len(use) * width > FULL_BATCH_CELLS
    rng = np.random.default_rng(0)
    if sample:
        width = min(width, SAMPLED_NEGATIVES + max(len(c.positives) for c in cases))
    Z = torch.zeros(len(cases), len(use), width)
    pad = torch.ones(len(cases), width, dtype=torch.bool)
    pos = torch.zeros(len(cases), width)
    shift = torch.zeros(len(cases), width)
    for i, c in enumerate(cases):
        n = c.Z.shape[1]
        cols, positives = np.arange(n), np.asarray(c.positives, dtype=np.int64)
        if sample and n - len(positives) > SAMPLED_NEGATIVES:
            negatives = np.setdiff1d(cols, positives)
            kept = np.sort(rng.choice(negatives, SAMPLED_NEGATIVES, replace=False))
            cols = np.concatenate([positives, kept])
            shift[i, len(positives) : len(cols)] = float(np.log(len(negatives) / SAMPLED_NEGATIVES))
            positives = np.arange(len(c.positives))
        Z[i, :, : len(cols)] = torch.from_numpy(np.ascontiguousarray(c.Z[np.ix_(use, cols)], dtype=np.float32))
        pad[i, : len(cols)] = False
        pos[i, torch.as_tensor(positives, dtype=torch.long)] = 1.0 / len(positives)
    w = torch.zeros(len(use), requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        s = torch.einsum("csn,s->cn", Z, w)
        logits = (s + shift).masked_fill(pad, -1e9)
        loss = (torch.logsumexp(logits, dim=1) - (s * pos).sum(dim=1)).mean() + l2 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return {name: round(float(v), 4) for name, v in zip(names, w.detach().numpy())}


def tree_groups(
    cases: Sequence[FitCase], weights: dict[str, float], names: Sequence[str], top: int = TREE_TOP
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per case, the tree stage's features over the linear top ``top`` and the labels (1 at a positive)."""
    w, out = FusionModel({"head": weights}).vector("head").astype(np.float64), []
    for c in cases:
        s = w @ c.Z
        order = np.argsort(-s, kind="stable")[:top]
        Z = c.Z[:, order].astype(np.float32, copy=False)
        out.append((tree_features(Z, s[order], tuple(names)), np.isin(order, c.positives).astype(np.float64)))
    return out


def _recall(scores: Sequence[np.ndarray], labels: Sequence[np.ndarray], k: int) -> float:
    return (
        float(np.mean([bool(y[np.argsort(-p, kind="stable")[:k]].any()) for p, y in zip(scores, labels)]))
        if labels
        else 0.0
    )


def fit_tree(
    cases: Sequence[FitCase],
    weights: dict[str, float],
    names: Sequence[str] | None = None,
    *,
    top: int = TREE_TOP,
    seed: int = 0,
    catalog: str | None = None,
    progress: bool = True,
) -> tuple[TreeStage | None, dict]:
    """The tree stage of a head whose linear ``weights`` were fitted on ``cases``: LambdaRank (LightGBM)
    over each case's linear top ``top`` (``tree_settings``: small trees, larger ones on many cases). A seeded
    fifth of the dialogues is held out: the tree is kept (refitted on every case) only when its held-out
    Recall@10 beats the linear order's, else None. ``catalog``: the cases' catalog, the only one the tree will serve.
    Cases whose positive is outside the linear top count as misses for both."""
    import lightgbm

    names = tuple(names or [n for n in NAMES if weights.get(n, 0.0)])
    ids = sorted({c.dialogue for c in cases})
    held_ids = set(np.random.default_rng(seed).permutation(ids)[: max(1, int(len(ids) * TREE_HELDOUT))].tolist())
    groups = tree_groups(cases, weights, names, top)
    held = [g for g, c in zip(groups, cases) if c.dialogue in held_ids]
    fit = [g for g, c in zip(groups, cases) if c.dialogue not in held_ids]

    def dataset(gs, reference=None):
        gs = [g for g in gs if g[1].any()]
        return lightgbm.Dataset(
            np.vstack([g[0] for g in gs]),
            np.concatenate([g[1] for g in gs]),
            group=[len(g[1]) for g in gs],
            reference=reference,
            free_raw_data=False,
        )

    linear_only = {
        "top": top,
        "signals": list(names),
        "kept": False,
        "cases": {"fit": len(fit), "heldout": len(held)},
        "heldout": {"linear": {}, "tree": {}},
    }
    if sum(g[1].any() for g in fit) < TREE_MIN_CASES or not any(g[1].any() for g in held):
        return None, {**linear_only, "why": f"fewer than {TREE_MIN_CASES} fitting cases with the positive in the top"}
    base, rounds = tree_settings(len(cases))
    params = dict(base, seed=seed)
    callbacks = [lightgbm.log_evaluation(200)] if progress else []
    train_set = dataset(fit)
    booster = lightgbm.train(
        dict(params, metric="ndcg", eval_at=[10, 50]),
        train_set,
        rounds,
        valid_sets=[dataset(held, train_set)],
        valid_names=["held-out"],
        callbacks=callbacks,
    )
    labels = [g[1] for g in held]
    linear = [-np.arange(len(g[1]), dtype=np.float64) for g in held]
    tree = [booster.predict(g[0]) for g in held]
    meta = {
        "top": top,
        "rounds": rounds,
        "signals": list(names),
        "params": params,
        "seed": seed,
        "catalog": catalog,
        "cases": {"fit": len(fit), "heldout": len(held)},
        "heldout_dialogues": len(held_ids),
        "heldout": {
            "linear": {f"recall@{k}": round(_recall(linear, labels, k), 4) for k in (10, 50)},
            "tree": {f"recall@{k}": round(_recall(tree, labels, k), 4) for k in (10, 50)},
        },
    }
    meta["kept"] = meta["heldout"]["tree"]["recall@10"] > meta["heldout"]["linear"]["recall@10"]
    if not meta["kept"]:
        return None, meta
    final = lightgbm.train(params, dataset(groups), rounds)
    return TreeStage(names, top, final.model_to_string(), meta), meta


def request_cases(
    make_agent: Callable[[Sequence[Dialogue]], Agent],
    dialogues: Sequence[Dialogue],
    *,
    progress: bool = True,
    dtype=np.float32,
) -> tuple[list[FitCase], dict]:
    """Fitting cases of the ``request`` head from training dialogues, two-fold cross-fitted.
    ``make_agent(stats_dialogues)`` builds a rules-only agent whose dialogue statistics come from those."""
    half = len(dialogues) // 2
    cases, missed = [], 0
    for k, (stats, part) in enumerate(((dialogues[:half], dialogues[half:]), (dialogues[half:], dialogues[:half]))):
        got, miss = collect_dialogue_cases(
            make_agent(stats),
            part,
            progress=progress,
            desc=f"replay fold {k + 1}/2",
            dtype=dtype,
        )
        cases += got
        missed += miss
    return cases, {"cases": len(cases), "targets_filtered_out": missed, "dialogues": len(dialogues)}


def fit_history_head(
    catalog: Catalog,
    train: Interactions,
    make_recommender: Callable[[Interactions, EASE], Recommender],
    seed: int = 0,
    n_users: int = HISTORY_USERS,
    names: Sequence[str] = NAMES,
    progress: bool = True,
) -> tuple[dict[str, float], dict]:
    """The ``history`` head from a train part: users' fit-part history, their held-out ratings >= 4."""
    val = split_per_user(train, seed + 1)
    fit = train.subset(~val)
    relevant = relevant_sets(train, val)
    users = sorted(relevant)
    users = sorted(np.random.default_rng(seed).choice(users, size=min(n_users, len(users)), replace=False).tolist())
    rec = make_recommender(fit, EASE(100.0, "rating").fit(fit))
    cases = []
    for u in tqdm(users, desc="history cases", disable=not progress, unit="user"):
        mask = fit.user_rows == u
        state = UserState(history_rows=fit.item_rows[mask].tolist(), history_ratings=fit.ratings[mask].tolist())
        cand, Z, _ = rec.signal_matrix(Intent(), state)
        positives = np.flatnonzero(np.isin(cand, list(relevant[u])))
        if len(positives):
            cases.append(FitCase(Z, positives))
    weights = fit_weights(cases, names)
    return weights, {"cases": len(cases), "users": len(users), "signals": list(names), "seed": seed}


def data_name(path: Path, roots: Sequence[Path] = ()) -> str:
    """A data file's name as anyone can find it again: relative to the team data folder it came from (``redial/
    kepler_train_subset.jsonl``), else to the working folder, else its file name; never one machine's path."""
    path = Path(path).resolve()
    for base in [*roots, Path.cwd()]:
        try:
            return path.relative_to(Path(base).resolve()).as_posix()
        except ValueError:
            continue
    return path.name


def file_digest(path: Path, roots: Sequence[Path] = ()) -> dict:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return {"path": data_name(path, roots), "sha256": h.hexdigest()}


def git_commit() -> str | None:
    """The checkout's commit (``+dirty`` when it has uncommitted changes to tracked files), or None outside git."""
    import subprocess

    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "") if head else None


def artifact(
    heads: dict[str, dict[str, float]],
    fitting: dict,
    files: Sequence[Path],
    seed: int,
    command: str = "",
    trees: dict[str, TreeStage] | None = None,
    roots: Sequence[Path] = (),
    git: str | None = None,
) -> FusionModel:
    """The versioned artifact with its provenance: the command, the git commit, and each data file by its name
    relative to ``roots`` (the team data folders) with its sha256."""
    meta = {
        "fitted": True,
        "version": VERSION,
        "seed": seed,
        "command": command or " ".join(["chat-rec"] + sys.argv[1:]),
        "git": git or git_commit(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "files": [file_digest(Path(f), roots) for f in files if Path(f).is_file()],
        "fitting": fitting,
        "formula": "score = w[head] . z(signals over the candidates); head = history for a known user "
        "asking for nothing, else request; a head's tree stage re-orders its linear top",
    }
    return FusionModel(heads, meta, "", dict(trees or {}))
