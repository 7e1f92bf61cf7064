"""The geometry lever, measured: per-AU models on MediaPipe landmarks, scored on ckplus_dev (research).

Every feature is made exactly as the runtime would make it: MediaPipe FaceMesh
(``FaceMeshBackend(static=True, max_faces=4)``, the backend of ``AUDetector.detect``;
``retry=False`` for the landmarks of G0..G2, made before the still-image retry existed), the most confident face, its 478 points mapped into the
aligned frame with the runtime's similarity transform
(``alignment_matrix(points, "mediapipe", size=CROP_SIZE, crop=INPUT_SIZE)``, the
matrix behind ``aligned_input``); z (pixels at the scale of x) is multiplied by
the same scale. ckplus_dev frames follow the set's protocol (``ImagePrep(grey=True,
upscale=4, border=0.25)``); a face not found scores 0 for every AU; metrics come
from ``aunce_rt.evaluation.images.score_images``.

ckplus_dev is EVALUATION ONLY: nothing below trains on it or chooses anything
on it; each lever is fitted on SynthAU (and, for G1, the CC BY real faces)
first, and scored on ckplus_dev once.

Settings, fixed BEFORE any lever was scored on ckplus_dev
----------------------------------------------------------
Common to all levers:
  * SynthAU training source: ``SynthAU(seed=S, split="train")`` (600 train
    identities, 256x256 frames, default poses/degradations, as the training
    source renders them), samples 0..N-1, N = 4000; labels = clean truth
    (present iff intensity >= 0.25). Renders where FaceMesh finds no face are
    dropped from training.
  * SynthAU held-out (sanity): ``SynthAU(seed=0, split="test")`` samples 0..999
    (test-split identities, never seen in training); no face = 0 for every AU.
  * Model: per AU, ``StandardScaler`` + ``LogisticRegression`` (lbfgs,
    tol 1e-3, max_iter 2000, no class weights); decision threshold 0.5 (F1@0.5).
  * C: ONE C for all 12 AUs, chosen from {0.001, 0.01, 0.1, 1} by 3-fold
    ``GroupKFold`` over SynthAU identities of the training renders, maximising
    the mean AUC over the 12 AUs. SynthAU only.
G0 (the note's probe): features = aligned (x, y, z) of all 478 points,
    flattened (1434); SynthAU seed 0; C by CV as above.
G1 = G0 + real faces with teacher targets (G0's features and G0's C; the only
    change is the training set): the 204 photos of faces_cc/london/*/*.jpg (as
    they are, BGR) and every 3rd frame of the 10 video_cc/grid/*.mpg clips (frames
    0, 3, 6, ...), each in still-image mode. Targets = the blendshape teacher's AU
    scores (``BlendshapeAUDetector.detect``, its most confident face) used as SOFT
    targets: each real face enters twice, as a positive with weight p and as a
    negative with weight 1 - p (weights of SynthAU samples: 1). A real image is
    used only when both FaceMesh and the teacher find a face.
G2 = G0 with other features (the only change): 3-D Euclidean distances between
    all pairs of 38 FACS-relevant FaceMesh points (brows, eyes, glabella, nose,
    lips, chin, cheeks; ``DIST_POINTS``), in the aligned frame, divided by the
    3-D inter-ocular distance (eye-corner midpoints): 703 features, invariant to
    the residual rotation/translation left by the alignment. C re-chosen by the
    same SynthAU CV procedure (the feature scale differs).
Seeds: SynthAU train seed 0 for G0/G1/G2; G0 repeated with seeds 1 and 2
    (other SynthAU samples; same C as seed 0, chosen once, to keep the run under
    ~10 minutes on 2 cores: the spread is that of the samples alone); the
    held-out set is fixed (test split, seed 0). GroupKFold and lbfgs are
    deterministic.

Second run (after main gained the still-image retry of ``aunce_rt.landmarks._retry``),
settings fixed BEFORE any of G0r..G5 was scored on ckplus_dev:
G0r = G0 (same SynthAU seed-0 training cache, same C, same models) but the
    ckplus_dev landmarks come from the runtime WITH the retry
    (``FaceMeshBackend(static=True, max_faces=4, retry=True)``, the default now);
    the pre-retry ckplus cache (``retry=False``) stays the one G0..G2 are scored
    on. The SynthAU training/held-out caches are kept (made before the retry);
    whether the retry would change them is measured by re-running FaceMesh with
    the retry on the renders where it found no face (``retry_check``; only those
    can change: the retry runs only when the first attempt finds nothing). The
    real CC BY faces all had a face already (454/454), so their cache is kept.
    G1 is also scored on the retry landmarks ("G1r", same models) as G4's base.
G3 = G0r with C chosen from {0.1, 1, 10, 100} (``C_GRID_G3``) by the same
    3-fold identity-grouped SynthAU CV (seed 0, mean AUC over the 12 AUs); CV
    values already cached for the same tag/folds/C are reused (deterministic).
G4 = G1r with the teacher's soft targets only for the AUs where the teacher is
    reliable, by a rule fixed on SynthAU: the teacher (``BlendshapeAUDetector``,
    its most confident face, no face = 0) is run on the SynthAU held-out renders
    (test split, seed 0, 0..999); its AUC against SynthAU truth per AU;
    AUC >= 0.85 (``TEACHER_MIN_AUC``) -> that AU is trained as G1 (SynthAU +
    real faces with soft teacher targets), otherwise as G0 (SynthAU truth only).
    C = G0's C; everything else as G1/G0.
G5 = G0r with ``class_weight="balanced"`` (C = G0's C, not re-chosen), for
    F1 at 0.5; AUC reported too.
References (bundled model, teacher), when run, use the runtime as it is now
    (with the retry); the first run's reference rows were scored before it.

Third run, settings fixed BEFORE G6/G7 were scored on ckplus_dev (``--g6g7``; runs only
these two levers, with the SynthAU train seeds of ``--seeds``):
G6 = G0r but the SynthAU TRAINING landmarks also come from the runtime with the
    still-image retry: the renders the pre-retry cache has no face for (126 of
    seed 0) are rendered again and run through
    ``FaceMeshBackend(static=True, max_faces=4, retry=True)`` (``synth_landmarks_retry``);
    every other render keeps its cached landmarks (the retry only runs when the first
    attempt finds nothing, so they are unchanged). Same C = 1 (G0's, not re-chosen),
    no class weights; ckplus_dev on the retry landmarks (as G0r). The SynthAU held-out
    set stays the pre-retry cache (967/1000), as in the rows above.
G7 = G6 + G1's real faces with the teacher's soft targets (same 454 faces, each twice
    with weights p and 1 - p) + balanced class weights, C = 1. "Balanced" is sklearn's
    formula n / (2 n_c) computed on the WEIGHTED class totals of the whole fit set
    (SynthAU rows weight 1, real rows p or 1 - p), applied per AU as a factor on the
    sample weights (so the duplicated real rows do not count twice).
Seeds: 0 first; then 1 and 2 if time allows (their misses also recomputed with the
    retry), same C = 1; held-out fixed (test, seed 0).

Caches (landmarks, teacher scores) go to ``bench/results/geometry/``; a rerun reads them.

    .venv/bin/python bench/exp_geometry.py                 # all levers + references, ~10 min cold
    .venv/bin/python bench/exp_geometry.py --seeds 0       # without the G0 seed repeats
    .venv/bin/python bench/exp_geometry.py --no-references # the second run (G0r..G5), references not rerun
    .venv/bin/python bench/exp_geometry.py --g6g7 --seeds 0     # the third run (G6, G7), seed 0
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CKPLUS = SHARED / "data" / "ckplus_dev"
LONDON = SHARED / "data" / "faces_cc" / "london"
GRID = SHARED / "data" / "video_cc" / "grid"
TASK = SHARED / "models" / "face_landmarker.task"
RESULTS = ROOT / "bench" / "results"
CACHE = RESULTS / "geometry"

N_TRAIN = 4000
N_HELDOUT = 1000
GRID_STRIDE = 3
C_GRID = (0.001, 0.01, 0.1, 1.0)
C_GRID_G3 = (0.1, 1.0, 10.0, 100.0)
TEACHER_MIN_AUC = 0.85  # G4: teacher trusted for an AU iff its SynthAU held-out AUC >= this
CV_FOLDS = 3
TOL = 1e-3  # lbfgs tolerance: 2-3x faster than 1e-4, same SynthAU AUC to 1e-3
THRESHOLD = 0.5
N_JOBS = 2  # AUs fitted in parallel

# 38 FaceMesh points for G2's pairwise distances ("right" = the subject's right = image left).
DIST_POINTS = (
    70, 105, 107, 55, 336, 334, 300, 285,  # brows: outer, middle, inner, inner-lower (right, left)
    9,  # glabella
    33, 133, 159, 145, 362, 263, 386, 374,  # eyes: corners, upper and lower lid (right, left)
    168, 1, 2, 98, 327,  # nose: bridge, tip, base, alae
    61, 291, 0, 13, 14, 17, 37, 267, 84, 314,  # lips: corners, centre top/inner/bottom, sides
    152, 200,  # chin
    205, 425, 117, 346,  # cheeks (lower, upper; right, left)
)  # fmt: skip

log = logging.getLogger("exp_geometry")


# ----------------------------------------------------------------------------- features
def aligned_landmarks(face) -> np.ndarray:
    """(478, 3) float32: a face's points in the runtime's aligned frame, z scaled alike."""
    from aunce_rt.align import CROP_SIZE, INPUT_SIZE, alignment_matrix, transform_points

    m = alignment_matrix(face.points, "mediapipe", size=CROP_SIZE, crop=INPUT_SIZE)
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    xy = transform_points(face.points, m)
    return np.column_stack([xy, np.asarray(face.z, np.float64) * scale]).astype(np.float32)


def features_g0(lm: np.ndarray) -> np.ndarray:
    """(S, 478, 3) -> (S, 1434) flattened aligned coordinates."""
    return lm.reshape(len(lm), -1).astype(np.float64)


def features_dist(lm: np.ndarray) -> np.ndarray:
    """(S, 478, 3) -> (S, 703) pairwise 3-D distances of ``DIST_POINTS`` / inter-ocular distance."""
    pts = lm[:, list(DIST_POINTS)].astype(np.float64)  # (S, P, 3)
    eye_r = lm[:, [33, 133]].mean(1)
    eye_l = lm[:, [362, 263]].mean(1)
    iod = np.linalg.norm(eye_r - eye_l, axis=1)  # (S,)
    d = np.linalg.norm(pts[:, :, None] - pts[:, None], axis=-1)  # (S, P, P)
    iu = np.triu_indices(len(DIST_POINTS), 1)
    return d[:, iu[0], iu[1]] / np.maximum(iod, 1e-6)[:, None]


# ----------------------------------------------------------------------------- landmark caches
def _shares(indices: list[int], workers: int) -> list[list[int]]:
    """``indices`` cut into at most ``workers`` consecutive shares of equal size (the last shorter)."""
    share = max(1, -(-len(indices) // max(workers, 1)))
    return [indices[k : k + share] for k in range(0, len(indices), share)]


def _map_chunks(fn, jobs: list, workers: int) -> list:
    """``fn`` over ``jobs``, in spawned worker processes when ``workers > 1``.

    spawn, not fork: the parent may already hold MediaPipe graphs and threads (fork crashed in malloc).
    """
    if workers <= 1:
        return [fn(j) for j in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(fn, jobs))


def _synth_chunk(job: tuple[str, int, list[int], bool]) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Render SynthAU samples and find their FaceMesh landmarks, with or without the still-image retry."""
    from aunce_rt.landmarks import most_confident_face
    from aunce_rt.landmarks._facemesh import FaceMeshBackend
    from aunce_rt.synthau import SynthAU

    split, seed, indices, retry = job
    gen = SynthAU(seed=seed, split=split)
    backend = FaceMeshBackend(static=True, max_faces=4, retry=retry)
    order = gen.render_order(indices)
    lms = np.zeros((len(order), 478, 3), np.float32)
    found = np.zeros(len(order), bool)
    try:
        for j, i in enumerate(order):
            face = most_confident_face(backend, gen.render_sample(i).image)
            if face is not None:
                lms[j], found[j] = aligned_landmarks(face), True
    finally:
        backend.close()
    return order, lms, found


