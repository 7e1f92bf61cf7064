"""SynthAU as a dataset source: render aligned crops once into a cache folder and index them.

Uses the SynthAU contract (``SynthAU.render_sample``, ``SynthAU.aligned_crop``):
crops are aligned with ``aunce_rt.align`` like every other dataset, subjects are
SynthAU identities ("id<k>"), so the protocol's folds are identity-exclusive.
The manifest is written last, so an interrupted render is redone, never half-read.

Optionally (``video_frames``) some crops come from video instead: short clips of
training people changing expression and moving their head, rendered at 640x480,
encoded as mp4 and decoded, every ``VIDEO_STRIDE``-th frame aligned with its true
landmarks and labelled from its true intensities. Those are the frames the runtime
sees (compression, larger and sharper faces, AUs in onset and offset), which
static samples rarely show. They live under ``crops/video/``
(``is_video_crop``) so an evaluation can keep to the static crops.

Crops are aligned with the renderer's true iBUG-68 landmarks, or, with
``landmarks="mediapipe"``, with the landmarks MediaPipe FaceMesh finds on the
rendered frame (still frames in its static mode, clips in its tracking mode, as
the runtime runs it): the training crops are then made exactly as the runtime
makes its crops. MediaPipe's points are not the renderer's (its nose point sits
about a tenth of the eye distance lower than iBUG's nose tip), so the two give
slightly different crops. Where MediaPipe finds no face the true landmarks stand in.

Example:
    >>> manifest = synthau_manifest("cache/synthau", frames=240, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from aunce_rt.aus import BENCHMARK_AUS
from aunce_rt.datasets.formats import write_manifest
from aunce_rt.datasets.index import AUIndex

log = logging.getLogger(__name__)

SYNTH_LANDMARKS: tuple[str, ...] = ("truth", "mediapipe")


def synthau_manifest(
    out_dir: str | Path,
    *,
    frames: int,
    seed: int,
    identities: int = 24,
    noise: float = 0.0,
    trace_max: float | None = None,
    video_frames: int = 0,
    landmarks: str = "truth",
) -> Path:
    """Render ``frames`` SynthAU samples (train split) as 256x256 aligned crops; return the manifest.

    Args:
        out_dir: cache folder (crops/ or crops-mediapipe/, and manifest.csv inside); reused when it
            already holds the same request.
        frames: number of samples.
        identities: number of SynthAU people (the subjects of the folds).
        seed: SynthAU seed.
        noise: label noise rate (the manifest stores the noisy labels when > 0).
        trace_max: largest trace intensity of absent AUs (None: SynthAU's default).
        video_frames: additional crops taken from rendered video clips of the
            same people (``VIDEO_CLIP_FRAMES`` frames each, every ``VIDEO_STRIDE``-th kept).
        landmarks: "truth" or "mediapipe", what the crops are aligned with (see above).
    """
    import numpy as np

    from aunce_rt.errors import InputError
    from aunce_rt.synthau import SynthAU

    if landmarks not in SYNTH_LANDMARKS:
        raise InputError(f"SynthAU landmarks must be one of {', '.join(SYNTH_LANDMARKS)}; got {landmarks!r}")
    out_dir = Path(out_dir).resolve()  # manifest paths are written relative to it
    manifest = out_dir / "manifest.csv"
    spec: dict[str, float | int] = {"frames": frames, "seed": seed, "identities": identities, "noise": noise}
    if trace_max is not None:
        spec["trace_max"] = trace_max
    if video_frames:
        spec["video_frames"] = video_frames
    if landmarks != "truth":
        spec["landmarks"] = landmarks
    kw = {} if trace_max is None else {"trace_max": trace_max}
    spec_file = out_dir / "synthau.json"
    if manifest.is_file() and spec_file.is_file() and json.loads(spec_file.read_text()) == spec:
        return manifest
    # Crops aligned another way never share a folder: a changed request re-renders.
    crops_dir = out_dir / ("crops" if landmarks == "truth" else f"crops-{landmarks}")
    crops_dir.mkdir(parents=True, exist_ok=True)
    gen = SynthAU(seed=seed, split="train", noise=noise, num_identities=identities, **kw)
    todo = [i for i in range(frames) if not (crops_dir / f"{i:05d}.png").is_file()]
    todo = gen.render_order(todo)  # each person's samples together: their head is built once
    cpus = max(1, min(os.cpu_count() or 1, 8))
    workers = cpus if len(todo) >= 64 else 1
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        share = -(-len(todo) // workers)
        chunks = [todo[k : k + share] for k in range(0, len(todo), share)]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            jobs = [(crops_dir, seed, noise, identities, kw, c, landmarks) for c in chunks]
            missed = sum(pool.map(_render_crops, jobs))
    else:
        missed = _render_crops((crops_dir, seed, noise, identities, kw, todo, landmarks))
    if landmarks == "mediapipe" and todo:
        _log_fallbacks(missed, len(todo), "still frames")
    paths, subjects, labels = [], [], []
    for i in range(frames):
        identity, clean, noisy, _ = gen.truth(i)
        paths.append(str(crops_dir / f"{i:05d}.png"))
        subjects.append(f"id{int(identity)}")
        labels.append(noisy if noise > 0 else clean)
    if video_frames:
        for path, identity, row in _video_crops(crops_dir, gen, video_frames, seed, noise, cpus, landmarks):
            paths.append(path)
            subjects.append(f"id{identity}")
            labels.append(row)
    codes = tuple(getattr(gen, "au_codes", BENCHMARK_AUS["synthau"]))
    index = AUIndex(tuple(paths), np.asarray(labels, dtype=np.int8), tuple(subjects), codes, source="synthau")
    write_manifest(index, manifest, root=out_dir)
    spec_file.write_text(json.dumps(spec))
    return manifest


VIDEO_CLIP_FRAMES = 40
VIDEO_STRIDE = 2
_VIDEO_DIR = "video"


def is_video_crop(path: str | Path) -> bool:
    """Whether a SynthAU manifest path is a crop of a video frame (``video_frames``)."""
    return Path(path).parent.name == _VIDEO_DIR


def _video_crops(
    crops_dir: Path,
    gen: Any,
    video_frames: int,
    seed: int,
    noise: float,
    workers: int,
    landmarks: str = "truth",
) -> list[tuple[str, int, Any]]:
    """Render the clips behind ``video_frames`` crops (skipping finished ones); (path, identity, labels) rows.

    Clip ``k`` shows person ``gen.identities[k mod len]`` (every person before any
    repeats, in a seeded order); its truth is saved beside its crops, so a rerun
    reads finished clips instead of rendering them again.
    """
    import numpy as np

    per_clip = -(-VIDEO_CLIP_FRAMES // VIDEO_STRIDE)
    clips = -(-video_frames // per_clip)
    order = np.random.default_rng([seed, 23]).permutation(len(gen.identities))
    people = [int(gen.identities[order[k % len(order)]]) for k in range(clips)]
    folder = crops_dir / _VIDEO_DIR
    folder.mkdir(parents=True, exist_ok=True)
    todo = [k for k in range(clips) if not (folder / f"clip{k:05d}.npy").is_file()]
    jobs = [(folder, seed, noise, k, people[k], landmarks) for k in todo]
    if workers > 1 and len(jobs) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            missed = sum(pool.map(_render_video_clip, jobs, chunksize=max(1, len(jobs) // (4 * workers))))
    else:
        missed = sum(_render_video_clip(job) for job in jobs)
    if landmarks == "mediapipe" and jobs:
        _log_fallbacks(missed, len(jobs) * per_clip, "video frames")
    rows = []
    for k in range(clips):
        labels = np.load(folder / f"clip{k:05d}.npy")
        for j, row in enumerate(labels):
            if len(rows) < video_frames:
                rows.append((str(folder / f"clip{k:05d}_{j:03d}.png"), people[k], row))
    return rows


def _log_fallbacks(missed: int, total: int, what: str) -> None:
    """Log how many crops fell back to the true landmarks; a warning above 5%."""
    level = logging.WARNING if missed > 0.05 * total else logging.INFO
    log.log(
        level,
        "SynthAU: MediaPipe found no face in %d of %d %s (aligned with the true landmarks)",
        missed,
        total,
        what,
    )


def aligned_synth_crop(frame: Any, truth_landmarks: Any, backend: Any) -> tuple[Any, bool]:
    """``frame``'s 256 px aligned crop, and whether it fell back to the truth.

    From MediaPipe's landmarks when ``backend`` is given and finds a face, else
    from the true landmarks.
    """
    from aunce_rt.align import align_face
    from aunce_rt.landmarks import most_confident_face
    from aunce_rt.synthau._dataset import aligned_crop_of

    if backend is not None:
        face = most_confident_face(backend, frame)
        if face is not None:
            crop, _ = align_face(frame, face.points, layout="mediapipe")
            return crop, False
    return aligned_crop_of(frame, truth_landmarks), backend is not None


def landmark_backend(landmarks: str, *, static: bool) -> Any:
    """A one-face MediaPipe FaceMesh backend for ``landmarks="mediapipe"``, else None."""
    if landmarks != "mediapipe":
        return None
    from aunce_rt.landmarks import create_backend

    return create_backend("facemesh", static=static, max_faces=1)


def _render_video_clip(job: tuple[Path, int, float, int, int, str]) -> int:
    """Render clip ``k`` of person ``identity`` to mp4, decode it, write its kept frames' aligned crops.

    The labels (noisy when ``noise`` > 0) go to ``clip<k>.npy``, written last: it marks the clip done.
    MediaPipe (``landmarks="mediapipe"``) tracks every decoded frame, as the runtime does.

    Returns:
        how many kept frames fell back to the true landmarks (MediaPipe found no face).
    """
    import cv2
    import numpy as np

    from aunce_rt.synthau import render_clip
    from aunce_rt.synthau._labels import flip_labels

    folder, seed, noise, k, identity, landmarks = job
    video = folder / f".clip{k:05d}.mp4"
    truth = render_clip(video, identity=identity, n_frames=VIDEO_CLIP_FRAMES, seed=seed * 100_003 + k)
    cap = cv2.VideoCapture(str(video))
    backend = landmark_backend(landmarks, static=False)
    kept, missed = [], 0
    try:
        for i in range(VIDEO_CLIP_FRAMES):
            ok, frame = cap.read()
            if not ok:
                raise RuntimeError(f"{video}: decoded {i} of {VIDEO_CLIP_FRAMES} frames")
            if i % VIDEO_STRIDE == 0 or backend is not None:  # tracking needs every frame
                crop, fell_back = aligned_synth_crop(frame, truth.landmarks[i], backend)
            if i % VIDEO_STRIDE == 0:
                missed += fell_back
                j = len(kept)
                path = folder / f"clip{k:05d}_{j:03d}.png"
                tmp = path.with_name(f".tmp.{path.name}")
                cv2.imwrite(str(tmp), crop)
                os.replace(tmp, path)
                kept.append(i)
    finally:
        cap.release()
        if backend is not None:
            backend.close()
        video.unlink(missing_ok=True)
        video.with_name(video.stem + ".truth.csv").unlink(missing_ok=True)
    labels = truth.labels[kept]
    if noise > 0:
        labels = flip_labels(np.random.default_rng([seed, k, 11]), labels, noise)
    np.save(folder / f"clip{k:05d}.npy", labels.astype(np.int8))
    return missed


def _render_crops(job: tuple[Path, int, float, int, dict, list[int], str]) -> int:
    """Render and write the aligned crops of the sample indices in ``job`` (a worker's share).

    Returns:
        how many fell back to the true landmarks (MediaPipe found no face).
    """
    import cv2

    from aunce_rt.synthau import SynthAU

    crops_dir, seed, noise, identities, kw, indices, landmarks = job
    gen = SynthAU(seed=seed, split="train", noise=noise, num_identities=identities, **kw)
    backend = landmark_backend(landmarks, static=True)
    missed = 0
    try:
        for i in indices:
            path = crops_dir / f"{i:05d}.png"
            tmp = path.with_name(f".tmp.{path.name}")
            sample = gen.render_sample(i)
            crop, fell_back = aligned_synth_crop(sample.image, sample.landmarks, backend)
            cv2.imwrite(str(tmp), crop)
            os.replace(tmp, path)
            missed += fell_back
    finally:
        if backend is not None:
            backend.close()
    return missed
