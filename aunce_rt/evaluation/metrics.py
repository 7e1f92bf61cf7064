"""AU detection metrics: F1 per AU, F1-macro (the headline), F1-micro, accuracy.

Works on numpy arrays or torch tensors (converted with ``.detach().cpu()``;
this module itself does not import torch).

Conventions (spec/AUNCE.md, "Training protocol"):

- A prediction is positive when ``prob >= threshold`` (0.5 by default, or one
  threshold per AU).
- Labels are in {-1, 0, 1}; -1 (not annotated) entries are ignored everywhere.
- F1_i = 2 TP / (2 TP + FP + FN). An AU with no positive label and no positive
  prediction (0 / 0) gets F1 = 0, as sklearn's ``zero_division=0``.
- F1-macro = mean of F1_i over all AUs; F1-micro = F1 of TP/FP/FN pooled over AUs.
- Accuracy_i = (TP + TN) / #labelled; NaN for an AU without a labelled sample,
  and ``accuracy_mean`` averages the AUs that have one.
- Exact match = fraction of samples (with at least one labelled AU) whose
  labelled AUs are all predicted right; NaN if no sample has a label.

Example:
    >>> import numpy as np
    >>> m = au_metrics(np.array([[0.9, 0.2], [0.4, 0.7]]), np.array([[1, 0], [1, 1]]))
    >>> round(m.f1_macro, 4), m.exact_match
    (0.8333, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from aunce_rt.aus import au_label


def _to_numpy(x: Any) -> np.ndarray:
    """numpy view of an array-like or a torch tensor (detached, on CPU)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _nan_to_none(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


@dataclass(frozen=True)
class AUMetrics:
    """Detection metrics of S samples over N AUs.

    Attributes:
        f1: (N,) F1 per AU (0 when undefined).
        f1_macro: mean of ``f1`` over AUs, the paper's headline "F1".
        f1_micro: F1 of TP/FP/FN pooled over all AUs.
        accuracy: (N,) accuracy per AU over its labelled samples (NaN if none).
        accuracy_mean: mean of ``accuracy`` over AUs with labelled samples.
        exact_match: fraction of samples whose labelled AUs are all right.
        support: (N,) number of positive labels per AU.
        precision: (N,) TP / (TP + FP) per AU (0 when undefined).
        recall: (N,) TP / (TP + FN) per AU (0 when undefined).
        labelled: (N,) number of labelled (not -1) samples per AU.
    """

    f1: np.ndarray
    f1_macro: float
    f1_micro: float
    accuracy: np.ndarray
    accuracy_mean: float
    exact_match: float
    support: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    labelled: np.ndarray

    def _check_codes(self, au_codes: Sequence[int]) -> list[int]:
        codes = [int(c) for c in au_codes]
        if len(codes) != len(self.f1):
            raise ValueError(
                f"got {len(codes)} AU codes for metrics over {len(self.f1)} AUs; pass the model's AU list "
                "in label-column order"
            )
        return codes

    def to_dict(self, au_codes: Sequence[int]) -> dict[str, Any]:
        """JSON-ready summary: headline numbers and a per-AU block keyed 'AU01', ...

        Values are fractions in [0, 1]; undefined ones (NaN) become None.
        """
        codes = self._check_codes(au_codes)
        per_au = {
            au_label(code): {
                "f1": float(self.f1[i]),
                "precision": float(self.precision[i]),
                "recall": float(self.recall[i]),
                "accuracy": _nan_to_none(float(self.accuracy[i])),
                "support": int(self.support[i]),
                "labelled": int(self.labelled[i]),
            }
            for i, code in enumerate(codes)
        }
        return {
            "f1_macro": float(self.f1_macro),
            "f1_micro": float(self.f1_micro),
            "accuracy_mean": _nan_to_none(self.accuracy_mean),
            "exact_match": _nan_to_none(self.exact_match),
            "per_au": per_au,
        }

    def format_table(self, au_codes: Sequence[int]) -> str:
        """Plain-text table, percentages with one decimal, one row per AU plus the means."""

        def pct(value: float) -> str:
            return f"{100 * value:6.1f}" if not math.isnan(value) else f"{'n/a':>6}"

        codes = self._check_codes(au_codes)
        lines = [f"{'AU':<6}{'F1':>6}{'Prec':>6}{'Rec':>6}{'Acc':>6}{'pos/n':>14}"]
        for i, code in enumerate(codes):
            count = f"{int(self.support[i])}/{int(self.labelled[i])}"
            lines.append(
                f"{au_label(code):<6}{pct(self.f1[i])}{pct(self.precision[i])}{pct(self.recall[i])}"
                f"{pct(self.accuracy[i])}{count:>14}"
            )
        lines.append(f"{'mean':<6}{pct(self.f1_macro)}{'':>6}{'':>6}{pct(self.accuracy_mean)}")
        lines.append(
            f"F1-macro {pct(self.f1_macro).strip()}  F1-micro {pct(self.f1_micro).strip()}  "
            f"exact match {pct(self.exact_match).strip()}"
        )
        return "\n".join(lines)


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator with 0 where the denominator is 0."""
    out = np.zeros(np.shape(numerator), dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=np.asarray(denominator) > 0)
    return out


class _Confusion(NamedTuple):
    tp: np.ndarray  # (N,) counts per AU
    fp: np.ndarray
    fn: np.ndarray
    tn: np.ndarray
    valid: np.ndarray  # (S, N) labelled entries
    positive: np.ndarray  # (S, N) label == 1
    pred: np.ndarray  # (S, N) predicted present


def _confusion(probs: Any, labels: Any, thresholds: float | Sequence[float] | Any) -> _Confusion:
    """Validated inputs -> per-AU confusion counts (-1 labels ignored)."""
    p = _to_numpy(probs).astype(np.float64)
    y = _to_numpy(labels)
    if p.ndim != 2 or y.shape != p.shape:
        raise ValueError(
            f"probs and labels must both have shape (S, N) (samples x AUs), got {p.shape} and {y.shape}"
        )
    if np.isnan(p).any():
        raise ValueError("probs contain NaN; check the model outputs before computing metrics")
    if not np.isin(y, (-1, 0, 1)).all():
        raise ValueError(
            f"labels must be in {{-1, 0, 1}} (-1 = not annotated), got {np.unique(y)[:10].tolist()}"
        )
    num_aus = p.shape[1]
    t = np.asarray(_to_numpy(thresholds), dtype=np.float64)
    if t.ndim == 0:
        t = np.full(num_aus, float(t))
    if t.shape != (num_aus,):
        raise ValueError(f"thresholds must be a scalar or have shape (N,) = ({num_aus},), got {t.shape}")

    pred = p >= t[None, :]  # (S, N)
    valid = y >= 0  # (S, N)
    positive = y == 1  # (S, N)
    negative = y == 0  # (S, N)
    tp = (pred & positive).sum(axis=0)  # (N,)
    fp = (pred & negative).sum(axis=0)  # (N,)
    fn = (~pred & positive).sum(axis=0)  # (N,)
    tn = (~pred & negative).sum(axis=0)  # (N,)

    return _Confusion(tp, fp, fn, tn, valid, positive, pred)


def au_metrics(probs: Any, labels: Any, thresholds: float | Sequence[float] | Any = 0.5) -> AUMetrics:
    """Compute AU detection metrics.

    Args:
        probs: (S, N) probabilities (numpy array or torch tensor).
        labels: (S, N) labels in {-1, 0, 1}; -1 is ignored.
        thresholds: a scalar, or (N,) one per AU; predicted positive when prob >= threshold.

    Returns:
        AUMetrics; see the module docstring for the conventions.
    """
    c = _confusion(probs, labels, thresholds)
    tp, fp, fn, tn, valid, positive, pred = c.tp, c.fp, c.fn, c.tn, c.valid, c.positive, c.pred
    num_aus = tp.shape[0]
    labelled = valid.sum(axis=0)  # (N,)

    f1 = _safe_ratio(2 * tp, 2 * tp + fp + fn)  # (N,)
    precision = _safe_ratio(tp, tp + fp)
    recall = _safe_ratio(tp, tp + fn)
    accuracy = np.full(num_aus, np.nan)
    np.divide(tp + tn, labelled, out=accuracy, where=labelled > 0)
    pooled = 2 * tp.sum() + fp.sum() + fn.sum()
    f1_micro = float(2 * tp.sum() / pooled) if pooled > 0 else 0.0
    accuracy_mean = float(np.mean(accuracy[labelled > 0])) if (labelled > 0).any() else math.nan

    has_label = valid.any(axis=1)  # (S,)
    all_right = ((pred == positive) | ~valid).all(axis=1)  # (S,)
    exact_match = float(all_right[has_label].mean()) if has_label.any() else math.nan

    arrays = {
        "f1": f1,
        "accuracy": accuracy,
        "support": positive.sum(axis=0),
        "precision": precision,
        "recall": recall,
        "labelled": labelled,
    }
    for value in arrays.values():
        value.setflags(write=False)
    return AUMetrics(
        f1_macro=float(f1.mean()) if num_aus else math.nan,
        f1_micro=f1_micro,
        accuracy_mean=accuracy_mean,
        exact_match=exact_match,
        **arrays,
    )


def f1_at_rates(
    probs: Any, labels: Any, rates: Any, thresholds: float | Sequence[float] | Any = 0.5
) -> np.ndarray:
    """Per-AU F1 as if each AU occurred at ``rates`` (prevalence-calibrated F1).

    F1 depends on how often the positive class occurs: the same detector scores
    lower where an AU is rarer. To compare two test sets with different AU rates,
    re-weight the positives of this one so its rate of AU i becomes ``rates[i]``
    (recall unchanged, precision as at that rate; Siblini et al., "Master your
    metrics with calibration", IDA 2020): with pi the observed rate and
    w = odds(rates[i]) / odds(pi), F1 = 2 w TP / (2 w TP + FP + w FN).

    Args:
        probs: (S, N) probabilities.
        labels: (S, N) labels in {-1, 0, 1}; -1 is ignored.
        rates: (N,) reference positive rates in (0, 1).
        thresholds: as in :func:`au_metrics`.

    Returns:
        (N,) F1 per AU; 0 where this set has no positive or no negative of an AU.
    """
    c = _confusion(probs, labels, thresholds)
    r = np.asarray(_to_numpy(rates), dtype=np.float64)
    if r.shape != c.tp.shape or not ((r > 0) & (r < 1)).all():
        raise ValueError(f"rates must be (N,) = {c.tp.shape} values in (0, 1); got {r}")
    positives, negatives = c.tp + c.fn, c.fp + c.tn  # (N,)
    w = _safe_ratio(r / (1 - r) * negatives, positives)  # odds(rate) / odds(observed)
    f1 = _safe_ratio(2 * w * c.tp, 2 * w * c.tp + c.fp + w * c.fn)
    return np.where((positives > 0) & (negatives > 0), f1, 0.0)


def best_thresholds(
    probs: Any, labels: Any, grid: Sequence[float] | None = None, default: float = 0.5
) -> np.ndarray:
    """Per-AU decision thresholds that maximise F1 on a (validation) split.

    Calibrate on held-out training subjects, never on the test split. An AU with
    no labelled positive keeps ``default``; ties keep the threshold closest to it.

    Args:
        probs: (S, N) probabilities.
        labels: (S, N) in {-1, 0, 1} (-1 ignored).
        grid: candidate thresholds (default 0.05, 0.10, ..., 0.95).
        default: threshold kept when F1 cannot decide.

    Returns:
        (N,) float thresholds.
    """
    p, y = _to_numpy(probs).astype(np.float64), _to_numpy(labels)
    if p.shape != y.shape or p.ndim != 2:
        raise ValueError(f"probs and labels must both be (S, N); got {p.shape} and {y.shape}")
    cands = np.asarray(grid if grid is not None else np.round(np.arange(0.05, 0.96, 0.05), 2))
    order = np.argsort(np.abs(cands - default), kind="stable")  # prefer thresholds near the default
    out = np.full(p.shape[1], float(default))
    for i in range(p.shape[1]):
        known = y[:, i] >= 0
        if not (y[known, i] == 1).any():
            continue
        scores = [au_metrics(p[known, i : i + 1], y[known, i : i + 1], float(t)).f1[0] for t in cands[order]]
        out[i] = float(cands[order][int(np.argmax(scores))])
    return out


def roc_auc(probs: Any, labels: Any) -> np.ndarray:
    """Area under the ROC curve per AU (threshold-free), -1 labels ignored.

    The Mann-Whitney form: the probability that a random positive scores above a
    random negative, ties counting one half (average ranks), as
    ``sklearn.metrics.roc_auc_score``.

    Args:
        probs: (S, N) scores.
        labels: (S, N) labels in {-1, 0, 1}.

    Returns:
        (N,) AUC per AU; NaN where an AU has no labelled positive or no labelled negative.
    """
    c = _confusion(probs, labels, 0.5)  # validates shapes and label values
    p = _to_numpy(probs).astype(np.float64)
    out = np.full(p.shape[1], np.nan)
    for i in range(p.shape[1]):
        known = c.valid[:, i]
        scores, pos = p[known, i], c.positive[known, i]
        n_pos, n_neg = int(pos.sum()), int((~pos).sum())
        if n_pos == 0 or n_neg == 0:
            continue
        order = np.argsort(scores, kind="mergesort")
        ranks = np.empty(scores.size)
        ranks[order] = np.arange(1, scores.size + 1)
        _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
        sums = np.bincount(inverse, weights=ranks)
        ranks = (sums / counts)[inverse]  # average rank of tied scores
        out[i] = (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return out


def best_f1(probs: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-AU F1 at the threshold that maximises it on these very samples (an optimistic oracle).

    Reports how separable each AU is at its best operating point; never use it to
    choose a shipped model's thresholds on an evaluation set (``best_thresholds`` on a
    validation split is for that).

    Returns:
        (f1, thresholds), each (N,): the best F1 and the score threshold reaching it
        (predicted present when ``prob >= threshold``); (0, NaN) without a labelled positive.
    """
    c = _confusion(probs, labels, 0.5)
    p = _to_numpy(probs).astype(np.float64)
    f1 = np.zeros(p.shape[1])
    thr = np.full(p.shape[1], np.nan)
    for i in range(p.shape[1]):
        known = c.valid[:, i]
        scores, pos = p[known, i], c.positive[known, i]
        n_pos = int(pos.sum())
        if n_pos == 0:
            continue
        order = np.argsort(-scores, kind="mergesort")
        s, y = scores[order], pos[order]
        last = np.r_[np.flatnonzero(s[1:] != s[:-1]), s.size - 1]  # end of each run of tied scores
        tp = np.cumsum(y)[last]
        fp = (last + 1) - tp
        scores_f1 = 2 * tp / (2 * tp + fp + (n_pos - tp))
        best = int(np.argmax(scores_f1))
        f1[i], thr[i] = scores_f1[best], s[last[best]]
    return f1, thr
