"""Fitting the real-face AU head: per-AU logistic regression on landmark geometry (+ appearance).

Training rows come from ``_geometry_data``: SynthAU renders with exact AU truth
(weight 1) and permissive real faces with the blendshape teacher's AU scores as
SOFT targets (each real face enters twice: as a positive with weight p and as a
negative with weight 1 - p). Options, each a lever of the recipe:

* ``mirror``: every row also enters mirrored (x reflected, points re-indexed by the
  FaceMesh mirror permutation; the appearance scores of the mirrored crop), so the
  head treats a face and its mirror image alike;
* ``balanced``: per AU, sklearn's "balanced" factor n / (2 n_c) on the weighted class
  totals, so 0.5 is a sensible decision threshold for rare AUs;
* ``appearance``: the appearance model's logits (K values) join the 1434 coordinates;
* ``symmetric``: the fitted head is averaged with its mirror image, so that a face and
  its mirror image get exactly the same scores (up to the landmarker's own asymmetry);
* ``align_neutral``: the SynthAU geometry is moved by the difference between the mean
  NEUTRAL real face (the real photos filed as neutral) and the mean neutral SynthAU
  face (renders with no AU present), so that the rendered heads' systematic shape
  (brow height, lip thickness, ...) is not read as expression on real faces.

Per AU: ``StandardScaler`` + ``LogisticRegression`` (lbfgs), folded into one affine
map (``export._geometry_head.GeometryHead``) that the ONNX graph computes.

Example:
    >>> perm = mirror_permutation(np.random.default_rng(0).normal(size=(478, 3)))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from aunce_rt.align import INPUT_SIZE
from aunce_rt.geometry import NUM_POINTS, mirror_landmarks

logger = logging.getLogger(__name__)

EPS = 1e-4


@dataclass(frozen=True)
class HeadConfig:
    """One lever setting of the real-face head.

    Attributes:
        c: inverse L2 strength of the logistic regressions (one for all AUs).
        mirror: add the mirrored copy of every training row.
        balanced: class-balanced sample weights per AU.
        appearance: fuse the appearance model's logits.
        real: use the real faces with teacher soft targets.
        align_neutral: shift SynthAU geometry by (mean neutral real - mean neutral SynthAU).
        symmetric: average the fitted head with its mirror image (``symmetrise``).
        tol: lbfgs tolerance.
    """

    c: float = 1.0
    mirror: bool = False
    balanced: bool = True
    appearance: bool = False
    real: bool = True
    align_neutral: bool = False
    symmetric: bool = False
    tol: float = 1e-3


@dataclass
class Rows:
    """Training rows: geometry (S, 478, 3), appearance logits (S, K), targets (S, K), weights (S, K)."""

    landmarks: np.ndarray
    app_logits: np.ndarray
    targets: np.ndarray
    weights: np.ndarray

    def __len__(self) -> int:
        return len(self.landmarks)

    @staticmethod
    def concat(parts: list[Rows]) -> Rows:
        return Rows(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in ("landmarks", "app_logits", "targets", "weights")
            )
        )


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def mirror_permutation(mean_shape: np.ndarray) -> np.ndarray:
    """Each FaceMesh point's mirror partner, from a mean aligned face (478, 3).

    The mean face is reflected about the crop's vertical centre line and matched to
    itself by the assignment of least total distance (Hungarian), which yields a
    bijection; points on the midline map to themselves. A mean over many faces of
    varied pose is symmetric enough that the matching is the mesh's own symmetry.
    """
    from scipy.optimize import linear_sum_assignment

    pts = np.asarray(mean_shape, np.float64)[:, :2]
    mirrored = pts.copy()
    mirrored[:, 0] = INPUT_SIZE - mirrored[:, 0]
    cost = np.linalg.norm(pts[:, None] - mirrored[None], axis=-1)
    rows, cols = linear_sum_assignment(cost)
    perm = np.empty(len(pts), np.int64)
    perm[rows] = cols
    not_involution = int(np.sum(perm[perm] != np.arange(len(pts))))
    if not_involution:
        logger.warning("mirror permutation: %d points are not mutual partners", not_involution)
    return perm


def synth_rows(data: dict[str, np.ndarray]) -> Rows:
    """SynthAU rows with a face: hard truth, weight 1."""
    f = data["found"].astype(bool)
    y = data["labels"][f].astype(np.float64)
    return Rows(data["landmarks"][f], logit(data["app"][f]), y, np.ones_like(y))


def synth_rows_mirrored(data: dict[str, np.ndarray], perm: np.ndarray) -> Rows:
    f = data["found"].astype(bool)
    y = data["labels"][f].astype(np.float64)
    return Rows(mirror_landmarks(data["landmarks"][f], perm), logit(data["app_flip"][f]), y, np.ones_like(y))


def real_rows(data: dict[str, np.ndarray], perm: np.ndarray | None = None) -> Rows:
    """Real faces with soft teacher targets: each face as a positive (weight p) and a negative (1 - p)."""
    f = data["found"].astype(bool)
    lm = data["landmarks"][f]
    app = data["app"][f]
    if perm is not None:
        lm, app = mirror_landmarks(lm, perm), data["app_flip"][f]
    p = data["teacher"][f].astype(np.float64)
    ones = np.ones_like(p)
    return Rows(
        np.concatenate([lm, lm]),
        np.concatenate([logit(app), logit(app)]),
        np.concatenate([ones, 0 * ones]),
        np.concatenate([p, 1 - p]),
    )


def balanced_weights(rows: Rows) -> np.ndarray:
    """(S, K) weights times sklearn's "balanced" factor n / (2 n_c), on the weighted class totals per AU."""
    w, y = rows.weights, rows.targets
    total = w.sum(0)
    pos = (w * y).sum(0)
    factor = np.where(
        y == 1, total / (2 * np.maximum(pos, 1e-9)), total / (2 * np.maximum(total - pos, 1e-9))
    )
    return w * factor