def synth_landmarks(split: str, seed: int, n: int, workers: int) -> dict[str, np.ndarray]:
    """Aligned landmarks, found flags, labels and identities of SynthAU samples 0..n-1 (cached)."""
    from aunce_rt.synthau import SynthAU

    path = CACHE / f"synthau_{split}_s{seed}_n{n}.npz"
    if path.is_file():
        return dict(np.load(path))
    t0 = time.perf_counter()
    # retry=False: the runtime as it was when G0..G2 ran (the retry is FaceMeshBackend's default now)
    jobs = [(split, seed, part, False) for part in _shares(list(range(n)), workers)]
    lms = np.zeros((n, 478, 3), np.float32)
    found = np.zeros(n, bool)
    parts = _map_chunks(_synth_chunk, jobs, workers)
    for order, part_lms, part_found in parts:
        lms[order], found[order] = part_lms, part_found
    gen = SynthAU(seed=seed, split=split)
    truth = [gen.truth(i) for i in range(n)]
    out = {
        "landmarks": lms,
        "found": found,
        "labels": np.stack([t[1] for t in truth]).astype(np.int8),
        "identity": np.array([t[0] for t in truth], np.int64),
        "au_codes": np.array(gen.au_codes),
    }
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **out)
    log.info(
        "SynthAU %s seed %d: %d renders, faces %d (%.0f s)",
        split,
        seed,
        n,
        found.sum(),
        time.perf_counter() - t0,
    )
    return out


