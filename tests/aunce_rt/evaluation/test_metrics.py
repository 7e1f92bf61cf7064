"""au_metrics on hand-computed cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from aunce_rt.evaluation.metrics import AUMetrics, au_metrics

# 5 samples x 3 AUs. Predictions at 0.5 (>=):
#   AU a: pred 1 1 0 0 1 vs label 1 0 1 0 -1 -> TP 1, FP 1, FN 1, TN 1 (last masked)
#   AU b: pred 0 1 1 0 0 vs label 0 1 1 0 0  -> TP 2, FP 0, FN 0, TN 3
#   AU c: pred 0 0 0 0 0 vs label 0 0 0 0 0  -> no positives, none predicted: F1 0 by convention
PROBS = np.array(
    [
        [0.9, 0.1, 0.2],
        [0.5, 0.8, 0.3],
        [0.2, 0.6, 0.0],
        [0.4, 0.3, 0.1],
        [0.7, 0.2, 0.4],
    ]
)
LABELS = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0], [-1, 0, 0]])


def test_hand_computed_case() -> None:
    m = au_metrics(PROBS, LABELS)
    assert m.f1.tolist() == pytest.approx([0.5, 1.0, 0.0])
    assert m.f1_macro == pytest.approx(0.5)
    # Pooled: TP 3, FP 1, FN 1 -> 6 / 8.
    assert m.f1_micro == pytest.approx(0.75)
    assert m.precision.tolist() == pytest.approx([0.5, 1.0, 0.0])
    assert m.recall.tolist() == pytest.approx([0.5, 1.0, 0.0])
    assert m.accuracy.tolist() == pytest.approx([0.5, 1.0, 1.0])
    assert m.accuracy_mean == pytest.approx(2.5 / 3)
    assert m.support.tolist() == [2, 2, 0]
    assert m.labelled.tolist() == [4, 5, 5]
    # Right on every labelled AU: samples 0, 3 and 4 (its masked AU a ignored); 1 has a FP, 2 a FN.
    assert m.exact_match == pytest.approx(3 / 5)


def test_torch_inputs_and_per_au_thresholds() -> None:
    m = au_metrics(torch.tensor(PROBS, requires_grad=True), torch.tensor(LABELS), thresholds=[0.6, 0.5, 0.35])
    # AU a at 0.6: pred 1 0 0 0 1 -> TP 1, FP 0, FN 1 -> F1 2/3; AU c at 0.35: pred only sample 4 -> FP 1.
    assert m.f1.tolist() == pytest.approx([2 / 3, 1.0, 0.0])
    assert m.accuracy.tolist() == pytest.approx([0.75, 1.0, 0.8])
    assert isinstance(m, AUMetrics)


def test_threshold_is_inclusive() -> None:
    m = au_metrics(np.array([[0.5], [0.49]]), np.array([[1], [0]]))
    assert m.f1.tolist() == [1.0] and m.exact_match == 1.0


def test_undefined_values() -> None:
    m = au_metrics(np.array([[0.9, 0.1], [0.2, 0.7]]), np.array([[-1, 0], [-1, 1]]))
    assert m.f1[0] == 0.0 and math.isnan(m.accuracy[0])
    assert m.accuracy_mean == pytest.approx(1.0)  # only the labelled AU counts
    masked = au_metrics(np.array([[0.9]]), np.array([[-1]]))
    assert math.isnan(masked.exact_match) and math.isnan(masked.accuracy_mean)


def test_arrays_are_read_only() -> None:
    m = au_metrics(PROBS, LABELS)
    with pytest.raises(ValueError):
        m.f1[0] = 1.0


def test_to_dict_is_json_ready() -> None:
    m = au_metrics(np.array([[0.9, 0.1], [0.2, 0.7]]), np.array([[-1, 0], [-1, 1]]))
    out = m.to_dict([1, 12])
    assert json.loads(json.dumps(out, allow_nan=False)) == out
    assert out["per_au"]["AU01"]["accuracy"] is None
    assert out["per_au"]["AU12"] == {
        "f1": 1.0,
        "precision": 1.0,
        "recall": 1.0,
        "accuracy": 1.0,
        "support": 1,
        "labelled": 2,
    }
    with pytest.raises(ValueError, match="AU codes"):
        m.to_dict([1])


def test_format_table_lists_every_au_and_the_headline() -> None:
    table = au_metrics(PROBS, LABELS).format_table([1, 2, 4])
    lines = table.splitlines()
    assert lines[1].split()[:2] == ["AU01", "50.0"]
    assert lines[2].split()[:2] == ["AU02", "100.0"]
    assert lines[3].split()[-1] == "0/5"
    assert "F1-macro 50.0" in table and "F1-micro 75.0" in table and "exact match 60.0" in table


@pytest.mark.parametrize(
    ("probs", "labels", "thresholds", "message"),
    [
        (np.zeros((2, 3)), np.zeros((2, 2)), 0.5, "shape"),
        (np.zeros(3), np.zeros(3), 0.5, "shape"),
        (np.zeros((2, 2)), np.full((2, 2), 2), 0.5, "-1, 0, 1"),
        (np.full((1, 2), np.nan), np.zeros((1, 2)), 0.5, "NaN"),
        (np.zeros((2, 2)), np.zeros((2, 2)), [0.5, 0.5, 0.5], "thresholds"),
    ],
)
def test_bad_inputs_are_rejected(
    probs: np.ndarray, labels: np.ndarray, thresholds: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        au_metrics(probs, labels, thresholds)


def test_best_thresholds_maximise_f1_per_au():
    import numpy as np

    from aunce_rt.evaluation.metrics import au_metrics, best_thresholds

    y = np.array([[1, 0], [1, 0], [0, 1], [0, -1], [1, 0]])
    p = np.array([[0.3, 0.2], [0.35, 0.1], [0.1, 0.9], [0.2, 0.8], [0.32, 0.4]])
    t = best_thresholds(p, y)
    assert 0.2 < t[0] <= 0.3  # separates 0.3/0.32/0.35 (positives) from 0.1/0.2
    assert 0.4 < t[1] <= 0.9
    assert au_metrics(p, y, t).f1_macro == 1.0
    assert best_thresholds(p, np.zeros_like(y))[0] == 0.5  # no positives: keep the default


def test_f1_at_rates_reweights_positives_to_the_reference_rate():
    from aunce_rt.evaluation.metrics import f1_at_rates

    # AU0: 2 positives, 6 negatives (rate 0.25); TP 1, FN 1, FP 1.
    y = np.array([[1], [1], [0], [0], [0], [0], [0], [0]])
    p = np.array([[0.9], [0.1], [0.8], [0.1], [0.1], [0.1], [0.1], [0.1]])
    same = f1_at_rates(p, y, [0.25])
    assert same[0] == pytest.approx(au_metrics(p, y).f1[0])  # at its own rate: plain F1 (0.5)
    # At rate 0.5 the positives weigh odds(0.5)/odds(0.25) = 3: F1 = 2*3 / (2*3 + 1 + 3) = 0.6.
    assert f1_at_rates(p, y, [0.5])[0] == pytest.approx(0.6)
    # The same as duplicating every positive 3 times.
    y3 = np.concatenate([y, y[:2], y[:2]])
    p3 = np.concatenate([p, p[:2], p[:2]])
    assert au_metrics(p3, y3).f1[0] == pytest.approx(0.6)
    # Masked labels are ignored; an AU without negatives scores 0; bad rates are rejected.
    assert f1_at_rates(np.vstack([p, [[0.9]]]), np.vstack([y, [[-1]]]), [0.5])[0] == pytest.approx(0.6)
    assert f1_at_rates(np.ones((3, 1)), np.ones((3, 1), int), [0.5])[0] == 0.0
    with pytest.raises(ValueError, match="rates"):
        f1_at_rates(p, y, [1.0])


def _pairwise_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    pos, neg = scores[positive], scores[~positive]
    wins = (pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()
    return wins / (pos.size * neg.size)


def test_roc_auc_matches_the_pairwise_definition_with_ties_and_unlabelled_entries() -> None:
    from aunce_rt.evaluation.metrics import roc_auc

    rng = np.random.default_rng(0)
    probs = np.round(rng.random((200, 3)), 1)  # many ties
    labels = (rng.random((200, 3)) < probs).astype(int)
    labels[::7, 1] = -1
    labels[:, 2] = 0  # no positive: undefined
    auc = roc_auc(probs, labels)
    for i in range(2):
        known = labels[:, i] >= 0
        assert auc[i] == pytest.approx(_pairwise_auc(probs[known, i], labels[known, i] == 1))
    assert 0.6 < auc[0] < 1.0 and np.isnan(auc[2])
    assert roc_auc(np.array([[0.1], [0.9]]), np.array([[0], [1]]))[0] == 1.0
    assert roc_auc(np.array([[0.9], [0.1]]), np.array([[0], [1]]))[0] == 0.0


def test_best_f1_finds_the_best_cut_among_all_scores() -> None:
    from aunce_rt.evaluation.metrics import au_metrics, best_f1

    rng = np.random.default_rng(1)
    probs = rng.random((120, 2))
    labels = (rng.random((120, 2)) < 0.3).astype(int)
    f1, thr = best_f1(probs, labels)
    for i in range(2):
        brute = max(au_metrics(probs[:, i : i + 1], labels[:, i : i + 1], t).f1[0] for t in probs[:, i])
        assert f1[i] == pytest.approx(brute)
        assert au_metrics(probs[:, i : i + 1], labels[:, i : i + 1], thr[i]).f1[0] == pytest.approx(f1[i])
    f1, thr = best_f1(np.array([[0.2], [0.8], [0.5]]), np.array([[0], [1], [0]]))
    assert f1[0] == 1.0 and thr[0] == 0.8