def features(rows: Rows, appearance: bool) -> np.ndarray:
    x = rows.landmarks.reshape(len(rows), NUM_POINTS * 3).astype(np.float64)
    return np.hstack([x, rows.app_logits]) if appearance else x


UPPER_AUS = (1, 2, 4, 5, 6, 7, 43, 45)  # brows, lids, cheeks: read above the nose tip
NOSE_TIP, EYE_CORNERS = 1, (33, 133, 362, 263)


def region_masks(mean_face: np.ndarray, au_codes: tuple[int, ...]) -> np.ndarray:
    """(K, 478 * 3) bool: the coordinates each AU's model may read.

    Upper-face AUs (``UPPER_AUS``) read the points above the nose tip of the mean aligned
    face; the others read the points below the eyes (the mean of the four eye corners).
    The regions overlap between the eyes and the nose tip; both are mirror-symmetric.
    """
    y = np.asarray(mean_face)[:, 1]
    upper = y < y[NOSE_TIP]
    lower = y > y[list(EYE_CORNERS)].mean()
    return np.stack([np.repeat(upper if c in UPPER_AUS else lower, 3) for c in au_codes])


def fit_head(rows: Rows, config: HeadConfig, n_jobs: int = 2, masks: np.ndarray | None = None):
    """Per-AU standardised logistic regressions on ``rows``, folded into one ``GeometryHead``.

    ``masks`` (K, 1434) bool, optional: AU k's model reads only the coordinates of ``masks[k]``
    (``region_masks``; geometry-only heads).
    """
    from joblib import Parallel, delayed
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from aunce_rt.export._geometry_head import GeometryHead

    x = features(rows, config.appearance)
    w = balanced_weights(rows) if config.balanced else rows.weights
    scaler = StandardScaler().fit(x)
    z = scaler.transform(x)
    k = rows.targets.shape[1]

    def one(j: int) -> tuple[np.ndarray, float]:
        keep = w[:, j] > 0
        cols = np.flatnonzero(masks[j]) if masks is not None else np.arange(z.shape[1])
        lr = LogisticRegression(C=config.c, max_iter=2000, tol=config.tol)
        lr.fit(z[keep][:, cols], rows.targets[keep, j].astype(int), sample_weight=w[keep, j])
        coef = np.zeros(z.shape[1])
        coef[cols] = lr.coef_[0]
        return coef, float(lr.intercept_[0])

    fits = Parallel(n_jobs=n_jobs, prefer="threads")(delayed(one)(j) for j in range(k))
    coef = np.stack([c for c, _ in fits], axis=1)  # (D, K) on standardised features
    intercept = np.array([b for _, b in fits])
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    folded = coef / scale[:, None]
    bias = intercept - (scaler.mean_ / scale) @ coef
    d = NUM_POINTS * 3
    return GeometryHead(
        weights=folded[:d].astype(np.float32),
        bias=bias.astype(np.float32),
        appearance_weights=folded[d:].astype(np.float32) if config.appearance else None,
    )


