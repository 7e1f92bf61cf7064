"""Writing SynthAU to disk: a labelled image dataset, and video clips with per-frame truth."""

from __future__ import annotations

import csv
import json
import logging
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from aunce_rt.aus import BENCHMARK_AUS, au_label
from aunce_rt.errors import InputError, OutputError
from aunce_rt.synthau._dataset import SynthAU, chin_pattern
from aunce_rt.synthau._expressions import apply_aus, close_eyes
from aunce_rt.synthau._identity import TEST_ID_BASE, make_identity
from aunce_rt.synthau._labels import PRESENCE_THRESHOLD, au_rates, sample_intensities, sample_occurrences
from aunce_rt.synthau._render import _background, render
from aunce_rt.synthau._scene import sample_scene

logger = logging.getLogger(__name__)

GENERATOR_VERSION = "synthau-1"
_CHUNK = 32


def _prepare_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
        # A uniquely named probe: processes rendering into one folder must not race on it.
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write_test"):
            pass
    except OSError as exc:
        raise OutputError(
            f"cannot write to {path} ({exc.strerror}); choose a writable folder with --out"
        ) from None
    return path


def _write_chunk(args: tuple[dict, str, list[int], bool]) -> list[tuple]:
    """Render and save samples ``indices`` (runs in a worker process)."""
    kwargs, out, indices, frames = args
    ds = SynthAU(**kwargs)
    root = Path(out)
    rows = []
    for idx in indices:
        s = ds.render_sample(idx)
        name = f"{idx:06d}"
        if not cv2.imwrite(
            str(root / "images" / f"{name}.jpg"), ds.aligned_crop(s), [cv2.IMWRITE_JPEG_QUALITY, 95]
        ):
            raise OutputError(
                f"could not write {root / 'images' / name}.jpg; check free space and permissions"
            )
        if frames:
            cv2.imwrite(str(root / "frames" / f"{name}.jpg"), s.image, [cv2.IMWRITE_JPEG_QUALITY, 95])
            np.save(root / "landmarks" / f"{name}.npy", s.landmarks)
        rows.append((idx, s.identity, s.pose, s.labels, s.noisy_labels, s.intensities))
    return rows


