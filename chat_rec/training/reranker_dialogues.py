"""Training the BERT context re-ranker on recorded dialogues (``chat-rec train ranker``, re-ranker part).

The chat's re-ranker re-scores the linear fusion's top ``top`` candidates (``Recommender._rerank``) with the
query ``Recommender.reranker_query`` builds: the person's recent words and the films they named. Here it
learns exactly that task from the training dialogues, replayed through the agent (``replay``):

* a case is the session just before a recommender's first mention of a movie; its candidates are the
  served linear ranking's top ``group`` (hard negatives), the target (added when the linear stage missed
  it) and ``n_random`` random rows; the loss is a softmax over the group with the target as the label;
* the dialogues are split once (seeded): ``1 - fusion_share`` of them train the model, the rest fit its
  weight. On those held-out dialogues (the agent's dialogue statistics come from the training part only),
  each case's linear top ``top`` is re-scored and the weight ``w`` in ``linear + w * z(re-ranker)`` is
  chosen on a grid by Recall@10 (ties: the smaller weight; 0 means the linear stage alone). The state
  kept is the one with the best held-out fused Recall@10, measured before training (step 0) and every
  ``eval_every`` steps. A re-ranker that never beats the linear stage gets ``w = 0`` and is not served.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from chat_rec.agent import Agent
from chat_rec.config import CrossEncoderSpec, DialogueTrainConfig
from chat_rec.datasets.dialogues import Dialogue
from chat_rec.models.cross_encoder import CrossEncoderReranker, LateCrossEncoder, save_checkpoint
from chat_rec.recommender.fusion import RERANKER, FusionModel, stage_scores
from chat_rec.recommender.intent import Intent
from chat_rec.recommender.signals import zscore
from chat_rec.training.replay import replay_all

GRID = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0)
#: Dialogue queries are longer than a known user's profile: the last messages and the films named.
#: One joint layer (it reads only [CLS]): training and serving stay within the turn's budget on 2 cores.
DIALOGUE_SPEC = CrossEncoderSpec(split=5, max_query_tokens=96)


@dataclass
class DialogueCase:
    query: str
    items: np.ndarray  # candidate rows: the linear top ``group`` (+ target, + random) or ``top``
    labels: np.ndarray  # 1.0 at the target
    linear: np.ndarray  # the served linear score of each item (nan for rows outside the candidates)


def collect_cases(
    agent: Agent,
    dialogues: Sequence[Dialogue],
    *,
    size: int,
    extra: bool,
    n_random: int = 0,
    seed: int = 0,
    progress: bool = True,
    desc: str = "replay",
) -> list[DialogueCase]:
    """Cases with the served query and the served linear ranking's top ``size``. With ``extra`` the target
    joins when the linear stage missed it, with ``n_random`` random rows (training); without it a case whose
    target is not in the top ``size`` keeps all-zero labels (it counts as a miss in the held-out recall)."""
    rng = np.random.default_rng(seed)
    out = []
    n = len(agent.rec.catalog)
    for case, session in tqdm(replay_all(agent, dialogues), desc=desc, disable=not progress, unit="case"):
        cand, Z, head = agent.signals(session)
        if not len(cand):
            continue
        fused = stage_scores(agent.rec.fusion, head, Z, agent.rec.catalog.name)
        order = np.argsort(-fused, kind="stable")[:size]
        items, linear = cand[order].tolist(), fused[order].astype(np.float64).tolist()
        if extra:
            if case.target not in items:
                items.append(case.target)
                linear.append(np.nan)
            pool = rng.choice(n, size=min(n, n_random + len(items)), replace=False)
            for r in pool:
                if len(items) >= size + 1 + n_random:
                    break
                if int(r) not in items:
                    items.append(int(r))
                    linear.append(np.nan)
        query = agent.rec.reranker_query(session.intent or Intent(), agent.user_state(session))
        items_arr = np.asarray(items, dtype=np.int64)
        out.append(
            DialogueCase(
                query, items_arr, (items_arr == case.target).astype(np.float32), np.asarray(linear, dtype=np.float64)
            )
        )
    return out


def fused_recall(cases: Sequence[DialogueCase], scores: Sequence[np.ndarray], weight: float, k: int = 10) -> float:
    """Held-out Recall@k of ``linear + weight * z(re-ranker)`` over each case's linear top list."""
    hits = 0
    for c, s in zip(cases, scores):
        if not c.labels.any():
            continue
        total = c.linear + (weight * zscore(np.asarray(s, dtype=np.float64)) if weight else 0.0)
        hits += bool(c.labels[np.argsort(-total, kind="stable")[:k]].any())
    return hits / max(1, len(cases))