def neutral_offset(
    synth: dict[str, np.ndarray], real: dict[str, np.ndarray], marker: str = "neutral/"
) -> np.ndarray:
    """(478, 3) mean neutral real face minus mean neutral SynthAU face, in the aligned frame.

    Neutral real faces: those whose name starts with ``marker`` (the photos filed as
    neutral); neutral SynthAU renders: no AU present in the truth.
    """
    names = np.array([str(n) for n in real["names"]])
    real_neutral = real["found"].astype(bool) & np.char.startswith(names, marker)
    synth_neutral = synth["found"].astype(bool) & (synth["labels"] == 0).all(1)
    if real_neutral.sum() < 10 or synth_neutral.sum() < 10:
        raise ValueError(
            f"neutral alignment needs >= 10 neutral faces per domain; got {int(real_neutral.sum())} real "
            f"(names starting {marker!r}) and {int(synth_neutral.sum())} SynthAU"
        )
    return real["landmarks"][real_neutral].mean(0) - synth["landmarks"][synth_neutral].mean(0)


def reference_face(real: dict[str, np.ndarray], perm: np.ndarray, marker: str = "neutral/") -> np.ndarray:
    """(478, 3) frontal reference: the mean aligned neutral real face, averaged with its mirror image.

    The mirror average makes it exactly symmetric, so that frontalising a face and mirroring
    commute (a mirror-consistent model stays one).
    """
    names = np.array([str(n) for n in real["names"]])
    neutral = real["found"].astype(bool) & np.char.startswith(names, marker)
    if neutral.sum() < 10:
        raise ValueError(f"the reference face needs >= 10 neutral real faces (names starting {marker!r})")
    mean = real["landmarks"][neutral].mean(0)
    return ((mean + mirror_landmarks(mean, perm)) / 2).astype(np.float32)


def frontalised(data: dict[str, np.ndarray], reference: np.ndarray) -> dict[str, np.ndarray]:
    """A copy of a feature dict with every found face's geometry frontalised (``aunce_rt.geometry``)."""
    from aunce_rt.geometry import frontalise

    f = data["found"].astype(bool)
    lm = np.array(data["landmarks"], np.float32)
    if f.any():
        lm[f] = frontalise(lm[f], reference)
    return {**data, "landmarks": lm}


def symmetrise(head, perm: np.ndarray):  # (GeometryHead, (478,)) -> GeometryHead
    """The head averaged with its mirror image, so that a face and its mirror get the same logits.

    With M the mirror of the aligned geometry (``mirror_landmarks``: x -> S - x, points
    re-indexed by the involution ``perm``), the mirrored head is W_m[j] = (-W[perm j, x],
    W[perm j, y], W[perm j, z]), b_m = b + S * sum_i W[i, x]; (W + W_m) / 2 gives
    logits(M g) == logits(g) exactly for every geometry g. Geometry-only heads.
    """
    from aunce_rt.export._geometry_head import GeometryHead

    if head.appearance_weights is not None:
        raise ValueError(
            "only a geometry-only head can be symmetrised (the appearance logits are not mirrored)"
        )
    w = np.asarray(head.weights, np.float64).reshape(NUM_POINTS, 3, -1)
    w_m = w[perm].copy()
    w_m[:, 0] *= -1
    b_m = np.asarray(head.bias, np.float64) + INPUT_SIZE * w[:, 0].sum(0)
    return GeometryHead(
        weights=((w + w_m) / 2).reshape(NUM_POINTS * 3, -1).astype(np.float32),
        bias=((np.asarray(head.bias, np.float64) + b_m) / 2).astype(np.float32),
    )