def write_dataset(
    out_dir: str | Path,
    n: int,
    seed: int = 0,
    split: str = "train",
    noise: float = 0.0,
    *,
    frames: bool = False,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    **synth_kwargs: object,
) -> Path:
    """Render ``n`` samples of ``SynthAU(seed, split, noise=noise, **synth_kwargs)`` into ``out_dir``.

    Layout: ``images/NNNNNN.jpg`` (aligned 256 crops), ``images.txt`` (one relative
    image path per line), ``labels.txt`` (parallel, space-separated 0/1 per AU: the
    labels to train on, noisy when noise > 0), ``labels_clean.txt`` (the truth),
    ``manifest.csv`` (path, subject, pose, clean ``AUxx``, ``AUxx_noisy``, ``AUxx_r``),
    ``meta.json``; with ``frames``, also ``frames/NNNNNN.jpg`` and ``landmarks/NNNNNN.npy`` (68, 2).

    Args:
        workers: processes to render with (1 = in this process).
        progress: called with the number of samples finished since the last call.

    Returns:
        ``out_dir`` as a Path.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1; got {n}")
    root = _prepare_dir(Path(out_dir))
    for sub in ("images",) + (("frames", "landmarks") if frames else ()):
        _prepare_dir(root / sub)
    kwargs = dict(seed=seed, split=split, noise=noise, **synth_kwargs)
    ds = SynthAU(**kwargs)  # validates the settings before any work starts
    order = ds.render_order(range(n))  # each person's samples together: their head is built once
    chunks = [order[i : i + _CHUNK] for i in range(0, n, _CHUNK)]
    jobs = [(kwargs, str(root), c, frames) for c in chunks]
    rows: list[tuple] = []
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for part in pool.map(_write_chunk, jobs):
                rows.extend(part)
                if progress:
                    progress(len(part))
    else:
        for job in jobs:
            part = _write_chunk(job)
            rows.extend(part)
            if progress:
                progress(len(part))
    rows.sort(key=lambda r: r[0])
    labels = [au_label(c) for c in ds.au_codes]
    paths = [f"images/{r[0]:06d}.jpg" for r in rows]
    (root / "images.txt").write_text("".join(p + "\n" for p in paths))
    (root / "labels.txt").write_text("".join(" ".join(map(str, r[4].tolist())) + "\n" for r in rows))
    (root / "labels_clean.txt").write_text("".join(" ".join(map(str, r[3].tolist())) + "\n" for r in rows))
    with open(root / "manifest.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "path",
                "subject",
                "yaw",
                "pitch",
                "roll",
                *labels,
                *(f"{lb}_noisy" for lb in labels),
                *(f"{lb}_r" for lb in labels),
            ]
        )
        for p, r in zip(paths, rows, strict=True):
            w.writerow(
                [
                    p,
                    r[1],
                    *(f"{v:.2f}" for v in r[2]),
                    *r[3].tolist(),
                    *r[4].tolist(),
                    *(f"{v:.3f}" for v in r[5]),
                ]
            )
    meta = {
        "generator": GENERATOR_VERSION,
        "seed": seed,
        "split": split,
        "noise": noise,
        "n": n,
        "au_codes": list(ds.au_codes),
        "presence_threshold": PRESENCE_THRESHOLD,
        "rates": [round(float(r), 4) for r in ds.rates],
        "num_identities": len(ds.identities),
        "crop_size": 256,
        "frames": frames,
        "options": {
            k: v for k, v in synth_kwargs.items() if isinstance(v, (int, float, str, bool, list, tuple))
        },
    }
    (root / "meta.json").write_text(json.dumps(meta, indent=2))
    logger.info("wrote %d SynthAU samples to %s", n, root)
    return root


@dataclass(frozen=True, eq=False)
class ClipTruth:
    """Per-frame ground truth of a rendered clip.

    Attributes:
        path: the video file.
        truth_path: the truth CSV (frame 1-based, ``AUxx`` 0/1, ``AUxx_r`` intensities).
        fps: frame rate.
        identity: identity id of the person.
        au_codes: AU codes of the columns.
        labels: (T, K) int8 occurrences.
        intensities: (T, K) float32 intensities.
        landmarks: (T, 68, 2) float32 iBUG-68 pixels.
        poses: (T, 3) float32 yaw, pitch, roll in degrees.
    """

    path: Path
    truth_path: Path
    fps: float
    identity: int
    au_codes: tuple[int, ...]
    labels: np.ndarray
    intensities: np.ndarray
    landmarks: np.ndarray
    poses: np.ndarray


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def expression_timeline(
    rng: np.random.Generator, n_frames: int, fps: float, codes: tuple[int, ...]
) -> np.ndarray:
    """Intensities (T, K): expressions held 0.8-2.2 s, with smooth 0.25-0.6 s onsets/offsets."""
    rates = au_rates(codes)
    out = np.zeros((n_frames, len(codes)), np.float32)
    prev = np.zeros(len(codes), np.float32)
    start = 0
    while start < n_frames:
        dur = max(1, int(rng.uniform(0.8, 2.2) * fps))
        if rng.random() < 0.25:
            target = np.zeros(len(codes), np.float32)
        else:
            target = sample_intensities(rng, sample_occurrences(rng, 1, codes, rates))[0]
        ramp = max(1.0, rng.uniform(0.25, 0.6) * fps)
        t = np.arange(min(dur, n_frames - start), dtype=np.float32)
        w = _smoothstep(t / ramp)[:, None]
        out[start : start + len(t)] = prev * (1 - w) + target * w
        prev = out[start + len(t) - 1].copy()
        start += len(t)
    return out


def _per_frame(values: np.ndarray, n_frames: int, width: int, what: str) -> np.ndarray:
    """``values`` as a (n_frames, width) float32 array, or an InputError saying the shape needed."""
    out = np.asarray(values, dtype=np.float32)
    if out.shape != (n_frames, width):
        raise InputError(f"render_frames needs {what} for each of the {n_frames} frames; got {out.shape}")
    return out


def render_frames(
    write: Callable[[np.ndarray], object],
    identity: int = TEST_ID_BASE,
    n_frames: int = 150,
    fps: float = 30.0,
    seed: int = 0,
    size: tuple[int, int] = (640, 480),
    au_codes: Sequence[int] = BENCHMARK_AUS["synthau"],
    eye_closure: np.ndarray | None = None,
    poses: np.ndarray | None = None,
    gaze: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render one person changing expression and moving their head, handing each frame to ``write``.

    ``write`` gets each (H, W, 3) uint8 BGR frame in order, e.g. an open
    ``cv2.VideoWriter``'s ``write``, so several people can share one video file
    (each frame is then compressed once, as a camera's video is). ``eye_closure``
    (T,) in [0, 1] lowers both upper lids per frame (`close_eyes`: blinks, closures);
    None leaves the eyes as the expressions make them (the same frames as before).
    ``poses`` (T, 3) yaw, pitch, roll in degrees replaces the random head motion
    (e.g. a sweep to large yaw); ``gaze`` (T, 2) moves the irises per frame, x, y
    in mm in the face plane (x to image right, y down at frontal pose); None keeps
    the seed's own motion and fixed gaze. Either leaves the seed's other draws as
    they are.

    Returns:
        intensities (T, K) float32, landmarks (T, 68, 2) float32 iBUG-68 pixels and
        poses (T, 3) float32 yaw, pitch, roll in degrees.
    """
    codes = tuple(int(c) for c in au_codes)
    rng = np.random.default_rng([int(seed), int(identity), 7])
    person = make_identity(int(identity))
    scene = sample_scene(
        rng, size, (0.0, 0.0, 0.0), iod_range=(0.17 * min(size), 0.24 * min(size)), degrade=False
    )
    scene = replace(scene, noise=float(rng.uniform(0.0, 3.0)))
    background = _background(scene, size)
    inten = expression_timeline(rng, n_frames, fps, codes)
    t = np.arange(n_frames) / fps
    amp = np.array([rng.uniform(4, 15), rng.uniform(2, 8), rng.uniform(2, 7)])
    freq = rng.uniform(0.05, 0.3, 3)
    phase = rng.uniform(0, 2 * np.pi, 3)
    if poses is None:
        poses = (amp * np.sin(2 * np.pi * freq * t[:, None] + phase)).astype(np.float32)
    else:
        poses = _per_frame(poses, n_frames, 3, "poses (T, 3) yaw, pitch, roll in degrees")
    if gaze is not None:
        gaze = _per_frame(gaze, n_frames, 2, "gaze (T, 2) iris offsets in mm")
    drift = 0.02 * min(size) * np.sin(2 * np.pi * rng.uniform(0.03, 0.1) * t[:, None] + rng.uniform(0, 6, 2))
    pattern = chin_pattern(identity)
    landmarks = np.zeros((n_frames, 68, 2), np.float32)
    for i in range(n_frames):
        frame_scene = replace(
            scene,
            pose=tuple(float(v) for v in poses[i]),
            center=(scene.center[0] + float(drift[i, 0]), scene.center[1] + float(drift[i, 1])),
            noise_seed=int(rng.integers(0, 2**31 - 1)),
        )
        if gaze is not None:
            frame_scene = replace(frame_scene, gaze=(float(gaze[i, 0]), float(gaze[i, 1])))
        expr = apply_aus(person.shape, dict(zip(codes, inten[i].tolist(), strict=True)), pattern)
        if eye_closure is not None:
            expr = close_eyes(expr, float(eye_closure[i]))
        image, landmarks[i] = render(person, expr, frame_scene, size, background)
        write(image)
    return inten, landmarks, poses


