"""Give an exported appearance model AU intensities: a ridge head on its per-AU features, fitted on SynthAU.

The CNN's encoder already computes, per AU, the feature its probe reads. Intensity (OpenFace's
``AUxx_r``, 0-5) is fitted on it where the truth is exact, SynthAU renders:

1. **features**: SynthAU training renders (``split="train"``, the people the model's own recipe
   trained on) and held-out renders (``split="test"``, other people), each cropped with the
   renderer's true landmarks (``aligned_crop``, the crops the CNN was trained on), through the
   graph itself (ONNX Runtime, the model's own precision) with its feature tensor exposed
   (``export._feature_intensity.with_features_output``);
2. **fit**: per AU, ridge regression of 5 x the true intensity on that AU's C standardised
   features (absent AUs and traces included, so 0 is learned), one closed-form solve per
   ``alpha``; the ``alpha`` with the best mean ICC(3,1) on the **even** held-out identities wins;
3. **report**: ICC(3,1), Pearson r and MAE on the **odd** held-out identities (never used to
   choose), stored in the model's metadata (``metrics["intensity_heldout_renders"]``);
4. **graph**: the head is appended as the ``"intensities"`` output (probabilities untouched) and
   the model written to ``out`` (an existing file only with ``overwrite``).

With ``data=`` a prepared intensity-coded benchmark (``aunce-rt train prepare`` of DISFA writes a
manifest with ``AUxx_r`` columns, 0-5) replaces SynthAU: its subjects are split once by ``seed``,
70% to fit, the other 30% alternately into the people who choose alpha and the people reported;
frames whose intensity is not coded are left out per AU.

Example:
    >>> res = fit_cnn_intensity("aunce_rt/assets/synthau.onnx", "synthau_int.onnx")  # doctest: +SKIP
    >>> res.alpha, round(res.heldout["mean_icc"], 3)                                  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aunce_rt.errors import InputError, OutputError
from aunce_rt.pipelines._intensity_fit import SCALE

logger = logging.getLogger(__name__)

ALPHAS = (1.0, 10.0, 100.0, 1000.0, 10000.0)
BATCH = 256


@dataclass(frozen=True)
class CNNIntensityResult:
    """What :func:`fit_cnn_intensity` wrote and how the head was chosen.

    Attributes:
        path: the written model (``"intensities"`` output added).
        alpha: the chosen ridge strength.
        validation_icc: mean ICC(3,1) on the even held-out people, per alpha tried.
        heldout: ``IntensityMetrics.to_dict()`` on the odd held-out people (never used to choose).
        train_samples, heldout_samples: renders (or frames, with ``data``) fitted on / held out.
        seconds: wall time.
    """

    path: Path
    alpha: float
    validation_icc: dict[float, float]
    heldout: dict[str, Any]
    train_samples: int
    heldout_samples: int
    seconds: float
    training: dict[str, Any] = field(default_factory=dict)


def synthau_features(
    session: Any, feature_name: str, input_size: int, n: int, *, seed: int, split: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-AU features, true 0-5 intensities and identities of SynthAU samples 0..n-1 of ``(seed, split)``.

    Args:
        session: an ``onnxruntime.InferenceSession`` of a graph with ``feature_name`` as an output.
        feature_name: the (N, K, C) feature output.
        input_size: the model's crop side (its metadata's ``input_size``).

    Returns:
        features (n, K, C) float32, intensities (n, K) float64 on 0-5, identities (n,) int64.
    """
    from aunce_rt.export._crops import to_input_crop
    from aunce_rt.synthau import SynthAU, aligned_crop

    gen = SynthAU(seed=seed, split=split)
    feats, truth, ids, crops = [], [], [], []
    for i in range(n):
        crops.append(to_input_crop(aligned_crop(gen.render_sample(i)), input_size))
        identity, _, _, intensity = gen.truth(i)
        truth.append(SCALE * np.asarray(intensity, np.float64))
        ids.append(identity)
        if len(crops) == BATCH or i == n - 1:
            feats.append(session.run([feature_name], {session.get_inputs()[0].name: np.stack(crops)})[0])
            crops = []
    return np.concatenate(feats).astype(np.float32), np.stack(truth), np.asarray(ids, np.int64)


