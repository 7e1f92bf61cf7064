"""Fitting the AU intensity head: ridge regression on landmark geometry, on OpenFace's 0-5 scale.

Beside the occurrence head (``_geometry_fit``), one linear map from the same 1434 aligned
coordinates to every AU's intensity, trained where the truth is exact: SynthAU renders,
whose ``SynthAU.truth(i)`` gives intensities in [0, 1] (no rendering needed), times 5.
Absent AUs (0) and traces (< 0.25 x 5) are kept, so that the head learns what 0 looks like.
Real CC BY faces have no intensity truth and are left out. As for the occurrence head:

* the SynthAU geometry is moved by the neutral offset (mean neutral real face minus mean
  neutral SynthAU face, ``_geometry_fit.neutral_offset``), so that the rendered heads'
  systematic shape is not read as expression on real faces;
* every row also enters mirrored, and the fitted head is symmetrised
  (``_geometry_fit.symmetrise``), so a face and its mirror image get the same intensities.

Per the ridge strength ``alpha``: features standardised, one closed-form solve for all AUs
``W = (Z'Z + alpha I)^-1 Z'(Y - mean Y)``, folded into a ``GeometryHead`` (the ONNX graph
clips its output to [0, 5]). ``alpha`` is chosen among ``ALPHAS`` by the mean ICC(3,1) on
held-out SynthAU people (the calibration half of the recipe's held-out renders, never the
people it reports on).

Example:
    >>> y = synth_intensities(np.arange(3), seed=0, split="train")  # doctest: +SKIP
    >>> y.shape, float(y.max()) <= 5
    ((3, 12), True)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from aunce_rt.geometry import NUM_POINTS, mirror_landmarks

if TYPE_CHECKING:
    from aunce_rt.export._geometry_head import GeometryHead

logger = logging.getLogger(__name__)

ALPHAS = (0.01, 0.1, 1.0, 10.0)
SCALE = 5.0  # SynthAU intensities in [0, 1] -> OpenFace's 0-5


@dataclass(frozen=True)
class IntensityFit:
    """The chosen intensity head and how it was chosen.

    Attributes:
        head: ``GeometryHead`` whose (unclipped) outputs are 0-5 intensities, one column per AU.
        alpha: the chosen ridge strength.
        validation_icc: mean ICC(3,1) on the validation people, per alpha tried.
        rows: training rows (mirrored copies included).
    """

    head: GeometryHead
    alpha: float
    validation_icc: dict[float, float]
    rows: int


def synth_intensities(index: np.ndarray, *, seed: int, split: str) -> np.ndarray:
    """(n, K) true intensities (0-5) of SynthAU samples ``index`` of ``(seed, split)``; no rendering."""
    from aunce_rt.synthau import SynthAU

    gen = SynthAU(seed=seed, split=split)
    return SCALE * np.stack([gen.truth(int(i))[3] for i in index]).astype(np.float64)


def standardised_ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge of (S, K) ``y`` on (S, D) ``x`` with standardised features, folded back to raw units.

    Returns (D, K) weights and (K,) bias with ``y ~ x @ weights + bias``; ``alpha`` acts on the
    standardised features (constant columns are left unscaled).
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    mean, scale = x.mean(0), x.std(0)
    scale = np.where(scale > 0, scale, 1.0)
    z = (x - mean) / scale  # (S, D)
    y_mean = y.mean(0)
    coef = np.linalg.solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ (y - y_mean))  # (D, K)
    return coef / scale[:, None], y_mean - (mean / scale) @ coef


def fit_ridge(
    landmarks: np.ndarray, targets: np.ndarray, alpha: float, perm: np.ndarray | None = None
) -> GeometryHead:
    """Standardised ridge regression of (S, K) ``targets`` on (S, 478, 3) geometry -> ``GeometryHead``.

    With ``perm`` (the FaceMesh mirror permutation) every row also enters mirrored and the
    fitted head is symmetrised.
    """
    from aunce_rt.export._geometry_head import GeometryHead
    from aunce_rt.pipelines._geometry_fit import symmetrise

    lm = np.asarray(landmarks, np.float32)
    y = np.asarray(targets, np.float64)
    if perm is not None:
        lm, y = np.concatenate([lm, mirror_landmarks(lm, perm)]), np.concatenate([y, y])
    weights, bias = standardised_ridge(lm.reshape(len(lm), NUM_POINTS * 3), y, alpha)
    head = GeometryHead(weights=weights.astype(np.float32), bias=bias.astype(np.float32))
    return symmetrise(head, perm) if perm is not None else head


def fit_intensity(
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    *,
    perm: np.ndarray | None,
    offset: np.ndarray | None = None,
    alphas: tuple[float, ...] = ALPHAS,
) -> IntensityFit:
    """The intensity head of the ``alpha`` with the best mean ICC(3,1) on ``validation``.

    Args:
        train: (S, 478, 3) SynthAU geometry and (S, K) true intensities (0-5).
        validation: the same of other people (scored as the runtime sees them: no offset).
        perm: mirror permutation (mirrored rows + symmetrised head), or None.
        offset: (478, 3) neutral offset added to the training geometry, or None.
        alphas: ridge strengths to try.
    """
    from aunce_rt.evaluation.intensity import intensity_metrics

    if not alphas:
        raise ValueError("give at least one ridge strength (alphas)")
    lm, y = train
    if offset is not None:
        lm = lm + offset[None]
    k = y.shape[1]
    scores: dict[float, float] = {}
    heads = {}
    for alpha in alphas:
        heads[alpha] = fit_ridge(lm, y, alpha, perm)
        pred = np.clip(heads[alpha].logits(validation[0]), 0.0, SCALE)
        scores[alpha] = intensity_metrics(pred, validation[1], tuple(range(k))).mean_icc
        logger.info("intensity head, alpha %g: validation mean ICC(3,1) %.3f", alpha, scores[alpha])
    best = max(alphas, key=lambda a: np.nan_to_num(scores[a], nan=-np.inf))
    return IntensityFit(heads[best], best, scores, len(lm) * (2 if perm is not None else 1))


def _people(held: dict[str, np.ndarray], even: bool) -> np.ndarray:
    """Found faces of the even (validation) or odd (reporting) held-out SynthAU identities."""
    return held["found"].astype(bool) & ((held["identity"] % 2 == 0) == even)


def recipe_intensity(
    synth: dict[str, np.ndarray],
    real: dict[str, np.ndarray] | None,
    held: dict[str, np.ndarray],
    perm: np.ndarray | None,
    *,
    seeds: tuple[int, int],
) -> IntensityFit:
    """The real-face recipe's intensity head: SynthAU training renders, even held-out people validate.

    Args:
        synth, held: feature dicts of ``_geometry_data.synth_features`` (training, held-out test split).
        real: the real faces' features (for the neutral offset), or None for no offset.
        perm: mirror permutation, or None.
        seeds: the SynthAU seeds of ``synth`` and ``held``.
    """
    from aunce_rt.pipelines._geometry_fit import neutral_offset

    f, val = synth["found"].astype(bool), _people(held, even=True)
    train = (synth["landmarks"][f], synth_intensities(synth["index"][f], seed=seeds[0], split="train"))
    validation = (held["landmarks"][val], synth_intensities(held["index"][val], seed=seeds[1], split="test"))
    offset = neutral_offset(synth, real) if real is not None else None
    return fit_intensity(train, validation, perm=perm, offset=offset)


def heldout_intensity(head: GeometryHead, held: dict[str, np.ndarray], *, seed: int) -> dict:
    """Intensity metrics (``IntensityMetrics.to_dict``) of ``head`` on the odd held-out SynthAU people."""
    from aunce_rt.evaluation.intensity import intensity_metrics

    rep = _people(held, even=False)
    pred = np.clip(head.logits(held["landmarks"][rep]), 0.0, SCALE)
    truth = synth_intensities(held["index"][rep], seed=seed, split="test")
    return intensity_metrics(pred, truth, tuple(int(c) for c in held["au_codes"])).to_dict()