def open_video_writer(out: Path, fps: float, size: tuple[int, int]) -> cv2.VideoWriter:
    """An mp4v writer for ``out``, or an OutputError saying what to change."""
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), tuple(size))
    if not writer.isOpened():
        raise OutputError(
            f"OpenCV cannot open a video writer for {out}; use a .mp4 path in a writable folder"
        )
    return writer


def render_clip(
    out_path: str | Path,
    identity: int = TEST_ID_BASE,
    n_frames: int = 150,
    fps: float = 30.0,
    seed: int = 0,
    size: tuple[int, int] = (640, 480),
    au_codes: Sequence[int] = BENCHMARK_AUS["synthau"],
    eye_closure: np.ndarray | None = None,
    poses: np.ndarray | None = None,
    gaze: np.ndarray | None = None,
) -> ClipTruth:
    """Render one person changing expression and moving their head, as an mp4v ``.mp4`` file.

    Also writes ``<stem>.truth.csv`` beside the video. ``eye_closure``: (T,) per-frame
    lid closure in [0, 1]; ``poses`` (T, 3) and ``gaze`` (T, 2) set the head motion and
    the iris offsets (see `render_frames`); the caller keeps them as its truth.

    Returns:
        The per-frame truth.
    """
    out = Path(out_path)
    _prepare_dir(out.parent)
    codes = tuple(int(c) for c in au_codes)
    writer = open_video_writer(out, fps, size)
    try:
        inten, landmarks, poses = render_frames(
            writer.write, identity, n_frames, fps, seed, size, codes, eye_closure, poses, gaze
        )
    finally:
        writer.release()
    labels = (inten >= PRESENCE_THRESHOLD).astype(np.int8)
    truth_path = out.with_name(out.stem + ".truth.csv")
    with open(truth_path, "w", newline="") as f:
        w = csv.writer(f)
        names = [au_label(c) for c in codes]
        w.writerow(["frame", "timestamp", *names, *(f"{n}_r" for n in names)])
        for i in range(n_frames):
            w.writerow([i + 1, f"{i / fps:.4f}", *labels[i].tolist(), *(f"{v:.3f}" for v in inten[i])])
    return ClipTruth(out, truth_path, float(fps), int(identity), codes, labels, inten, landmarks, poses)
