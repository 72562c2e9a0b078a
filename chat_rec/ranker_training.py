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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from .agent import Agent
from .catalog import Catalog, Interactions
from .datasets.dialogues import Dialogue
from .datasets.splits import relevant_sets, split_per_user
from .models.cf import EASE
from .recommender.fusion import VERSION, FusionModel
from .recommender.intent import Intent
from .recommender.pipeline import Recommender, UserState
from .recommender.signals import NAMES
from .replay import replay_all

L2 = 0.01
HISTORY_USERS = 400
#: Signals a catalog's own interactions cannot provide (dialogue corpora and external CF sources do).
CORPUS_ONLY = ("mentions", "year_pop", "comention", "ext_pop", "ext_recent")


@dataclass
class FitCase:
    Z: np.ndarray            # (len(NAMES), n candidates) float32, standardised
    positives: np.ndarray    # indices into the candidates


def collect_dialogue_cases(agent: Agent, dialogues: Sequence[Dialogue], *, questionnaire: bool = True,
                           progress: bool = True, desc: str = "replay") -> tuple[list[FitCase], int]:
    """Fitting cases from replayed dialogues, and how many targets the chat's filters had already removed."""
    cases, missed = [], 0
    for case, session in tqdm(replay_all(agent, dialogues, questionnaire=questionnaire), desc=desc,
                              disable=not progress, unit="case"):
        cand, Z, _ = agent.signals(session)
        j = int(np.searchsorted(cand, case.target))
        if j < len(cand) and cand[j] == case.target:
            cases.append(FitCase(Z, np.array([j])))
        else:
            missed += 1
    return cases, missed


def fit_weights(cases: Sequence[FitCase], names: Sequence[str] = NAMES, l2: float = L2, max_iter: int = 100
                ) -> dict[str, float]:
    """Weights of ``names`` (the others 0) by the multi-positive softmax over each case's candidates."""
    import torch

    if not cases:
        raise ValueError("no fitting cases")
    use = [NAMES.index(n) for n in names]
    width = max(c.Z.shape[1] for c in cases)
    Z = torch.zeros(len(cases), len(use), width)
    pad = torch.ones(len(cases), width, dtype=torch.bool)
    pos = torch.zeros(len(cases), width)
    for i, c in enumerate(cases):
        n = c.Z.shape[1]
        Z[i, :, :n] = torch.from_numpy(np.ascontiguousarray(c.Z[use]))
        pad[i, :n] = False
        pos[i, torch.as_tensor(c.positives, dtype=torch.long)] = 1.0 / len(c.positives)
    w = torch.zeros(len(use), requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        s = torch.einsum("csn,s->cn", Z, w).masked_fill(pad, -1e9)
        loss = (torch.logsumexp(s, dim=1) - (s * pos).sum(dim=1)).mean() + l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return {name: round(float(v), 4) for name, v in zip(names, w.detach().numpy())}


def request_cases(make_agent: Callable[[Sequence[Dialogue]], Agent], dialogues: Sequence[Dialogue], *,
                  progress: bool = True) -> tuple[list[FitCase], dict]:
    """Fitting cases of the ``request`` head from training dialogues, two-fold cross-fitted.
    ``make_agent(stats_dialogues)`` builds a rules-only agent whose dialogue statistics come from those."""
    half = len(dialogues) // 2
    cases, missed = [], 0
    for k, (stats, part) in enumerate(((dialogues[:half], dialogues[half:]), (dialogues[half:], dialogues[:half]))):
        got, miss = collect_dialogue_cases(make_agent(stats), part, progress=progress, desc=f"replay fold {k + 1}/2")
        cases += got
        missed += miss
    return cases, {"cases": len(cases), "targets_filtered_out": missed, "dialogues": len(dialogues)}


def fit_history_head(catalog: Catalog, train: Interactions, make_recommender: Callable[[Interactions, EASE], Recommender],
                     seed: int = 0, n_users: int = HISTORY_USERS, names: Sequence[str] = NAMES,
                     progress: bool = True) -> tuple[dict[str, float], dict]:
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


def file_digest(path: Path) -> dict:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return {"path": str(path), "sha256": h.hexdigest()[:16]}


def artifact(heads: dict[str, dict[str, float]], fitting: dict, files: Sequence[Path], seed: int,
             command: str = "") -> FusionModel:
    meta = {"fitted": True, "version": VERSION, "seed": seed, "command": command or " ".join(["chat-rec"] + sys.argv[1:]),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "files": [file_digest(Path(f)) for f in files if Path(f).is_file()], "fitting": fitting,
            "formula": "score = w[head] . z(signals over the candidates); head = history for a known user "
                       "asking for nothing, else request"}
    return FusionModel(heads, meta)