def synth_landmarks_retry(split: str, seed: int, n: int, workers: int) -> dict[str, np.ndarray]:
    """The pre-retry SynthAU cache with its misses recomputed by the runtime with the retry (cached)."""
    path = CACHE / f"synthau_{split}_s{seed}_n{n}_retry.npz"
    if path.is_file():
        return dict(np.load(path))
    base = synth_landmarks(split, seed, n, workers)
    out = {k: np.array(v) for k, v in base.items()}
    missed = [int(i) for i in np.flatnonzero(~base["found"].astype(bool))]
    t0 = time.perf_counter()
    if missed:
        jobs = [(split, seed, part, True) for part in _shares(missed, workers)]
        parts = _map_chunks(_synth_chunk, jobs, workers)
        for order, part_lms, part_found in parts:
            out["landmarks"][order], out["found"][order] = part_lms, part_found
    np.savez_compressed(path, **out)
    log.info(
        "SynthAU %s seed %d with the retry: %d misses recomputed, %d found; faces %d (%.0f s)",
        split,
        seed,
        len(missed),
        int(out["found"].sum() - base["found"].sum()),
        int(out["found"].sum()),
        time.perf_counter() - t0,
    )
    return out


def _real_frames():
    """(name, BGR image) of the CC BY real faces: London photos, then every GRID_STRIDE-th GRID frame."""
    import cv2

    from aunce_rt.imageio import read_image

    for path in sorted(LONDON.glob("*/*.jpg")):
        yield f"london/{path.parent.name}/{path.name}", read_image(path)
    for path in sorted(GRID.glob("*.mpg")):
        cap = cv2.VideoCapture(str(path))
        i = 0
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                if i % GRID_STRIDE == 0:
                    yield f"grid/{path.stem}/{i:03d}", frame
                i += 1
        finally:
            cap.release()


