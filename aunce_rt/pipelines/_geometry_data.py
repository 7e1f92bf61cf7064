"""Training material of the real-face recipe: landmark geometry and appearance scores, cached.

Every sample goes through the runtime's own still-image path: MediaPipe FaceMesh
(``FaceMeshBackend(static=True, max_faces=4)`` with the still-image retry, the
backend of ``AUDetector.detect``), its most confident face, the aligned geometry
of ``aunce_rt.geometry.aligned_landmarks`` and the aligned crop of
``aunce_rt.align.aligned_input``. Per face it stores:

* ``landmarks`` (478, 3) float32 aligned geometry (zeros where no face was found);
* ``found`` bool;
* ``app`` / ``app_flip`` (K,) float32: the appearance model's probabilities on the
  aligned crop and on the same crop mirrored (the appearance lever of the recipe);
* SynthAU: ``labels`` (K,) int8 truth and ``identity``; real faces: ``teacher``
  (K,) the blendshape teacher's AU scores and ``teacher_found``.

SynthAU renders are cut into chunks of ``CHUNK`` samples, each written to its own
``.npz`` when done, so an interrupted recipe resumes at the first missing chunk.
Work is spread over spawned processes (MediaPipe graphs do not survive fork).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

CHUNK = 250
NUM_POINTS = 478


@dataclass(frozen=True)
class RealSource:
    """Permissively licensed real faces: still photos and frames of video clips.

    Attributes:
        photos: image files (every one is used).
        videos: video files; every ``video_stride``-th frame is used.
        video_stride: frame step in the videos.
    """

    photos: tuple[Path, ...]
    videos: tuple[Path, ...]
    video_stride: int = 1

    @classmethod
    def from_folders(cls, photos: Path | None, videos: Path | None, video_stride: int = 1) -> RealSource:
        """Every ``*.jpg``/``*.png`` under ``photos`` and ``*.mpg``/``*.mp4``/``*.avi`` under ``videos``."""
        pics = sorted(
            p for ext in ("jpg", "jpeg", "png") for p in (photos or Path("/nonexistent")).rglob(f"*.{ext}")
        )
        vids = sorted(
            p for ext in ("mpg", "mp4", "avi") for p in (videos or Path("/nonexistent")).rglob(f"*.{ext}")
        )
        return cls(tuple(pics), tuple(vids), video_stride)

    def frames(self) -> Iterator[tuple[str, np.ndarray]]:
        """(name, BGR image) of every photo, then of every ``video_stride``-th video frame."""
        import cv2

        from aunce_rt.imageio import read_image

        for path in self.photos:
            yield f"{path.parent.name}/{path.name}", read_image(path)
        for path in self.videos:
            cap = cv2.VideoCapture(str(path))
            try:
                i = 0
                while True:
                    ok, frame = cap.read()
                    if not ok:
                        break
                    if i % self.video_stride == 0:
                        yield f"{path.stem}/{i:04d}", frame
                    i += 1
            finally:
                cap.release()


class _FaceFeatures:
    """FaceMesh + aligned geometry (+ appearance scores) of one BGR image (one worker's tools).

    Without an appearance model the scores are zeros (the geometry-only recipe needs none).
    """

    def __init__(self, appearance_model: Path | None, num_aus: int = 12) -> None:
        from aunce_rt.landmarks._facemesh import FaceMeshBackend
        from aunce_rt.session import AUModelSession

        self.backend = FaceMeshBackend(static=True, max_faces=4, retry=True)
        self.session = (
            AUModelSession(appearance_model, providers="cpu", num_threads=1) if appearance_model else None
        )
        self.rgb = self.session is None or self.session.metadata.color_order == "RGB"
        self.k = self.session.metadata.num_aus if self.session else num_aus

    def __call__(self, image_bgr: np.ndarray) -> tuple[np.ndarray, bool, np.ndarray, np.ndarray]:
        from aunce_rt.align import aligned_input
        from aunce_rt.geometry import aligned_landmarks
        from aunce_rt.landmarks import most_confident_face

        face = most_confident_face(self.backend, image_bgr)
        zeros = np.zeros(self.k, np.float32)
        if face is None:
            return np.zeros((NUM_POINTS, 3), np.float32), False, zeros, zeros
        geometry = aligned_landmarks(face.points, face.z)
        if self.session is None:
            return geometry, True, zeros, zeros
        src = np.ascontiguousarray(image_bgr[:, :, ::-1]) if self.rgb else image_bgr
        crop = aligned_input(src, face.points, "mediapipe", input_size=self.session.input_size)
        probs = self.session.run(np.stack([crop, np.ascontiguousarray(crop[:, ::-1])]))
        return geometry, True, probs[0], probs[1]

    def close(self) -> None:
        self.backend.close()


def _synth_chunk(job: tuple[int, str, list[int], str, str]) -> str:
    """Render one chunk of SynthAU samples, extract their features and write the chunk's npz."""
    from aunce_rt.synthau import SynthAU

    seed, split, indices, model, out = job
    gen = SynthAU(seed=seed, split=split)
    tools = _FaceFeatures(Path(model) if model else None, num_aus=len(gen.au_codes))
    order = gen.render_order(indices)
    n = len(order)
    lms = np.zeros((n, NUM_POINTS, 3), np.float32)
    found = np.zeros(n, bool)
    app = np.zeros((n, tools.k), np.float32)
    app_flip = np.zeros((n, tools.k), np.float32)
    try:
        for j, i in enumerate(order):
            lms[j], found[j], app[j], app_flip[j] = tools(gen.render_sample(i).image)
    finally:
        tools.close()
    truth = [gen.truth(i) for i in order]
    tmp = Path(out + ".part.npz")
    np.savez_compressed(
        tmp,
        index=np.array(order, np.int64),
        landmarks=lms,
        found=found,
        app=app,
        app_flip=app_flip,
        labels=np.stack([t[1] for t in truth]).astype(np.int8),
        identity=np.array([t[0] for t in truth], np.int64),
        au_codes=np.array(gen.au_codes),
    )
    tmp.rename(out)
    return out


def _pool_map(fn, jobs: list, workers: int) -> list:
    """``fn`` over ``jobs`` in spawned processes (MediaPipe graphs do not survive fork)."""
    if workers <= 1 or len(jobs) <= 1:
        return [fn(j) for j in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(fn, jobs))


def synth_features(
    cache: Path, *, seed: int, split: str, n: int, appearance_model: Path | None, workers: int = 2
) -> dict[str, np.ndarray]:
    """Features of SynthAU samples 0..n-1 of ``(seed, split)``; chunks cached under ``cache``.

    The chunk names carry whether appearance scores were made (``_app``), so a cache made
    without an appearance model is never read as one with it.

    Returns:
        dict with ``landmarks`` (n, 478, 3), ``found`` (n,), ``app``/``app_flip`` (n, K),
        ``labels`` (n, K) int8, ``identity`` (n,) and ``au_codes`` (K,), in sample order.
    """
    cache.mkdir(parents=True, exist_ok=True)
    jobs, paths = [], []
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        path = (
            cache / f"synthau_{split}_s{seed}_{start:06d}_{stop:06d}{'_app' if appearance_model else ''}.npz"
        )
        paths.append(path)
        if not path.is_file():
            model = str(appearance_model) if appearance_model else ""
            jobs.append((seed, split, list(range(start, stop)), model, str(path)))
    if jobs:
        t0 = time.perf_counter()
        logger.info("SynthAU %s seed %d: %d of %d chunks to extract", split, seed, len(jobs), len(paths))
        _pool_map(_synth_chunk, jobs, workers)
        logger.info("SynthAU %s seed %d: extracted in %.0f s", split, seed, time.perf_counter() - t0)
    parts = [dict(np.load(p)) for p in paths]
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if k != "au_codes"}
    order = np.argsort(out["index"])
    out = {k: v[order] for k, v in out.items()}
    out["au_codes"] = parts[0]["au_codes"]
    return out


