"""Training the BERT context re-ranker (``chat-rec train reranker``).

Only the train part of the evaluation split (``split_per_user(seed)``) is read; its own seeded 80/20
split (seed + 1, the slice λ is chosen on) gives a *fit* part and held-out events:

* EASE (rating-weighted) is fitted on the fit part; each user's query text is built from the fit part
  (profile, latest-rating context, history summary), so the held-out items are never in it.
* 80 % of the users train the cross-encoder: their group is EASE's top 20 (hard negatives, and the
  positives among them: held-out items rated >= 4), at most 2 more positives from outside the top 20 and
  2 random items; users with no positive in their top 20 are left out (the task at test time is to
  re-order the top 20). The loss is a listwise softmax over the group.
  Query parts are dropped at random (chat has no demographics) and a third of the queries carry a
  synthetic request built from one positive's genres and decade, so the model also learns to read asks.
* The other 20 % fit the fusion weight w in ``score = z(cf) + w * z(cross-encoder)`` (z = standardised
  within the user's 20 candidates) by NDCG@5 on their held-out items, and choose the checkpoint: every
  ``eval_every`` steps (and before the first, when the score is the plain MiniLM cosine) the fused
  validation NDCG@5 is measured and the best state is the one kept (the joint layers overfit the 741
  training users' queries when trained to the end).

Checkpoints are written atomically; a ``.partial`` file beside the output holds the optimiser state so an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from chat_rec.catalog import Catalog, Interactions, item_text
from chat_rec.config import CrossEncoderSpec, TrainConfig
from chat_rec.datasets.splits import relevant_sets, split_per_user
from chat_rec.models.cf import EASE, top_k, user_item_matrix
from chat_rec.models.cross_encoder import CrossEncoderReranker, LateCrossEncoder, save_checkpoint
from chat_rec.recommender.context import compose, offline_parts
from chat_rec.recommender.signals import zscore

FUSION_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0)


@dataclass
class UserCase:
    """One user of the training split: query parts and the candidate group with labels."""

    user_row: int
    profile: str
    context: str
    history: str
    items: np.ndarray  # catalog rows
    labels: np.ndarray  # 1.0 for held-out positives
    cf: np.ndarray  # EASE score of each item (fusion fitting)
    positives: set[int]

    def query(self, drop: Sequence[str] = (), request: str = "") -> str:
        return compose(self.profile, self.context, request, self.history, drop=drop)


def build_cases(
    catalog: Catalog,
    fit: Interactions,
    heldout: dict[int, set[int]],
    users: Sequence[int],
    model: EASE,
    cfg: TrainConfig,
    rng: np.random.Generator,
    with_extra: bool,
) -> list[UserCase]:
    X = user_item_matrix(fit, "rating")
    cases = []
    for start in range(0, len(users), 256):
        chunk = list(users[start : start + 256])
        scores = model.score(X[chunk].toarray())
        for j, u in enumerate(chunk):
            seen = X[u].indices
            cand = top_k(scores[j], cfg.n_candidates, exclude=seen).tolist()
            if with_extra:
                if not heldout[u] & set(cand):
                    continue  # nothing to learn from this user's top 20
                cand += [r for r in sorted(heldout[u]) if r not in cand][: cfg.n_outside]
                pool = np.setdiff1d(np.arange(len(catalog)), np.concatenate([seen, np.asarray(cand)]))
                cand += rng.choice(pool, size=min(cfg.n_random, len(pool)), replace=False).tolist()
            items = np.asarray(cand, dtype=np.int64)
            profile, context, history = offline_parts(catalog, fit, u)
            cases.append(
                UserCase(
                    u,
                    profile,
                    context,
                    history,
                    items,
                    np.array([float(r in heldout[u]) for r in items], dtype=np.float32),
                    scores[j, items].astype(np.float64),
                    heldout[u],
                )
            )
    return cases


def synthetic_request(catalog: Catalog, row: int, rng: np.random.Generator) -> str:
    """An ask a person could type for this item: one or two of its genres, sometimes its decade."""
    item = catalog.items[row]
    genres = [g.lower() for g in item.genres if g.lower() != "unknown"]
    if not genres:
        return ""
    picked = list(rng.choice(genres, size=min(len(genres), int(rng.integers(1, 3))), replace=False))
    text = rng.choice(["{g}", "a {g} movie", "something {g}", "i want {g}", "{g} please"]).format(
        g=" or ".join(picked)
    )
    if item.year and rng.random() < 0.5:
        text += f" from the {item.year // 10 % 10}0s"
    return text


def fuse(cf: np.ndarray, ce: np.ndarray, weight: float) -> np.ndarray:
    """The documented fusion: ``z(cf) + weight * z(ce)`` within one candidate list."""
    return zscore(np.asarray(cf, dtype=np.float64)) + weight * zscore(np.asarray(ce, dtype=np.float64))


def ndcg5(ranked: Sequence[int], relevant: set[int]) -> float:
    gains = sum(1.0 / np.log2(i + 2) for i, r in enumerate(ranked[:5]) if r in relevant)
    ideal = sum(1.0 / np.log2(i + 2) for i in range(min(5, len(relevant))))
    return gains / ideal if ideal else 0.0


def fit_fusion(cases: Sequence[UserCase], scores: Sequence[np.ndarray]) -> tuple[float, dict]:
    """The weight on the grid with the best NDCG@5 on the fusion users (ties -> smaller weight)."""
    table = {}
    for w in FUSION_GRID:
        table[w] = float(
            np.mean(
                [
                    ndcg5(c.items[np.argsort(-fuse(c.cf, s, w), kind="stable")].tolist(), c.positives)
                    for c, s in zip(cases, scores)
                ]
            )
        )
    best = max(table, key=lambda w: (round(table[w], 6), -w))
    ce_only = float(
        np.mean([ndcg5(c.items[np.argsort(-s, kind="stable")].tolist(), c.positives) for c, s in zip(cases, scores)])
    )
    rand = float(
        np.mean(
            [
                np.mean(
                    [
                        ndcg5(c.items[np.random.default_rng(k).permutation(len(c.items))].tolist(), c.positives)
                        for k in range(5)
                    ]
                )
                for c in cases
            ]
        )
    )
    return best, {
        "grid": {str(w): round(v, 4) for w, v in table.items()},
        "cross_encoder_alone": round(ce_only, 4),
        "random_order": round(rand, 4),
    }


class Trainer:
    """Trains one ``LateCrossEncoder``; ``run()`` returns a ready ``CrossEncoderReranker``."""

    def __init__(
        self,
        catalog: Catalog,
        interactions: Interactions,
        out: Path,
        cfg: TrainConfig = TrainConfig(),
        spec: CrossEncoderSpec = CrossEncoderSpec(),
        progress: bool = True,
        log=print,
    ):
        self.catalog, self.interactions, self.out, self.cfg, self.spec = catalog, interactions, Path(out), cfg, spec
        self.progress, self.log = progress, log
        self.partial = self.out.with_suffix(self.out.suffix + ".partial")

    def prepare(self) -> tuple[list[UserCase], list[UserCase]]:
        cfg = self.cfg
        train = self.interactions.subset(~split_per_user(self.interactions, cfg.seed))
        val_mask = split_per_user(train, cfg.seed + 1)
        fit = train.subset(~val_mask)
        heldout = relevant_sets(train, val_mask)
        users = np.random.default_rng(cfg.seed).permutation(sorted(heldout)).tolist()
        n_fusion = max(1, round(cfg.fusion_share * len(users)))
        fusion_users, train_users = users[:n_fusion], users[n_fusion:]
        if cfg.max_train_users:
            train_users = train_users[: cfg.max_train_users]
        if cfg.max_fusion_users:
            fusion_users = fusion_users[: cfg.max_fusion_users]
        model = EASE(cfg.cf_lambda, "rating").fit(fit)
        rng = np.random.default_rng(cfg.seed)
        return (
            build_cases(self.catalog, fit, heldout, train_users, model, cfg, rng, with_extra=True),
            build_cases(self.catalog, fit, heldout, fusion_users, model, cfg, rng, with_extra=False),
        )

    def run(self) -> CrossEncoderReranker:
        started = time.perf_counter()
        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        self.log(f"preparing: split seed {cfg.seed}, EASE λ={cfg.cf_lambda:g} on the fit part")
        train_cases, fusion_cases = self.prepare()
        model = LateCrossEncoder(self.spec)
        reranker = CrossEncoderReranker(model)
        texts = [item_text(it) for it in self.catalog.items]
        reranker.warm(texts, progress=self.progress)
        params = [
            {"params": model.joint.parameters(), "lr": cfg.lr},
            {"params": list(model.head.parameters()) + [model.bi_scale], "lr": cfg.head_lr},
        ]
        opt = torch.optim.AdamW(params, weight_decay=0.01)
        steps_per_epoch = -(-len(train_cases) // cfg.users_per_step)
        total = steps_per_epoch * cfg.epochs
        step, resumed_best = self._resume(model, opt)
        self.log(
            f"training on {len(train_cases)} users ({sum(len(c.items) for c in train_cases)} pairs an epoch), "
            f"{cfg.epochs} epoch(s), {total} steps" + (f", resuming at step {step}" if step else "")
        )
        best = self._validate(reranker, fusion_cases, texts, step)
        if resumed_best is not None and resumed_best["ndcg"] > best["ndcg"]:
            best = resumed_best
        self.log(
            f"step {step}: validation NDCG@5 fused {best['ndcg']:.4f} (w={best['weight']:g}), "
            f"cross-encoder alone {best['table']['cross_encoder_alone']:.4f}"
        )
        model.train()
        losses, stopped_early = [], False
        bar = tqdm(total=total, initial=step, desc="train re-ranker", disable=not self.progress)
        while step < total:
            epoch, k = divmod(step, steps_per_epoch)
            order = np.random.default_rng([cfg.seed, epoch]).permutation(len(train_cases))
            batch = [train_cases[i] for i in order[k * cfg.users_per_step : (k + 1) * cfg.users_per_step]]
            loss = self._step(model, reranker, opt, batch, texts, np.random.default_rng([cfg.seed, 1, step]))
            losses.append(loss)
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
            if step % cfg.eval_every == 0 or step == total:
                current = self._validate(reranker, fusion_cases, texts, step)
                model.train()
                if current["ndcg"] > best["ndcg"] + 1e-9:
                    best = current
                self.log(
                    f"step {step}: validation NDCG@5 fused {current['ndcg']:.4f} (w={current['weight']:g}), "
                    f"cross-encoder alone {current['table']['cross_encoder_alone']:.4f}; best at step {best['step']}"
                )
            if step % cfg.save_every == 0 or step == total:
                self._save_partial(model, opt, step, best)
            if (time.perf_counter() - started) / 60 > cfg.max_minutes and step < total:
                self._save_partial(model, opt, step, best)
                stopped_early = True
                self.log(
                    f"time budget of {cfg.max_minutes:g} min reached at step {step}/{total}; "
                    f"run the same command again to resume"
                )
                break
        bar.close()
        model.eval()
        model.load_state_dict(best["state"], strict=False)
        weight, table = best["weight"], best["table"]
        meta = {
            "seed": cfg.seed,
            "config": asdict(cfg),
            "config_key": cfg.key(),
            "steps": step,
            "total_steps": total,
            "best_step": best["step"],
            "complete": not stopped_early,
            "fusion_weight": weight,
            "fusion": table,
            "n_train_users": len(train_cases),
            "n_fusion_users": len(fusion_cases),
            "catalog": self.catalog.fingerprint(),
            "final_loss": round(float(np.mean(losses[-20:])), 4) if losses else None,
            "minutes": round((time.perf_counter() - started) / 60, 2),
            "fusion_formula": "z(cf) + w * z(cross_encoder), z standardised within the user's candidates",
        }
        save_checkpoint(model, self.out, meta)
        if not stopped_early and self.partial.exists():
            self.partial.unlink()
        self.log(
            f"kept the state of step {best['step']}; fusion weight w={weight:g} (validation NDCG@5 "
            f"{table['grid'][str(weight)]:.4f} vs CF alone "
            f"{table['grid']['0.0']:.4f}; cross-encoder alone {table['cross_encoder_alone']:.4f}, random order "
            f"{table['random_order']:.4f})"
        )
        self.log(f"saved {self.out} after {meta['minutes']} min")
        reranker.meta = meta
        return reranker

    def _validate(self, reranker, cases: list[UserCase], texts, step: int) -> dict:
        """Fused NDCG@5 on the fusion users at the best weight, with a copy of the trained state."""
        reranker.model.eval()
        scores = [reranker.score(c.query(), [texts[r] for r in c.items]) for c in cases]
        weight, table = fit_fusion(cases, scores)
        state = {k: v.detach().clone() for k, v in reranker.model.trainable_state().items()}
        return {"step": step, "ndcg": table["grid"][str(weight)], "weight": weight, "table": table, "state": state}

    def _step(self, model, reranker, opt, batch: list[UserCase], texts, rng) -> float:
        queries = []
        for case in batch:
            drop = [p for p in ("profile", "context", "history") if rng.random() < self.cfg.part_dropout]
            request = ""
            if rng.random() < self.cfg.request_rate and case.positives:
                request = synthetic_request(self.catalog, int(rng.choice(sorted(case.positives))), rng)
            queries.append(case.query(drop=drop, request=request))
        q, q_keep, q_emb = model.encode_side(queries, "query")
        sizes = [len(c.items) for c in batch]
        idx = torch.repeat_interleave(torch.arange(len(batch)), torch.tensor(sizes))
        i, i_keep, i_emb = reranker.item_batch([texts[r] for c in batch for r in c.items])
        logits = model(q[idx], q_keep[idx], q_emb[idx], i, i_keep, i_emb)
        loss, start = 0.0, 0
        for c, n in zip(batch, sizes):
            part = logits[start : start + n]
            target = torch.from_numpy(c.labels)
            target = target / target.sum() if target.sum() > 0 else torch.full_like(target, 1.0 / n)
            loss = loss - (target * torch.log_softmax(part, 0)).sum()
            start += n
        loss = loss / len(batch)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return float(loss.detach())

    def _save_partial(self, model, opt, step: int, best: dict) -> None:
        meta = {
            "config_key": self.cfg.key(),
            "step": step,
            "best_step": best["step"],
            "best_ndcg": best["ndcg"],
            "best_weight": best["weight"],
            "best_table": best["table"],
        }
        save_checkpoint(model, self.partial, meta, extra={"optimizer": opt.state_dict(), "best_state": best["state"]})

    def _resume(self, model, opt) -> tuple[int, dict | None]:
        if not self.partial.exists():
            return 0, None
        try:
            blob = torch.load(self.partial, map_location="cpu", weights_only=True)
            meta = blob["meta"]
            if meta.get("config_key") != self.cfg.key():
                self.log(f"ignoring {self.partial}: it was made with other settings")
                return 0, None
            model.load_state_dict(blob["state"], strict=False)
            opt.load_state_dict(blob["optimizer"])
            best = {
                "step": meta["best_step"],
                "ndcg": meta["best_ndcg"],
                "weight": meta["best_weight"],
                "table": meta["best_table"],
                "state": blob["best_state"],
            }
            return int(meta["step"]), best
        except Exception as exc:
            self.log(f"ignoring unreadable {self.partial} ({type(exc).__name__}); starting over")
            return 0, None


def train_reranker(
    catalog: Catalog,
    interactions: Interactions,
    out: Path,
    *,
    quick: bool = False,
    seed: int = 0,
    progress: bool = True,
    log=print,
    **overrides,
) -> CrossEncoderReranker:
    cfg = TrainConfig.quick(seed) if quick else TrainConfig(seed=seed)
    if overrides:
        cfg = replace(cfg, **overrides)
    return Trainer(catalog, interactions, out, cfg, progress=progress, log=log).run()