def real_landmarks() -> dict[str, np.ndarray]:
    """Aligned FaceMesh landmarks and teacher AU scores of the real CC BY faces (cached)."""
    path = CACHE / f"real_cc_grid{GRID_STRIDE}.npz"
    if path.is_file():
        return dict(np.load(path))
    from aunce_rt.evaluation.teacher import BlendshapeAUDetector
    from aunce_rt.landmarks import most_confident_face
    from aunce_rt.landmarks._facemesh import FaceMeshBackend

    t0 = time.perf_counter()
    names, lms, teach, ok = [], [], [], []
    backend = FaceMeshBackend(static=True, max_faces=4, retry=False)  # as cached, before the retry
    with BlendshapeAUDetector(TASK, providers="cpu") as teacher:
        for name, image in _real_frames():
            face = most_confident_face(backend, image)
            result = teacher.detect(image)
            t_face = max(result.faces, key=lambda f: f.confidence) if result.faces else None
            names.append(name)
            lms.append(aligned_landmarks(face) if face is not None else np.zeros((478, 3), np.float32))
            teach.append(t_face.probabilities if t_face is not None else np.zeros(12, np.float32))
            ok.append(face is not None and t_face is not None)
        codes = np.array(teacher.au_codes)
    backend.close()
    out = {
        "names": np.array(names),
        "landmarks": np.stack(lms),
        "teacher": np.stack(teach).astype(np.float32),
        "found": np.array(ok),
        "au_codes": codes,
    }
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **out)
    log.info(
        "real faces: %d images, %d usable (%.0f s)", len(names), out["found"].sum(), time.perf_counter() - t0
    )
    return out


def ckplus_landmarks(data, prep, retry: bool = False) -> dict[str, np.ndarray]:
    """Aligned FaceMesh landmarks of ckplus_dev under its protocol (cached; no labels stored).

    ``retry=False`` is the runtime as it was for G0..G2; ``retry=True`` the runtime with
    the still-image retry (G0r..G5).
    """
    path = CACHE / ("ckplus_dev_landmarks_retry.npz" if retry else "ckplus_dev_landmarks.npz")
    if path.is_file():
        return dict(np.load(path))
    from aunce_rt.imageio import read_image
    from aunce_rt.landmarks import most_confident_face
    from aunce_rt.landmarks._facemesh import FaceMeshBackend

    backend = FaceMeshBackend(static=True, max_faces=4, retry=retry)
    lms = np.zeros((len(data.paths), 478, 3), np.float32)
    found = np.zeros(len(data.paths), bool)
    try:
        for s, p in enumerate(data.paths):
            face = most_confident_face(backend, prep.apply(read_image(p)))
            if face is not None:
                lms[s], found[s] = aligned_landmarks(face), True
    finally:
        backend.close()
    out = {"landmarks": lms, "found": found}
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **out)
    return out


