"""End-to-end evaluation of an exported model through the full runtime on SynthAU clips.

A clip of several unseen SynthAU people (test-split identities, never used for
training) is rendered to a real video file; ``aunce_rt.AUDetector`` runs on it
exactly as a user would run it (MediaPipe landmarks, alignment, ONNX Runtime),
and its per-frame AU occurrences are scored against the renderer's truth.

Torch-free: only numpy, OpenCV, MediaPipe and ONNX Runtime are needed, so the
demo runs on a runtime-only install.

Example:
    >>> clip = render_people_clip("demo/clip.mp4", people=3)   # doctest: +SKIP
    >>> report = evaluate_clip(clip, "demo", model=None)      # doctest: +SKIP
    >>> report.metrics.f1_macro                               # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aunce_rt.aus import BENCHMARK_AUS
from aunce_rt.errors import InputError, OutputError
from aunce_rt.evaluation.intensity import IntensityMetrics, intensity_metrics
from aunce_rt.evaluation.metrics import AUMetrics, au_metrics
from aunce_rt.metadata import INTENSITY_SCALE
from aunce_rt.synthau import PRESENCE_THRESHOLD, open_video_writer, render_frames
from aunce_rt.synthau._identity import TEST_ID_BASE

log = logging.getLogger(__name__)

# Demo people come from the test split, far from the ids the recipes evaluate on.
DEMO_ID_BASE = TEST_ID_BASE + 900_000


@dataclass(frozen=True)
class PeopleClip:
    """A rendered clip of several people, one after the other.

    Attributes:
        video: the .mp4 file.
        fps: frame rate.
        au_codes: AU codes of the truth columns.
        labels: (T, K) int8 true occurrences per frame.
        intensities: (T, K) float32 true intensities.
        identities: (T,) identity id of the person on screen.
        landmarks: (T, 68, 2) true iBUG-68 landmarks in pixels (for truth-aligned crops).
    """

    video: Path
    fps: float
    au_codes: tuple[int, ...]
    labels: np.ndarray
    intensities: np.ndarray
    identities: np.ndarray
    landmarks: np.ndarray | None = None


@dataclass(frozen=True)
class ClipReport:
    """What the runtime achieved on a clip.

    Attributes:
        metrics: AU metrics over all frames (a frame without a detected face counts
            as predicting every AU absent).
        detection_rate: share of frames where a face was found.
        frames: number of frames decoded.
        csv: the per-frame CSV written by the runtime.
        video: the annotated video, if written.
        plot: the PNG of probabilities against the truth, if written.
        model: the model description (path, backbone, precision).
        fps: frames per second of the whole pipeline on this machine.
        truth_aligned: AU metrics of the same model on the same decoded frames, each
            aligned with the renderer's TRUE landmarks instead of MediaPipe's (None
            without truth landmarks). ``truth_aligned.f1_macro - metrics.f1_macro``
            is what the runtime's landmarks and alignment cost.
        probabilities: (frames, K) the runtime's probabilities in the clip's AU order
            (0 where no face was found), scored against ``clip.labels``.
        thresholds: (K,) the model's decision thresholds, same order.
        intensities: (frames, K) the runtime's 0-5 intensities in the clip's AU order (NaN
            where no face was found or the model has no intensity for the AU).
    """

    metrics: AUMetrics
    detection_rate: float
    frames: int
    csv: Path
    video: Path | None
    plot: Path | None
    model: str
    fps: float
    truth_aligned: AUMetrics | None = None
    probabilities: np.ndarray | None = None
    thresholds: np.ndarray | None = None
    intensities: np.ndarray | None = None

    def intensity_metrics(self, clip: PeopleClip) -> IntensityMetrics:
        """ICC(3,1), Pearson r and MAE per AU of ``intensities`` against the clip's truth x 5.

        Frames without a face (or AUs without an estimate) are left out: a missed face has
        no intensity to score (``detection_rate`` says how many).
        """
        if self.intensities is None:
            raise InputError("this report has no intensities; evaluate the clip with evaluate_clip")
        truth = INTENSITY_SCALE[1] * np.asarray(clip.intensities[: self.frames], np.float64)
        return intensity_metrics(self.intensities, truth, clip.au_codes)


def make_dir(path: Path) -> Path:
    """Create ``path`` (and parents); OutputError naming it when that is impossible."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create folder {path} ({exc.strerror}); choose a writable --out") from None
    return path


def render_people_clip(
    out: str | Path,
    *,
    people: int = 3,
    frames_per_person: int = 120,
    fps: float = 30.0,
    seed: int = 0,
    first_identity: int = DEMO_ID_BASE,
    size: tuple[int, int] = (640, 480),
    identities: Sequence[int] | None = None,
) -> PeopleClip:
    """Render ``people`` unseen SynthAU people into one video, with per-frame truth.

    Each person holds and changes expressions and moves their head for
    ``frames_per_person`` frames, one after the other in ``out`` (mp4v; each frame
    is compressed once, as a camera's video is).
    The people are ``first_identity``, ``first_identity + 1``, ... or, when given,
    ``identities`` (then ``people`` is ignored).
    """
    ids_to_render = (
        list(identities) if identities is not None else [first_identity + k for k in range(people)]
    )
    if not ids_to_render or frames_per_person < 1:
        raise InputError(f"need at least one person and one frame; got {people} x {frames_per_person}")
    out = Path(out)
    make_dir(out.parent)
    writer = open_video_writer(out, fps, size)
    labels, inten, ids, marks = [], [], [], []
    try:
        for k, identity in enumerate(ids_to_render):
            person_inten, person_marks, _ = render_frames(
                writer.write, identity=identity, n_frames=frames_per_person, fps=fps, seed=seed + k, size=size
            )
            labels.append((person_inten >= PRESENCE_THRESHOLD).astype(np.int8))
            inten.append(person_inten)
            ids.append(np.full(frames_per_person, identity))
            marks.append(person_marks)
    finally:
        writer.release()
    return PeopleClip(
        out,
        fps,
        tuple(BENCHMARK_AUS["synthau"]),
        np.concatenate(labels),
        np.concatenate(inten),
        np.concatenate(ids),
        np.concatenate(marks),
    )