def calibrate(head, landmarks: np.ndarray, labels: np.ndarray):  # -> (head, (K,) thresholds)
    """Per-AU Platt scaling folded into the head, with thresholds that keep every decision.

    For each AU a 1-D logistic regression maps the head's logit z to the observed labels:
    p = sigmoid(a z + c). With a > 0 this is monotone, so the AUC does not move, and the old
    decision z >= 0 is exactly p >= sigmoid(c): that is the AU's new threshold. An AU whose
    fit is degenerate (a <= 0, or one class only) keeps its logit and threshold 0.5.

    Args:
        head: a geometry-only ``GeometryHead`` or ``MLPGeometryHead`` (anything with
            ``logits`` and ``rescaled``).
        landmarks: (S, 478, 3) geometry of calibration faces (never the evaluation set).
        labels: (S, K) in {0, 1}.
    """
    from sklearn.linear_model import LogisticRegression

    z = head.logits(landmarks)
    k_aus = head.num_aus
    slope, offset = np.ones(k_aus), np.zeros(k_aus)
    thresholds = np.full(k_aus, 0.5)
    for k in range(k_aus):
        y = np.asarray(labels)[:, k]
        if y.min() == y.max():
            continue
        lr = LogisticRegression(C=1e6, max_iter=1000).fit(z[:, k : k + 1], y)
        a, c = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        if a <= 0:
            logger.warning("calibration of AU column %d is degenerate (slope %.3g): left as it was", k, a)
            continue
        slope[k], offset[k] = a, c
        thresholds[k] = 1.0 / (1.0 + np.exp(-c))
    return head.rescaled(slope, offset), thresholds


def training_rows(
    synth: dict[str, np.ndarray],
    real: dict[str, np.ndarray] | None,
    config: HeadConfig,
    perm: np.ndarray | None,
) -> Rows:
    """All rows of one lever setting (SynthAU, + real soft targets, + mirrored copies)."""
    if config.align_neutral:
        if real is None:
            raise ValueError("neutral alignment needs the real faces")
        synth = {**synth, "landmarks": synth["landmarks"] + neutral_offset(synth, real)[None]}
    parts = [synth_rows(synth)]
    if config.real and real is not None:
        parts.append(real_rows(real))
    if config.mirror:
        if perm is None:
            raise ValueError("mirror augmentation needs the mirror permutation")
        parts.append(synth_rows_mirrored(synth, perm))
        if config.real and real is not None:
            parts.append(real_rows(real, perm))
    return Rows.concat(parts)


def fit_recipe_head(
    rows: Rows,
    config: HeadConfig,
    perm: np.ndarray | None,
    *,
    kind: str = "linear",
    masks: np.ndarray | None = None,
    mlp_seed: int = 0,
    n_jobs: int = 2,
):
    """The occurrence head of one recipe setting: ``kind`` "linear" (``fit_head``, then
    ``symmetrise`` when ``config.symmetric``) or "mlp" (``_geometry_mlp.fit_mlp_head``,
    mirror-averaged when ``config.symmetric``; geometry only, whole face)."""
    if kind == "linear":
        head = fit_head(rows, config, n_jobs=n_jobs, masks=masks)
        return symmetrise(head, perm) if config.symmetric else head
    if kind != "mlp":
        raise ValueError(f"head kind must be 'linear' or 'mlp'; got {kind!r}")
    if config.appearance or masks is not None:
        raise ValueError("the MLP head reads the whole face's geometry only (no appearance, no regions)")
    from aunce_rt.pipelines._geometry_mlp import MLPConfig, fit_mlp_head

    if config.symmetric and perm is None:
        raise ValueError("a symmetric MLP head needs the mirror permutation")
    mlp = MLPConfig(seed=mlp_seed, balanced=config.balanced)
    return fit_mlp_head(rows, mlp, mirror=perm if config.symmetric else None)
