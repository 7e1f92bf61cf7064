"""AU intensity metrics as the field reports them: ICC(3,1), Pearson r and MAE per AU, and their mean.

ICC(3,1) (Shrout & Fleiss, 1979, case 3, single rater; McGraw & Wong's "consistency,
two-way mixed, single measure", ICC(C,1)) on an (n targets, k raters) table::

    MS_R = k * sum_i (mean_i. - mean..)^2 / (n - 1)          between targets (rows)
    MS_E = SS_E / ((n - 1)(k - 1)),  SS_E = SS_total - SS_rows - SS_columns
    ICC(3,1) = (MS_R - MS_E) / (MS_R + (k - 1) MS_E)

For AU intensity the two "raters" are the truth and the prediction of every frame; a
constant offset between them does not lower ICC(3,1) (consistency), a wrong scale does.
This is the figure DISFA/BP4D intensity papers and OpenFace report.

Example:
    >>> table = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
    >>> round(icc_3_1(table), 2)  # Shrout & Fleiss (1979), Table 2: 0.71
    0.71
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from aunce_rt.aus import au_label


def icc_3_1(ratings: np.ndarray) -> float:
    """ICC(3,1) of an (n, k) table: n targets rated by k raters (consistency, two-way mixed, single).

    Returns NaN when it is undefined: fewer than 2 targets or raters, or no variance at all.
    """
    x = np.asarray(ratings, np.float64)
    if x.ndim != 2:
        raise ValueError(f"ratings must be an (n targets, k raters) table; got shape {x.shape}")
    n, k = x.shape
    if n < 2 or k < 2:
        return float("nan")
    grand = x.mean()
    ss_rows = k * np.sum((x.mean(1) - grand) ** 2)
    ss_cols = n * np.sum((x.mean(0) - grand) ** 2)
    ss_err = np.sum((x - grand) ** 2) - ss_rows - ss_cols
    ms_rows = ss_rows / (n - 1)
    ms_err = ss_err / ((n - 1) * (k - 1))
    denom = ms_rows + (k - 1) * ms_err
    return float((ms_rows - ms_err) / denom) if denom > 0 else float("nan")


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two series; NaN when either is constant or shorter than 2."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


@dataclass(frozen=True)
class IntensityMetrics:
    """Per-AU agreement of predicted with true intensities (both on the same scale, 0-5).

    Attributes:
        au_codes: the AUs, in column order.
        icc: (K,) ICC(3,1) of (truth, prediction) per AU.
        pearson: (K,) Pearson r per AU.
        mae: (K,) mean absolute error per AU.
        samples: number of frames/faces scored.
    """

    au_codes: tuple[int, ...]
    icc: np.ndarray
    pearson: np.ndarray
    mae: np.ndarray
    samples: int

    @property
    def mean_icc(self) -> float:
        return float(np.nanmean(self.icc))

    @property
    def mean_pearson(self) -> float:
        return float(np.nanmean(self.pearson))

    @property
    def mean_mae(self) -> float:
        return float(np.nanmean(self.mae))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: per AU ``{"icc", "pearson", "mae"}`` and the means."""
        return {
            "per_au": {
                au_label(c): {"icc": float(i), "pearson": float(r), "mae": float(m)}
                for c, i, r, m in zip(self.au_codes, self.icc, self.pearson, self.mae, strict=True)
            },
            "mean_icc": self.mean_icc,
            "mean_pearson": self.mean_pearson,
            "mean_mae": self.mean_mae,
            "samples": self.samples,
        }


def intensity_metrics(pred: np.ndarray, truth: np.ndarray, au_codes: tuple[int, ...]) -> IntensityMetrics:
    """ICC(3,1), Pearson r and MAE per AU of (S, K) predicted against (S, K) true intensities.

    Rows with a NaN in either table (no face, no estimate) are left out per AU.
    """
    p, t = np.asarray(pred, np.float64), np.asarray(truth, np.float64)
    if p.shape != t.shape or p.ndim != 2 or p.shape[1] != len(au_codes):
        raise ValueError(
            f"predictions {p.shape} and truth {t.shape} must both be (S, {len(au_codes)}) for AUs {au_codes}"
        )
    icc, r, mae = (np.full(len(au_codes), np.nan) for _ in range(3))
    for j in range(len(au_codes)):
        ok = np.isfinite(p[:, j]) & np.isfinite(t[:, j])
        if ok.sum() < 2:
            continue
        icc[j] = icc_3_1(np.stack([t[ok, j], p[ok, j]], axis=1))
        r[j] = pearson(t[ok, j], p[ok, j])
        mae[j] = float(np.abs(p[ok, j] - t[ok, j]).mean())
    return IntensityMetrics(tuple(int(c) for c in au_codes), icc, r, mae, int(len(p)))
