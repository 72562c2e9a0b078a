"""Known-answer cases for the ranking metrics, computed by hand."""

import math

import pytest

from chat_rec.evaluation.metrics import ndcg_at_k, precision_at_k, recall_at_k
from chat_rec.models.cf import top_k


def test_precision_counts_hits_over_k():
    assert precision_at_k([1, 2, 3, 4, 5], {2, 5, 9}, 5) == pytest.approx(2 / 5)
    assert precision_at_k([1, 2], {1, 2}, 5) == pytest.approx(2 / 5)  # a short list still divides by k
    with pytest.raises(ValueError):
        precision_at_k([1], {1}, 0)


def test_recall_uses_all_relevant_items():
    assert recall_at_k([1, 2, 3, 4, 5], {2, 5, 9}, 5) == pytest.approx(2 / 3)
    assert recall_at_k([1, 2, 3], set(), 5) == 0.0
    assert recall_at_k([7, 8, 9, 1, 2, 3], {1}, 3) == 0.0


def test_ndcg_hand_computed():
    # hits at ranks 2 and 5 of 5; 3 relevant -> ideal has 3 hits at ranks 1..3
    dcg = 1 / math.log2(3) + 1 / math.log2(6)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k([1, 2, 3, 4, 5], {2, 5, 9}, 5) == pytest.approx(dcg / ideal)


def test_ndcg_with_fewer_relevant_than_k():
    # one relevant item at rank 1 is perfect even though k = 5
    assert ndcg_at_k([4, 1, 2, 3, 5], {4}, 5) == pytest.approx(1.0)
    # the same item at rank 2
    assert ndcg_at_k([1, 4, 2, 3, 5], {4}, 5) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k([1, 2], set(), 5) == 0.0


def test_top_k_breaks_ties_by_lower_row_and_excludes():
    scores = [0.5, 0.9, 0.5, 0.9, 0.1]
    assert top_k(scores, 3).tolist() == [1, 3, 0]
    assert top_k(scores, 3, exclude=[1]).tolist() == [3, 0, 2]
    assert top_k(scores, 10, exclude=[0, 1, 2, 3, 4]).tolist() == []
    assert top_k(scores, 10).tolist() == [1, 3, 0, 2, 4]


def test_metrics_over_tied_ranking():
    # ties resolved by row order make the metrics deterministic
    ranked = top_k([1.0, 1.0, 1.0, 0.0], 2).tolist()
    assert ranked == [0, 1]
    assert precision_at_k(ranked, {1, 3}, 2) == pytest.approx(0.5)
    assert ndcg_at_k(ranked, {1, 3}, 2) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