def real_features(
    cache: Path, source: RealSource, *, teacher_task: Path, appearance_model: Path | None, name: str = "real"
) -> dict[str, np.ndarray]:
    """Features and teacher AU scores of permissive real faces (one cached npz).

    Returns:
        dict with ``names`` (n,), ``landmarks`` (n, 478, 3), ``found`` (n,) (FaceMesh AND the
        teacher found a face), ``app``/``app_flip`` (n, K), ``teacher`` (n, K), ``au_codes``.
    """
    path = cache / f"{name}{'_app' if appearance_model else ''}.npz"
    if path.is_file():
        return dict(np.load(path))
    from aunce_rt.evaluation.teacher import BlendshapeAUDetector

    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tools = _FaceFeatures(appearance_model)
    names, lms, found, app, app_flip, teach = [], [], [], [], [], []
    try:
        with BlendshapeAUDetector(teacher_task, providers="cpu") as teacher:
            for frame_name, image in source.frames():
                lm, ok, a, af = tools(image)
                result = teacher.detect(image)
                t_face = max(result.faces, key=lambda f: f.confidence) if result.faces else None
                names.append(frame_name)
                lms.append(lm)
                found.append(ok and t_face is not None)
                app.append(a)
                app_flip.append(af)
                teach.append(t_face.probabilities if t_face is not None else np.zeros(tools.k, np.float32))
            codes = np.array(teacher.au_codes)
    finally:
        tools.close()
    out = {
        "names": np.array(names),
        "landmarks": np.stack(lms).astype(np.float32),
        "found": np.array(found),
        "app": np.stack(app).astype(np.float32),
        "app_flip": np.stack(app_flip).astype(np.float32),
        "teacher": np.stack(teach).astype(np.float32),
        "au_codes": codes,
    }
    tmp = path.with_suffix(".part.npz")
    np.savez_compressed(tmp, **out)
    tmp.rename(path)
    logger.info(
        "real faces: %d images, %d usable (%.0f s)",
        len(names),
        int(out["found"].sum()),
        time.perf_counter() - t0,
    )
    return out