def _teacher_chunk(job: tuple[str, int, list[int]]) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The blendshape teacher's AU scores on SynthAU renders (one worker's share)."""
    from aunce_rt.evaluation.teacher import BlendshapeAUDetector
    from aunce_rt.synthau import SynthAU

    split, seed, indices = job
    gen = SynthAU(seed=seed, split=split)
    order = gen.render_order(indices)
    probs = np.zeros((len(order), 12), np.float32)
    found = np.zeros(len(order), bool)
    with BlendshapeAUDetector(TASK, providers="cpu") as teacher:
        for j, i in enumerate(order):
            result = teacher.detect(gen.render_sample(i).image)
            if result.faces:
                probs[j] = max(result.faces, key=lambda f: f.confidence).probabilities
                found[j] = True
    return order, probs, found


def teacher_synth(split: str, seed: int, n: int, workers: int) -> dict[str, np.ndarray]:
    """Teacher AU scores (no face = 0) and found flags on SynthAU samples 0..n-1 (cached)."""
    path = CACHE / f"teacher_synthau_{split}_s{seed}_n{n}.npz"
    if path.is_file():
        return dict(np.load(path))
    from aunce_rt.evaluation.teacher import TEACHER_AUS

    t0 = time.perf_counter()
    jobs = [(split, seed, part) for part in _shares(list(range(n)), workers)]
    probs = np.zeros((n, 12), np.float32)
    found = np.zeros(n, bool)
    parts = _map_chunks(_teacher_chunk, jobs, workers)
    for order, p, f in parts:
        probs[order], found[order] = p, f
    out = {"teacher": probs, "found": found, "au_codes": np.array(TEACHER_AUS)}
    np.savez_compressed(path, **out)
    log.info(
        "teacher on SynthAU %s seed %d: faces %d/%d (%.0f s)",
        split,
        seed,
        found.sum(),
        n,
        time.perf_counter() - t0,
    )
    return out


def retry_check(split: str, seed: int, n: int, missed: np.ndarray) -> dict:
    """How many SynthAU renders without a FaceMesh face get one with the retry (cached json)."""
    path = CACHE / f"retry_check_{split}_s{seed}_n{n}.json"
    if path.is_file():
        return json.loads(path.read_text())
    from aunce_rt.landmarks import most_confident_face
    from aunce_rt.landmarks._facemesh import FaceMeshBackend
    from aunce_rt.synthau import SynthAU

    gen = SynthAU(seed=seed, split=split)
    backend = FaceMeshBackend(static=True, max_faces=4, retry=True)
    idx = [int(i) for i in np.flatnonzero(missed)]
    try:
        now = [
            i
            for i in gen.render_order(idx)
            if most_confident_face(backend, gen.render_sample(i).image) is not None
        ]
    finally:
        backend.close()
    out = {"missed_before": len(idx), "found_with_retry": len(now), "indices": sorted(now)}
    path.write_text(json.dumps(out))
    return out


# ----------------------------------------------------------------------------- models
def fit_lr(
    x: np.ndarray, y: np.ndarray, c: float, weights: np.ndarray | None = None, class_weight: str | None = None
) -> list:
    """One StandardScaler + LogisticRegression per AU column of y (S, K) in {0, 1}."""
    from joblib import Parallel, delayed
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def one(k: int):
        m = make_pipeline(
            StandardScaler(), LogisticRegression(C=c, max_iter=2000, tol=TOL, class_weight=class_weight)
        )
        return m.fit(x, y[:, k], logisticregression__sample_weight=weights)

    return Parallel(n_jobs=N_JOBS, prefer="threads")(delayed(one)(k) for k in range(y.shape[1]))


def predict(models: list, x: np.ndarray) -> np.ndarray:
    return (
        np.column_stack([m.predict_proba(x)[:, 1] for m in models]) if len(x) else np.zeros((0, len(models)))
    )


def choose_c(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, tag: str, grid: tuple[float, ...] = C_GRID
) -> tuple[float, dict[float, float]]:
    """The C of ``grid`` with the best mean (over AUs) identity-grouped CV AUC on SynthAU (cached by tag).

    A C already scored for the same tag and folds (in another grid's cache) is reused.
    """
    from sklearn.model_selection import GroupKFold

    from aunce_rt.evaluation.metrics import roc_auc

    path = CACHE / f"cv_{tag}_{CV_FOLDS}fold_{'_'.join(f'{c:g}' for c in grid)}.json"
    if path.is_file():
        scores = {float(k): v for k, v in json.loads(path.read_text()).items()}
        return max(scores, key=scores.get), scores
    known: dict[float, float] = {}
    for other in sorted(CACHE.glob(f"cv_{tag}_{CV_FOLDS}fold_*.json")):
        known.update({float(k): v for k, v in json.loads(other.read_text()).items()})
    scores = {}
    for c in grid:
        if c in known:
            scores[c] = known[c]
            log.info("  CV %s C=%g: mean AUC %.4f (cached)", tag, c, scores[c])
            continue
        oof = np.zeros(y.shape, np.float64)
        for tr, te in GroupKFold(CV_FOLDS).split(x, y, groups):
            oof[te] = predict(fit_lr(x[tr], y[tr], c), x[te])
        scores[c] = float(np.nanmean(roc_auc(oof, y)))
        log.info("  CV %s C=%g: mean AUC %.4f", tag, c, scores[c])
    path.write_text(json.dumps(scores))
    return max(scores, key=scores.get), scores


def score(probs_found: np.ndarray, found: np.ndarray, labels: np.ndarray, codes, source: str):
    """score_images with a 0 row for every image without a face."""
    from aunce_rt.evaluation.images import score_images

    probs = np.zeros((len(found), labels.shape[1]))
    probs[found] = probs_found
    return score_images(probs, labels, found, [THRESHOLD] * len(codes), codes, source=source)


# ----------------------------------------------------------------------------- report
def table(reports: dict, codes) -> str:
    from aunce_rt.aus import au_label

    names = list(reports)
    lines = ["| system | " + " | ".join(au_label(c) for c in codes) + " | mean AUC | F1@thr (%) | faces |"]
    lines.append("|---|" + "---:|" * (len(codes) + 3))
    for n in names:
        r = reports[n]
        auc = [f"{r.auc[r.au_codes.index(c)]:.3f}" for c in codes]
        lines.append(
            f"| {n} | " + " | ".join(auc) + f" | **{r.mean_auc:.3f}** | {100 * r.f1_macro:.1f} | "
            f"{int(r.found.sum())}/{r.found.size} |"
        )
    return "\n".join(lines)


def _write_json(path: Path, settings: dict, ck_reports: dict, held_reports: dict, wall: float) -> None:
    """A run's settings, ckplus_dev and SynthAU held-out reports and wall time, as JSON."""
    data = {
        "settings": settings,
        "ckplus": {n: r.to_dict() for n, r in ck_reports.items()},
        "synthau_heldout": {n: r.to_dict() for n, r in held_reports.items()},
        "wall_s": wall,
    }
    path.write_text(json.dumps(data, indent=2) + "\n")


def balanced_factors(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per-row factors n / (2 n_c) of sklearn's "balanced", on the weighted class totals (y in {0, 1})."""
    total = w.sum()
    pos = (w * y).sum()
    return np.where(y == 1, total / (2 * pos), total / (2 * (total - pos)))


def run_g6g7(args) -> int:
    """Third run: G6 (G0r + retry SynthAU training landmarks) and G7 (G6 + real soft targets + balanced)."""
    from aunce_rt.aus import BENCHMARK_AUS
    from aunce_rt.evaluation.images import ImagePrep, read_labelled_images

    start = time.perf_counter()
    codes = BENCHMARK_AUS["bp4d"]
    c = 1.0  # G0's C (chosen on seed 0 in the first run), fixed a priori
    # ---- training / sanity data (no ckplus anywhere in this block)
    held = synth_landmarks("test", 0, N_HELDOUT, args.workers)
    real = real_landmarks()
    rf = real["found"]
    xr, pr = features_g0(real["landmarks"][rf]), real["teacher"][rf].astype(np.float64)
    levers: dict[str, list] = {}
    settings: dict[str, dict] = {}
    for s in args.seeds:
        d = synth_landmarks_retry("train", s, N_TRAIN, args.workers)
        assert tuple(d["au_codes"]) == codes and tuple(real["au_codes"]) == codes
        f = d["found"].astype(bool)
        x, y = features_g0(d["landmarks"][f]), d["labels"][f].astype(int)
        t0 = time.perf_counter()
        sfx = "" if s == args.seeds[0] and s == 0 else f" seed {s}"
        levers["G6" + sfx] = fit_lr(x, y, c)
        x7 = np.concatenate([x, xr, xr])
        y7 = np.concatenate([y, np.ones(pr.shape, int), np.zeros(pr.shape, int)])
        models = []
        for k in range(len(codes)):
            w = np.concatenate([np.ones(len(x)), pr[:, k], 1.0 - pr[:, k]])
            models += fit_lr(x7, y7[:, [k]], c, w * balanced_factors(y7[:, k], w))
        levers["G7" + sfx] = models
        common = {"seed": s, "C": c, "train_faces": int(len(x))}
        settings["G6" + sfx] = common
        settings["G7" + sfx] = {**common, "real_faces": int(rf.sum()), "class_weight": "balanced (weighted)"}
        log.info("seed %d: G6/G7 fitted on %d SynthAU faces (%.0f s)", s, len(x), time.perf_counter() - t0)

    hf = held["found"]
    held_reports = {
        n: score(predict(m, features_g0(held["landmarks"][hf])), hf, held["labels"], codes, "synthau test")
        for n, m in levers.items()
    }
    # ---- ckplus_dev: evaluation only, each lever scored once (retry landmarks, as G0r)
    data = read_labelled_images(CKPLUS)
    prep = ImagePrep(grey=True, upscale=4, border=0.25)  # the set's protocol; never change it
    labels = data.labels[:, [data.au_codes.index(c) for c in codes]]
    ckr = ckplus_landmarks(data, prep, retry=True)
    crf = ckr["found"]
    ck_reports = {
        n: score(predict(m, features_g0(ckr["landmarks"][crf])), crf, labels, codes, str(data.source))
        for n, m in levers.items()
    }
    wall = time.perf_counter() - start
    text = "\n".join(
        [
            f"### G6/G7 on ckplus_dev ({len(data.paths)} CK+ images; F1 at 0.5)",
            "",
            table(ck_reports, codes),
            "",
            f"### G6/G7 on SynthAU held-out ({N_HELDOUT} renders, pre-retry cache)",
            "",
            table(held_reports, codes),
            "",
            "settings: " + json.dumps(settings),
            "",
            f"wall time {wall:.0f} s",
        ]
    )
    print(text)
    tag = "_".join(str(s) for s in args.seeds)
    (RESULTS / f"exp_geometry_g6g7_s{tag}.md").write_text(text + "\n")
    _write_json(RESULTS / f"exp_geometry_g6g7_s{tag}.json", settings, ck_reports, held_reports, wall)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0, 1, 2],
        help="SynthAU train seeds for G0 (first: all levers)",
    )
    ap.add_argument("--workers", type=int, default=2, help="render processes")
    ap.add_argument("--no-references", action="store_true", help="skip the bundled model and the teacher")
    ap.add_argument("--g6g7", action="store_true", help="only the third run: G6 and G7 for --seeds")
    ap.add_argument("--out", type=Path, default=RESULTS / "exp_geometry.md")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    if args.g6g7:
        return run_g6g7(args)
    start = time.perf_counter()

    from aunce_rt.aus import BENCHMARK_AUS
    from aunce_rt.evaluation.images import ImagePrep, read_labelled_images

    codes = BENCHMARK_AUS["bp4d"]
    seed0 = args.seeds[0]

    # ---- training / sanity data (no ckplus anywhere in this block)
    train = {s: synth_landmarks("train", s, N_TRAIN, args.workers) for s in args.seeds}
    held = synth_landmarks("test", 0, N_HELDOUT, args.workers)
    real = real_landmarks()
    assert tuple(train[seed0]["au_codes"]) == codes and tuple(real["au_codes"]) == codes

    def synth_xy(d, feats):
        f = d["found"]
        return feats(d["landmarks"][f]), d["labels"][f].astype(int), d["identity"][f]

    levers: dict[str, tuple] = {}  # name -> (features fn, models)
    settings: dict[str, dict] = {}
    c0 = float("nan")  # G0's C, chosen on the first seed (the seeds run in order)
    for s in args.seeds:
        x, y, g = synth_xy(train[s], features_g0)
        if s == seed0:
            log.info("G0 seed %d: choosing C on %d SynthAU renders", s, len(x))
            c, cv = choose_c(x, y, g, f"g0_s{s}_n{N_TRAIN}")
        else:
            c, cv = c0, {}
        name = "G0" if s == seed0 else f"G0 seed {s}"
        levers[name] = (features_g0, fit_lr(x, y, c))
        settings[name] = {"seed": s, "C": c, "cv_mean_auc": cv, "train_faces": int(len(x))}
        if s == seed0:
            c0 = c
            # G1: + real faces, soft teacher targets, G0's C
            rf = real["found"]
            xr, pr = features_g0(real["landmarks"][rf]), real["teacher"][rf].astype(np.float64)
            x1 = np.concatenate([x, xr, xr])
            y1 = np.concatenate([y, np.ones(pr.shape, int), np.zeros(pr.shape, int)])
            models = []
            for k in range(len(codes)):
                w = np.concatenate([np.ones(len(x)), pr[:, k], 1.0 - pr[:, k]])
                models += fit_lr(x1, y1[:, [k]], c0, w)
            levers["G1"] = (features_g0, models)
            settings["G1"] = {"seed": s, "C": c0, "train_faces": int(len(x)), "real_faces": int(rf.sum())}
            # G2: pairwise distances, C by the same CV
            x2, _, _ = synth_xy(train[s], features_dist)
            log.info("G2: choosing C on %d SynthAU renders", len(x2))
            c2, cv2_ = choose_c(x2, y, g, f"g2_s{s}_n{N_TRAIN}")
            levers["G2"] = (features_dist, fit_lr(x2, y, c2))
            settings["G2"] = {"seed": s, "C": c2, "cv_mean_auc": cv2_, "train_faces": int(len(x2))}

    # ---- second run: G3, G4, G5 (SynthAU / real faces only; nothing from ckplus)
    from aunce_rt.evaluation.metrics import roc_auc

    x0, y0, g0 = synth_xy(train[seed0], features_g0)
    retry_info = {
        "train": retry_check("train", seed0, N_TRAIN, ~train[seed0]["found"].astype(bool)),
        "heldout": retry_check("test", 0, N_HELDOUT, ~held["found"].astype(bool)),
    }
    for k, v in retry_info.items():
        log.info("retry on SynthAU %s misses: %d of %d found", k, v["found_with_retry"], v["missed_before"])
    log.info("G3: choosing C from %s", C_GRID_G3)
    c3, cv3 = choose_c(x0, y0, g0, f"g0_s{seed0}_n{N_TRAIN}", C_GRID_G3)
    models3 = levers["G0"][1] if c3 == c0 else fit_lr(x0, y0, c3)
    tsyn = teacher_synth("test", 0, N_HELDOUT, args.workers)
    t_auc = roc_auc(tsyn["teacher"].astype(np.float64), held["labels"].astype(int))
    trusted = [k for k in range(len(codes)) if t_auc[k] >= TEACHER_MIN_AUC]
    log.info(
        "teacher SynthAU held-out AUC %s; trusted %s",
        np.round(t_auc, 3).tolist(),
        [codes[k] for k in trusted],
    )
    models4 = [(levers["G1"][1] if k in trusted else levers["G0"][1])[k] for k in range(len(codes))]
    models5 = fit_lr(x0, y0, c0, class_weight="balanced")
    new_levers = {
        "G0r": levers["G0"],
        "G1r": levers["G1"],
        "G3": (features_g0, models3),
        "G4": (features_g0, models4),
        "G5": (features_g0, models5),
    }
    settings["G3"] = {"seed": seed0, "C": c3, "cv_mean_auc": cv3}
    settings["G4"] = {
        "seed": seed0,
        "C": c0,
        "teacher_min_auc": TEACHER_MIN_AUC,
        "teacher_synthau_heldout_auc": dict(
            zip([int(c) for c in codes], np.round(t_auc, 4).tolist(), strict=True)
        ),
        "teacher_synthau_heldout_faces": int(tsyn["found"].sum()),
        "trusted_aus": [int(codes[k]) for k in trusted],
    }
    settings["G5"] = {"seed": seed0, "C": c0, "class_weight": "balanced"}
    settings["retry_synthau"] = {
        k: {kk: vv for kk, vv in v.items() if kk != "indices"} for k, v in retry_info.items()
    }

    # ---- SynthAU held-out (sanity)
    held_reports = {}
    hf = held["found"]
    for name, (feats, models) in {**levers, **{n: new_levers[n] for n in ("G3", "G4", "G5")}}.items():
        p = predict(models, feats(held["landmarks"][hf]))
        held_reports[name] = score(p, hf, held["labels"], codes, "synthau test")
    tf = tsyn["found"]
    held_reports["teacher (ref)"] = score(tsyn["teacher"][tf], tf, held["labels"], codes, "synthau test")

    # ---- ckplus_dev: evaluation only, each lever scored once
    data = read_labelled_images(CKPLUS)
    prep = ImagePrep(grey=True, upscale=4, border=0.25)  # the set's protocol; never change it
    label_idx = [data.au_codes.index(c) for c in codes]
    labels = data.labels[:, label_idx]
    ck = ckplus_landmarks(data, prep)
    cf = ck["found"]
    ck_reports = {}
    for name, (feats, models) in levers.items():
        ck_reports[name] = score(
            predict(models, feats(ck["landmarks"][cf])), cf, labels, codes, str(data.source)
        )
    ckr = ckplus_landmarks(data, prep, retry=True)
    crf = ckr["found"]
    log.info("ckplus_dev faces: %d without the retry, %d with it", cf.sum(), crf.sum())
    for name, (feats, models) in new_levers.items():
        ck_reports[name] = score(
            predict(models, feats(ckr["landmarks"][crf])), crf, labels, codes, str(data.source)
        )
    if not args.no_references:
        from aunce_rt.detector import AUDetector
        from aunce_rt.evaluation.images import evaluate_images
        from aunce_rt.evaluation.teacher import BlendshapeAUDetector

        with AUDetector(providers="cpu") as det:
            ck_reports["bundled (ref)"] = evaluate_images(det, data, prep)
        with BlendshapeAUDetector(TASK, providers="cpu") as det:
            ck_reports["teacher (ref)"] = evaluate_images(det, data, prep)

    g0_means = [ck_reports[n].mean_auc for n in levers if n.startswith("G0")]  # G0 and its seeds
    g0_held = [held_reports[n].mean_auc for n in levers if n.startswith("G0")]
    wall = time.perf_counter() - start
    text = "\n".join(
        [
            f"### Geometry levers on ckplus_dev ({len(data.paths)} CK+ images, 12 BP4D AUs; AUC per AU)",
            "",
            "F1 at 0.5 for the levers; at each reference's own thresholds for the references.",
            "",
            table(ck_reports, codes),
            "",
            f"### Same levers on SynthAU held-out ({N_HELDOUT} renders of test-split identities)",
            "",
            table(held_reports, codes),
            "",
            f"G0 over seeds {args.seeds}: ckplus mean AUC {np.mean(g0_means):.3f} "
            f"(min {min(g0_means):.3f}, max {max(g0_means):.3f}, sd {np.std(g0_means):.3f}); "
            f"SynthAU held-out {np.mean(g0_held):.3f} (min {min(g0_held):.3f}, max {max(g0_held):.3f})",
            "",
            "settings: " + json.dumps(settings),
            "",
            f"wall time {wall:.0f} s",
        ]
    )
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    _write_json(RESULTS / "exp_geometry.json", settings, ck_reports, held_reports, wall)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GLOG_minloglevel", "2")
    raise SystemExit(main())