def fit_feature_ridge(features: np.ndarray, targets: np.ndarray, alpha: float) -> Any:
    """Per-AU standardised ridge: AU i's intensity on AU i's own C features -> ``FeatureIntensityHead``.

    Args:
        features: (S, K, C) per-AU features.
        targets: (S, K) intensities; NaN (not coded) rows are left out of that AU's fit.
        alpha: ridge strength on the standardised features.
    """
    from aunce_rt.export._feature_intensity import FeatureIntensityHead
    from aunce_rt.pipelines._intensity_fit import standardised_ridge

    x = np.asarray(features, np.float64)
    y = np.asarray(targets, np.float64)
    if x.ndim != 3 or y.shape != x.shape[:2]:
        raise ValueError(f"features must be (S, K, C) and targets (S, K); got {x.shape} and {y.shape}")
    k, c = x.shape[1:]
    weights, bias = np.zeros((k, c)), np.zeros(k)
    for i in range(k):
        ok = np.isfinite(y[:, i])
        if ok.sum() < 2:
            raise InputError(f"AU column {i} has {int(ok.sum())} coded intensities; at least 2 are needed")
        w, b = standardised_ridge(x[ok, i], y[ok, i : i + 1], alpha)  # (C, 1), (1,)
        weights[i], bias[i] = w[:, 0], b[0]
    return FeatureIntensityHead(weights=weights, bias=bias)


@dataclass(frozen=True)
class _Sets:
    """Features (S, K, C) and intensities (S, K) to fit on, to choose alpha on, and to report on."""

    fit: tuple[np.ndarray, np.ndarray]
    choose: tuple[np.ndarray, np.ndarray]
    report: tuple[np.ndarray, np.ndarray]
    training: dict[str, Any]
    people: str


def _synthau_sets(session: Any, name: str, size: int, renders: int, heldout: int, seed: int) -> _Sets:
    if renders < 2 or heldout < 4:
        raise InputError(f"need at least 2 training and 4 held-out renders; got {renders} and {heldout}")
    f_tr, y_tr, _ = synthau_features(session, name, size, renders, seed=seed, split="train")
    f_ho, y_ho, id_ho = synthau_features(session, name, size, heldout, seed=seed, split="test")
    even = id_ho % 2 == 0
    if even.all() or not even.any():
        raise InputError(f"{heldout} held-out renders hold people of one parity only; use more (>= 100)")
    training = {
        "target": "5 x SynthAU true intensity (absent AUs and traces included)",
        "train_renders": f"SynthAU seed {seed}, split train, samples 0-{renders - 1}, truth-aligned crops",
        "heldout_renders": f"SynthAU seed {seed}, split test, samples 0-{heldout - 1}: even people choose alpha",
    }
    return _Sets(
        (f_tr, y_tr), (f_ho[even], y_ho[even]), (f_ho[~even], y_ho[~even]), training, "odd identities"
    )


def _manifest_sets(
    session: Any, name: str, size: int, data: Path, codes: tuple[int, ...], seed: int
) -> _Sets:
    import cv2

    from aunce_rt.datasets.formats import read_manifest
    from aunce_rt.export._crops import to_input_crop

    index = read_manifest(data, codes)
    if index.intensities is None:
        raise InputError(
            f"{data} has no intensity columns (AU01_r, ... for AUs {list(codes)}); prepare an intensity-coded "
            "benchmark (DISFA) with `aunce-rt train prepare`, or leave --data out to fit on SynthAU"
        )
    subjects = sorted(set(index.subjects))
    if len(subjects) < 3:
        raise InputError(f"{data} has {len(subjects)} subjects; at least 3 are needed (fit, choose, report)")
    order = [subjects[i] for i in np.random.default_rng(seed).permutation(len(subjects))]
    n_held = max(2, round(0.3 * len(order)))
    held = order[:n_held]
    parts = {"fit": order[n_held:], "choose": held[0::2], "report": held[1::2]}
    out = {}
    for part, people in parts.items():
        sub = index.select_subjects(people)
        feats = []
        for i in range(0, len(sub), BATCH):
            crops = []
            for path in sub.paths[i : i + BATCH]:
                image = cv2.imread(path, cv2.IMREAD_COLOR)
                if image is None:
                    raise InputError(f"cannot read image {path!r} listed in {data}; is it a valid image?")
                crops.append(to_input_crop(image, size))
            feats.append(session.run([name], {session.get_inputs()[0].name: np.stack(crops)})[0])
        out[part] = (np.concatenate(feats).astype(np.float32), sub.intensities.astype(np.float64))
    training = {
        "target": f"the intensities of {data.name} (AUxx_r, not-coded frames left out per AU)",
        "data": str(data),
        "subjects": {k: len(v) for k, v in parts.items()},
        "split": f"subjects permuted with seed {seed}: 70% fit, the rest alternately choose alpha / report",
    }
    return _Sets(
        out["fit"], out["choose"], out["report"], training, f"{len(parts['report'])} held-out subjects"
    )