def fit_weight(cases: Sequence[DialogueCase], scores: Sequence[np.ndarray]) -> tuple[float, dict]:
    table = {w: (fused_recall(cases, scores, w, 10), fused_recall(cases, scores, w, 50)) for w in GRID}
    best = max(GRID, key=lambda w: (round(table[w][0], 6), round(table[w][1], 6), -w))
    return best, {
        "grid_recall@10": {str(w): round(v[0], 4) for w, v in table.items()},
        "linear_alone": {"recall@10": round(table[0.0][0], 4), "recall@50": round(table[0.0][1], 4)},
        "fused": {"recall@10": round(table[best][0], 4), "recall@50": round(table[best][1], 4)},
    }


class DialogueRerankerTrainer:
    """Trains one ``LateCrossEncoder`` on dialogue cases; ``run()`` returns it with its fitted weight."""

    def __init__(
        self,
        make_agent: Callable[[Sequence[Dialogue]], Agent],
        dialogues: Sequence[Dialogue],
        out: Path,
        cfg: DialogueTrainConfig = DialogueTrainConfig(),
        spec: CrossEncoderSpec = DIALOGUE_SPEC,
        progress: bool = True,
        log=print,
    ):
        self.make_agent, self.dialogues, self.out, self.cfg, self.spec = (
            make_agent,
            list(dialogues),
            Path(out),
            cfg,
            spec,
        )
        self.progress, self.log = progress, log

    def split(self) -> tuple[list[Dialogue], list[Dialogue]]:
        order = np.random.default_rng(self.cfg.seed).permutation(len(self.dialogues))
        n_fit = max(1, round(self.cfg.fusion_share * len(order)))
        return [self.dialogues[i] for i in sorted(order[n_fit:])], [self.dialogues[i] for i in sorted(order[:n_fit])]

    def run(self) -> tuple[CrossEncoderReranker, float, dict]:
        started = time.perf_counter()
        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        train_d, fit_d = self.split()
        agent = self.make_agent(train_d)  # statistics from the training part only: the held-out part is unseen
        train = collect_cases(
            agent,
            train_d,
            size=cfg.group,
            extra=True,
            n_random=cfg.n_random,
            seed=cfg.seed,
            progress=self.progress,
            desc="re-ranker cases",
        )
        held = collect_cases(agent, fit_d, size=cfg.top, extra=False, progress=self.progress, desc="held-out cases")
        catalog = agent.rec.catalog
        texts = agent.rec.texts
        model = LateCrossEncoder(self.spec)
        reranker = CrossEncoderReranker(model)
        reranker.warm([texts[r] for c in train + held for r in c.items], progress=self.progress)
        params = [
            {"params": model.joint.parameters(), "lr": cfg.lr},
            {"params": list(model.head.parameters()) + [model.bi_scale], "lr": cfg.head_lr},
        ]
        opt = torch.optim.AdamW(params, weight_decay=0.01)
        steps_per_epoch = -(-len(train) // cfg.cases_per_step)
        total = steps_per_epoch * cfg.epochs
        self.log(
            f"re-ranker: {len(train)} training cases from {len(train_d)} dialogues, {len(held)} held-out cases "
            f"from {len(fit_d)}; {cfg.epochs} epoch(s), {total} steps"
        )
        best = self._validate(reranker, held, texts, 0)
        self.log(
            "step 0 (MiniLM cosine + untrained head): held-out R@10 linear "
            f"{best['table']['linear_alone']['recall@10']:.4f}, "
            f"fused {best['r10']:.4f} at w={best['weight']:g}"
        )
        step, losses, stopped = 0, [], False
        model.train()
        bar = tqdm(total=total, desc="train re-ranker", disable=not self.progress)
        while step < total:
            epoch, k = divmod(step, steps_per_epoch)
            order = np.random.default_rng([cfg.seed, epoch]).permutation(len(train))
            batch = [train[i] for i in order[k * cfg.cases_per_step : (k + 1) * cfg.cases_per_step]]
            losses.append(self._step(model, reranker, opt, batch, texts))
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
            if step % cfg.eval_every == 0 or step == total:
                current = self._validate(reranker, held, texts, step)
                model.train()
                if (current["r10"], current["r50"]) > (best["r10"] + 1e-9, best["r50"] - 1e-9) and current[
                    "weight"
                ] > 0:
                    best = current
                self.log(
                    f"step {step}: held-out R@10 fused {current['r10']:.4f} (w={current['weight']:g}), "
                    f"linear alone {current['table']['linear_alone']['recall@10']:.4f}; best at step {best['step']}"
                )
            if (time.perf_counter() - started) / 60 > cfg.max_minutes and step < total:
                stopped = True
                self.log(
                    f"time budget of {cfg.max_minutes:g} min reached at step {step}/{total}; keeping the best state "
                    "so far"
                )
                break
        bar.close()
        model.eval()
        model.load_state_dict(best["state"], strict=False)
        meta = {
            "task": "dialogues",
            "seed": cfg.seed,
            "config": asdict(cfg),
            "steps": step,
            "total_steps": total,
            "best_step": best["step"],
            "complete": not stopped,
            "fusion_weight": best["weight"],
            "fusion": best["table"],
            "n_train_cases": len(train),
            "n_heldout_cases": len(held),
            "dialogues": {"train": len(train_d), "heldout": len(fit_d)},
            "catalog": catalog.fingerprint(),
            "train_ids": [d.id for d in train_d],
            "heldout_ids": [d.id for d in fit_d],
            "final_loss": round(float(np.mean(losses[-20:])), 4) if losses else None,
            "minutes": round((time.perf_counter() - started) / 60, 2),
            "fusion_formula": "linear + w * z(re-ranker) over the linear top 50, z standardised within them",
        }
        save_checkpoint(model, self.out, meta)
        reranker.meta = meta
        self.log(
            f"kept the state of step {best['step']}: held-out R@10 {best['r10']:.4f} / R@50 {best['r50']:.4f} at "
            f"w={best['weight']:g}, linear alone {best['table']['linear_alone']['recall@10']:.4f} / "
            f"{best['table']['linear_alone']['recall@50']:.4f}; saved {self.out} after {meta['minutes']} min"
        )
        return reranker, best["weight"], meta

    def _validate(self, reranker, cases: list[DialogueCase], texts, step: int) -> dict:
        reranker.model.eval()
        scores = [reranker.score(c.query, [texts[r] for r in c.items]) for c in cases]
        weight, table = fit_weight(cases, scores)
        state = {k: v.detach().clone() for k, v in reranker.model.trainable_state().items()}
        return {
            "step": step,
            "r10": table["fused"]["recall@10"],
            "r50": table["fused"]["recall@50"],
            "weight": weight,
            "table": table,
            "state": state,
        }

    def _step(self, model, reranker, opt, batch: list[DialogueCase], texts) -> float:
        q, q_keep, q_emb = model.encode_side([c.query for c in batch], "query")
        sizes = [len(c.items) for c in batch]
        idx = torch.repeat_interleave(torch.arange(len(batch)), torch.tensor(sizes))
        i, i_keep, i_emb = reranker.item_batch([texts[r] for c in batch for r in c.items])
        logits = model(q[idx], q_keep[idx], q_emb[idx], i, i_keep, i_emb)
        loss, start = 0.0, 0
        for c, n in zip(batch, sizes):
            target = torch.from_numpy(c.labels)
            loss = loss - (target / target.sum() * torch.log_softmax(logits[start : start + n], 0)).sum()
            start += n
        loss = loss / len(batch)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return float(loss.detach())


def refit_weight(
    make_agent: Callable[[Sequence[Dialogue]], Agent],
    dialogues: Sequence[Dialogue],
    reranker: CrossEncoderReranker,
    progress: bool = True,
) -> tuple[float, dict]:
    """The re-ranker's weight for another linear stage (``make_agent``'s fusion), fitted the same way on the
    re-ranker's own held-out dialogues (found among ``dialogues`` by id): an evaluation that refits the
    linear weights refits this one too, never on dialogues the re-ranker trained on."""
    held_ids = set(reranker.meta.get("heldout_ids") or [])
    held = [d for d in dialogues if d.id in held_ids]
    if not held:
        raise ValueError(
            "none of the re-ranker's held-out dialogues is among the training dialogues given: "
            "train it on the same --train files (`chat-rec train ranker --dialogues ...`)"
        )
    agent = make_agent([d for d in dialogues if d.id not in held_ids])
    cases = collect_cases(
        agent,
        held,
        size=int(reranker.meta.get("config", {}).get("top", 50)),
        extra=False,
        progress=progress,
        desc="re-ranker weight",
    )
    texts = agent.rec.texts
    scores = [reranker.score(c.query, [texts[r] for r in c.items]) for c in cases]
    weight, table = fit_weight(cases, scores)
    return weight, {**table, "cases": len(cases), "dialogues": len(held)}


def with_fitted_reranker(fusion: FusionModel, weight: float, head: str = "request") -> FusionModel:
    """``fusion`` with the re-ranker's fitted weight on ``head`` (0 removes it: it is then not computed)."""
    heads = {h: dict(w) for h, w in fusion.heads.items()}
    heads.setdefault(head, {})
    if weight:
        heads[head][RERANKER] = float(weight)
    else:
        heads[head].pop(RERANKER, None)
    return FusionModel(heads, dict(fusion.meta), fusion.path, dict(fusion.trees))


__all__ = [
    "DialogueRerankerTrainer",
    "DialogueTrainConfig",
    "collect_cases",
    "fit_weight",
    "fused_recall",
    "refit_weight",
    "with_fitted_reranker",
]