def evaluate_clip(
    clip: PeopleClip,
    out_dir: str | Path,
    *,
    model: str | Path | None = None,
    providers: str = "auto",
    save_video: bool = True,
    plot: bool = True,
    on_frame: Callable[[int], None] | None = None,
    smoothing: float | None = None,
) -> ClipReport:
    """Run the runtime on ``clip`` and score it against the truth.

    Writes ``aus.csv`` (OpenFace-style), optionally ``annotated.mp4`` and
    ``aus.png`` (probabilities over time against the true AUs) into ``out_dir``.
    ``smoothing``: the detector's causal EMA factor (None: off, the default runtime).
    """
    from aunce_rt.detector import AUDetector
    from aunce_rt.frame_loop import process
    from aunce_rt.sinks import CSVSink

    out_dir = make_dir(Path(out_dir))
    csv_path = out_dir / "aus.csv"
    video_path = out_dir / "annotated.mp4" if save_video else None
    detector = AUDetector(model=model, providers=providers, max_faces=1, smoothing=smoothing)
    meta = detector.metadata
    missing = [c for c in clip.au_codes if c not in meta.au_codes]
    if missing:
        raise InputError(
            f"the model has no output for AUs {missing} of the clip's truth; use a SynthAU/BP4D model"
        )
    cols = [meta.au_codes.index(c) for c in clip.au_codes]
    probs = np.zeros((len(clip.labels), len(clip.au_codes)), np.float32)
    inten = np.full(probs.shape, np.nan, np.float32)
    found = np.zeros(len(clip.labels), bool)
    thresholds = np.asarray(detector.thresholds, np.float32)[cols]
    n = 0
    start = time.perf_counter()
    try:
        sink = CSVSink(csv_path, meta.au_codes, intensity_codes=meta.intensity_aus)
        for result in process(clip.video, detector, [sink], video=video_path, show_fps=False):
            if result.faces and result.index < len(probs):
                probs[result.index] = result.faces[0].probabilities[cols]
                inten[result.index] = result.faces[0].intensities[cols]
                found[result.index] = True
            n += 1
            if on_frame is not None:
                on_frame(n)
        seconds = time.perf_counter() - start  # the runtime alone: the truth-aligned pass is not timed
        truth_aligned = None
        # truth-aligned crops exist for image models only (the clip has no MediaPipe geometry)
        if clip.landmarks is not None and n == len(clip.labels) and not meta.uses_landmarks:
            crops = truth_aligned_crops(clip, meta.input_size, meta.color_order)
            truth_probs = np.concatenate(
                [detector.session.run(crops[k : k + 64]) for k in range(0, len(crops), 64)]
            )[:, cols]
            truth_aligned = au_metrics(truth_probs, clip.labels, thresholds=thresholds)
    finally:
        detector.close()
    if n != len(clip.labels):
        log.warning("decoded %d frames of %s, truth has %d", n, clip.video, len(clip.labels))
    labels = clip.labels[:n].copy()
    # A missed face predicts nothing: score it as "all AUs absent" (pessimistic, honest).
    metrics = au_metrics(probs[:n], labels, thresholds=thresholds)
    png = None
    if plot:
        from aunce_rt.plotting import plot_timelines

        truth = {c: clip.labels[:n, j] for j, c in enumerate(clip.au_codes)}
        times = np.arange(n) / clip.fps
        png = plot_timelines(
            [csv_path],
            out_dir / "aus.png",
            truth=truth,
            truth_time=times,
            title="AU probabilities (lines) vs true AUs (grey) on unseen SynthAU people",
        )
    return ClipReport(
        metrics=metrics,
        detection_rate=float(found[:n].mean()) if n else 0.0,
        frames=n,
        csv=csv_path,
        video=video_path,
        plot=png,
        model=detector.describe(),
        fps=n / seconds if seconds > 0 else 0.0,
        truth_aligned=truth_aligned,
        probabilities=probs[:n],
        thresholds=thresholds,
        intensities=inten[:n],
    )


def truth_aligned_crops(clip: PeopleClip, input_size: int, color_order: str = "RGB") -> np.ndarray:
    """Every frame of ``clip`` as the model's input crop, aligned with the TRUE landmarks.

    Returns:
        (T, input_size, input_size, 3) uint8 crops in ``color_order``, as the video decodes.
    """
    import cv2

    from aunce_rt.align import aligned_input

    if clip.landmarks is None:
        raise InputError(f"{clip.video} has no truth landmarks; render it with render_people_clip")
    cap = cv2.VideoCapture(str(clip.video))
    crops = []
    try:
        while len(crops) < len(clip.landmarks):
            ok, frame = cap.read()
            if not ok:
                break
            crop = aligned_input(frame, clip.landmarks[len(crops)], "ibug68", input_size=input_size)
            crops.append(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB) if color_order == "RGB" else crop)
    finally:
        cap.release()
    if len(crops) != len(clip.landmarks):
        raise InputError(f"decoded {len(crops)} frames of {clip.video}; its truth has {len(clip.landmarks)}")
    return np.stack(crops)