def fit_cnn_intensity(
    model: str | Path,
    out: str | Path,
    *,
    data: str | Path | None = None,
    renders: int = 4000,
    heldout: int = 1000,
    seed: int = 0,
    alphas: tuple[float, ...] = ALPHAS,
    overwrite: bool = False,
) -> CNNIntensityResult:
    """Fit the intensity head of an exported appearance model and write the model with it.

    Args:
        model: an image model exported by ``aunce-rt export`` (per-AU features, no intensity output).
        out: where to write the model with its ``"intensities"`` output.
        data: a prepared manifest with ``AUxx_r`` columns (aligned crops of an intensity-coded
            benchmark, e.g. DISFA) to fit on instead of SynthAU; it must cover the model's AUs.
        renders: SynthAU training renders (``split="train"``; SynthAU only).
        heldout: SynthAU held-out renders (``split="test"``): even identities choose alpha, odd report.
        seed: SynthAU seed of both sets, or the subject split's seed with ``data``.
        alphas: ridge strengths to try.
        overwrite: replace an existing ``out``.

    Raises:
        InputError: bad counts or data, or a model that is not an image model / has intensities.
        OutputError: ``out`` exists without ``overwrite``.
        ModelError: the model has no per-AU features.
    """
    import onnxruntime as ort

    from aunce_rt.evaluation.intensity import intensity_metrics
    from aunce_rt.export._feature_intensity import add_intensity_head, feature_tensor, with_features_output
    from aunce_rt.export._graph import load_model_proto, read_metadata, save_model_proto

    start = time.perf_counter()
    model, out = Path(model), Path(out)
    if not alphas:
        raise InputError("give at least one ridge strength (alphas)")
    if out.exists() and not overwrite:
        raise OutputError(f"{out} already exists; pass overwrite=True (--overwrite) or another output path")
    proto = load_model_proto(model)
    meta = read_metadata(proto, model)
    if not meta.uses_images or meta.uses_landmarks:
        raise InputError(
            f"{model} is not an image-only model; the real-face (landmark) model gets its intensity head "
            "from `aunce-rt train real-faces`"
        )
    if meta.has_intensity:
        raise InputError(
            f"{model} already has intensities for {list(meta.intensity_aus)}; start from one without"
        )
    name = feature_tensor(proto)
    session = ort.InferenceSession(
        with_features_output(proto).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    size = meta.input_size
    if data is None:
        sets = _synthau_sets(session, name, size, renders, heldout, seed)
    else:
        sets = _manifest_sets(session, name, size, Path(data), meta.au_codes, seed)
    heads, scores = {}, {}
    for alpha in alphas:
        heads[alpha] = fit_feature_ridge(*sets.fit, alpha)
        pred = heads[alpha].predict(sets.choose[0], meta.intensity_scale)
        scores[alpha] = float(intensity_metrics(pred, sets.choose[1], meta.au_codes).mean_icc)
        logger.info(
            "intensity head, alpha %g: mean ICC(3,1) %.3f on the people who choose", alpha, scores[alpha]
        )
    best = max(alphas, key=lambda a: np.nan_to_num(scores[a], nan=-np.inf))
    head = heads[best]
    report = intensity_metrics(
        head.predict(sets.report[0], meta.intensity_scale), sets.report[1], meta.au_codes
    )
    training = {
        "method": "per-AU ridge on the model's per-AU features (aunce_rt.pipelines.cnn_intensity)",
        **sets.training,
        "alpha": best,
        "validation_mean_icc": {str(a): round(s, 4) for a, s in scores.items()},
    }
    key = "intensity_heldout_renders" if data is None else "intensity_heldout_subjects"
    add_intensity_head(
        proto, head, training=training, metrics={key: {**report.to_dict(), "people": sets.people}}
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    save_model_proto(proto, out)
    logger.info("intensity head (alpha %g): held-out mean ICC(3,1) %.3f -> %s", best, report.mean_icc, out)
    return CNNIntensityResult(
        path=out,
        alpha=best,
        validation_icc=scores,
        heldout=report.to_dict(),
        train_samples=len(sets.fit[0]),
        heldout_samples=len(sets.choose[0]) + len(sets.report[0]),
        seconds=time.perf_counter() - start,
        training=training,
    )
