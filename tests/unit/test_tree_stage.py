"""The fusion's tree stage: fitted only when it beats the linear order on held-out dialogues, saved and
loaded with the artifact, scoring through ``stage_scores`` (the chat's path), and a damaged one dropped
with a notice while the linear weights stay."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chat_rec.recommender.fusion import FusionModel, TreeStage, load_fusion, stage_scores
from chat_rec.recommender.signals import NAMES
from chat_rec.training.ranker import (
    LARGE_TREE_CASES,
    LARGE_TREE_PARAMS,
    TREE_PARAMS,
    TREE_ROUNDS,
    FitCase,
    fit_tree,
    tree_settings,
)

POP, SEM = NAMES.index("pop"), NAMES.index("sem")


def _cases(n: int, width: int, rule, seed: int = 0) -> list[FitCase]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        Z = rng.standard_normal((len(NAMES), width)).astype(np.float32)
        out.append(FitCase(Z, np.array([rule(Z, rng)]), f"d{i}"))
    return out


def interaction(Z, rng):
    # popular, with ``sem`` near 0: a shape no linear weighting of the two can express
    return int(np.argmax(Z[POP] - 3 * np.abs(Z[SEM])))


@pytest.fixture(scope="module")
def fitted():
    cases = _cases(300, 200, interaction)
    return fit_tree(cases, {"pop": 1.0, "sem": 0.1}, top=40, progress=False)


def test_a_tree_that_beats_the_linear_order_is_kept(fitted):
    tree, meta = fitted
    assert tree is not None and meta["kept"] and tree.names == ("sem", "pop")
    held = meta["heldout"]
    assert held["tree"]["recall@10"] > held["linear"]["recall@10"]
    assert meta["cases"]["heldout"] == 60 and meta["cases"]["fit"] == 240
    assert meta["rounds"] == TREE_ROUNDS and meta["params"]["num_leaves"] == TREE_PARAMS["num_leaves"]


def test_many_cases_get_the_larger_trees_and_few_the_small_ones():
    small, large = tree_settings(LARGE_TREE_CASES - 1), tree_settings(LARGE_TREE_CASES)
    assert small == (TREE_PARAMS, TREE_ROUNDS)
    assert large[0] is LARGE_TREE_PARAMS and large[0]["num_leaves"] > TREE_PARAMS["num_leaves"]


def test_a_tree_on_noise_is_not_kept():
    cases = _cases(300, 60, lambda Z, rng: int(np.argmax(Z[POP] + Z[SEM])))  # linear is already right
    tree, meta = fit_tree(cases, {"pop": 1.0, "sem": 1.0}, top=40, progress=False)
    assert tree is None and not meta["kept"]
    assert meta["heldout"]["linear"]["recall@10"] == 1.0


def test_stage_scores_reorder_the_linear_top_and_keep_it_above_the_rest(fitted):
    tree, _ = fitted
    fusion = FusionModel({"request": {"pop": 1.0, "sem": 0.1}}, {}, "", {"request": tree})
    Z = _cases(1, 200, interaction, seed=7)[0].Z
    linear = FusionModel({"request": {"pop": 1.0, "sem": 0.1}}).vector("request") @ Z
    fused = stage_scores(fusion, "request", Z)
    top = np.argsort(-linear, kind="stable")[:40]
    rest = np.setdiff1d(np.arange(200), top)
    assert fused[top].min() > fused[rest].max()
    assert np.array_equal(np.argsort(-fused[rest], kind="stable"), np.argsort(-linear[rest], kind="stable"))
    assert not np.array_equal(np.argsort(-fused[top], kind="stable"), np.argsort(-linear[top], kind="stable"))


def test_round_trip_with_the_tree(tmp_path, fitted):
    tree, _ = fitted
    model = FusionModel({"request": {"pop": 1.0, "sem": 0.1}}, {"fitted": True}, "", {"request": tree})
    back = FusionModel.load(model.save(tmp_path / "ranker.json"))
    Z = _cases(1, 100, interaction, seed=3)[0].Z
    assert set(back.trees) == {"request"} and back.trees["request"].top == 40
    np.testing.assert_allclose(stage_scores(back, "request", Z), stage_scores(model, "request", Z))


def test_a_damaged_tree_is_dropped_with_a_notice_and_the_weights_stay(tmp_path, fitted):
    tree, _ = fitted
    path = FusionModel({"request": {"pop": 1.0, "sem": 0.1}}, {"fitted": True}, "", {"request": tree}).save(
        tmp_path / "ranker.json"
    )
    raw = json.loads(path.read_text())
    raw["trees"]["request"]["model"] = "tree\nnot a model"
    path.write_text(json.dumps(raw))
    fusion, notice = load_fusion(str(path))
    assert fusion.fitted and fusion.heads == {"request": {"pop": 1.0, "sem": 0.1}} and not fusion.trees
    assert "without their tree stage" in notice and "chat-rec train ranker" in notice and "\n" not in notice


def test_too_few_cases_give_no_tree():
    tree, meta = fit_tree(_cases(12, 30, interaction), {"pop": 1.0, "sem": 0.1}, top=20, progress=False)
    assert tree is None and not meta["kept"] and "fewer than" in meta["why"]


def test_a_tree_serves_only_the_catalog_it_was_fitted_on(fitted):
    tree, _ = fitted
    tree = TreeStage(tree.names, tree.top, tree.model, {**tree.meta, "catalog": "redial"})
    fusion = FusionModel({"request": {"pop": 1.0, "sem": 0.1}}, {}, "", {"request": tree})
    Z = _cases(1, 100, interaction, seed=5)[0].Z
    linear = fusion.vector("request") @ Z
    np.testing.assert_allclose(stage_scores(fusion, "request", Z, "movielens-100k"), linear, rtol=1e-6)
    assert not np.allclose(stage_scores(fusion, "request", Z, "redial"), linear)
