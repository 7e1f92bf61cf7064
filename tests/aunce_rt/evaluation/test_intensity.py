"""aunce_rt.evaluation.intensity: ICC(3,1) against a textbook value and hand computations, r, MAE."""

from __future__ import annotations

import numpy as np
import pytest

from aunce_rt.evaluation.intensity import icc_3_1, intensity_metrics, pearson

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges; their ICC(3,1) is 0.71.
SHROUT_FLEISS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
)


def test_icc_3_1_matches_shrout_and_fleiss():
    # BMS = 11.24, EMS = 1.02 (their Table 3): (11.24 - 1.02) / (11.24 + 3 * 1.02) = 0.7147
    assert icc_3_1(SHROUT_FLEISS) == pytest.approx(0.7148, abs=5e-4)


def test_icc_3_1_two_raters_by_hand():
    # truth (1, 2, 3), prediction (2, 2, 4): grand mean 7/3; row means 1.5, 2, 3.5; column means 2, 8/3
    # SS_total = (16 + 1 + 1 + 1 + 4 + 25) / 9 = 16/3
    # SS_rows = 2 * (25 + 4 + 49) / 36 = 13/3; SS_cols = 3 * (1/9 + 1/9) = 2/3; SS_err = 1/3
    # MS_R = (13/3) / 2 = 13/6, MS_E = (1/3) / (2 * 1) = 1/6 -> (13/6 - 1/6) / (13/6 + 1/6) = 6/7
    table = np.array([[1, 2], [2, 2], [3, 4]], float)
    assert icc_3_1(table) == pytest.approx(6 / 7)


def test_icc_is_consistency_not_agreement():
    truth = np.array([0.0, 1.0, 2.5, 4.0, 5.0])
    assert icc_3_1(np.stack([truth, truth + 1.0], 1)) == pytest.approx(1.0)  # an offset costs nothing
    assert icc_3_1(np.stack([truth, truth * 0.5], 1)) < 0.95  # a wrong scale does
    assert np.isnan(icc_3_1(np.ones((4, 2))))
    assert np.isnan(icc_3_1(np.ones((1, 2))))


def test_intensity_metrics_per_au_and_nan_rows():
    truth = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0], [3.0, 5.0]])
    pred = np.array([[0.5, 1.0], [1.5, np.nan], [2.5, 3.0], [3.5, 4.0]])
    m = intensity_metrics(pred, truth, (1, 12))
    assert m.icc[0] == pytest.approx(1.0) and m.mae[0] == pytest.approx(0.5)
    assert m.pearson[1] == pytest.approx(pearson(np.array([1.0, 3, 5]), np.array([1.0, 3, 4])))
    assert m.mae[1] == pytest.approx(1 / 3)  # the NaN row is left out
    d = m.to_dict()
    assert set(d["per_au"]) == {"AU01", "AU12"} and d["mean_icc"] == pytest.approx(np.mean(m.icc))
    with pytest.raises(ValueError, match="must both be"):
        intensity_metrics(pred, truth[:2], (1, 12))
