"""``AUDetector``: frames in, per-face AU probabilities out.

The pipeline per frame: MediaPipe landmarks (478 points) -> similarity alignment
to the aunce-rt template (``aunce_rt.align``, the same crop training used) ->
one batched ONNX Runtime call for every face of a small window of frames ->
thresholds, track ids (``FaceTracker``) and optional causal smoothing.

``stream`` is a generator: it holds at most ``batch_frames`` frames (plus the
source's small decode queue), so memory stays flat on long videos; live sources
use a window of one frame, so no latency is added. Each ``FrameResult`` carries
milliseconds per stage (decode, landmarks, align, inference, post, total); the
inference time of a window is shared among its frames by their number of faces.

Example:
    >>> detector = AUDetector("model.onnx", providers="cpu")  # doctest: +SKIP
    >>> for result in detector.stream("video.mp4"):  # doctest: +SKIP
    ...     print(result.index, [f.au(12) for f in result.faces])
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from aunce_rt.align import aligned_input
from aunce_rt.errors import InputError, ModelError
from aunce_rt.geometry import NUM_POINTS
from aunce_rt.imageio import to_bgr8
from aunce_rt.landmarks import FaceLandmarks, LandmarkBackend, create_backend
from aunce_rt.providers import ProviderSpec
from aunce_rt.results import FaceResult, FrameResult
from aunce_rt.screening import dropped_message, largest_faces, screen_faces
from aunce_rt.session import AUModelSession
from aunce_rt.smoothing import CausalSmoother
from aunce_rt.sources import Frame, FrameSource, open_source
from aunce_rt.thresholds import ThresholdSpec, resolve_thresholds
from aunce_rt.tracking import FaceTracker, face_signature

logger = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).resolve().parent / "assets" / "default.onnx"
TRACKING_KINDS = ("video", "camera", "stream")
MAX_LOST = 15  # frames a face may vanish and keep its id (and smoothing state)
DEFAULT_MAX_FACES = 8
HEADROOM = 4  # faces asked of the landmarker beyond max_faces: to count (and say) what is dropped


def default_model_path() -> Path:
    """The bundled model; ModelError when none ships with this install."""
    if not DEFAULT_MODEL.is_file():
        raise ModelError(
            "no default model is bundled yet; pass model='path/to/model.onnx' "
            "(export one with `aunce-rt export`)"
        )
    return DEFAULT_MODEL


@dataclass
class _Pending:
    """A frame whose faces are aligned and waiting for the batched inference."""

    frame: Frame
    faces: list[FaceLandmarks]
    crops: (
        np.ndarray | None
    )  # (F, S, S, 3) uint8 in the model's colour order (None: the model takes no images)
    geometry: np.ndarray | None = None  # (F, 478, 3) float32 aligned landmarks (None: the model takes none)
    signatures: np.ndarray | None = None  # (F, P) float32 re-identification signatures (stream only)
    timings: dict[str, float] = field(default_factory=dict)


class AUDetector:
    """Detect facial Action Units in frames, images, videos and live streams.

    Args:
        model: an exported ``.onnx`` model, an ``AUModelSession``, or None for the
            bundled default (``aunce_rt/assets/default.onnx``).
        providers: execution providers ("auto", "cpu", "cuda", "tensorrt" or a list).
        max_faces: most faces analysed per frame (the largest are kept; the first
            frame that has more logs one warning saying how many were dropped).
        thresholds: None (the model's), a float, ``{AU code: t}`` or one per AU.
        smoothing: None, or the EMA factor alpha in (0, 1] of a causal smoother
            applied per track in ``stream`` (1 = no smoothing).
        landmarks: "facemesh" (bundled) or a MediaPipe FaceLandmarker ``.task`` path
            (adds blendshapes).
        num_threads: ONNX Runtime intra-op threads (None = its default).
        batch_frames: frames per inference call for files in ``stream``.
    """

    def __init__(
        self,
        model: str | Path | AUModelSession | None = None,
        providers: ProviderSpec = "auto",
        max_faces: int = DEFAULT_MAX_FACES,
        thresholds: ThresholdSpec = None,
        smoothing: float | None = None,
        landmarks: str | Path = "facemesh",
        num_threads: int | None = None,
        batch_frames: int = 4,
    ) -> None:
        if isinstance(model, AUModelSession):
            self.session = model
        else:
            path = default_model_path() if model is None else Path(model)
            self.session = AUModelSession(path, providers, num_threads=num_threads)
        if int(max_faces) < 1:
            raise InputError(f"max_faces must be >= 1; got {max_faces}")
        if int(batch_frames) < 1:
            raise InputError(f"batch_frames must be >= 1; got {batch_frames}")
        if smoothing is not None and not 0.0 < float(smoothing) <= 1.0:
            raise InputError(f"smoothing is an EMA factor in (0, 1] (1 = none); got {smoothing}")
        self.metadata = self.session.metadata
        self.au_codes: tuple[int, ...] = self.metadata.au_codes
        self.intensity_codes: tuple[int, ...] = self.metadata.intensity_aus  # AUs with an intensity
        self.thresholds = resolve_thresholds(thresholds, self.au_codes, self.metadata.thresholds)
        self.max_faces = int(max_faces)
        self.smoothing = None if smoothing is None else float(smoothing)
        self.landmarks = str(landmarks)
        self.batch_frames = int(batch_frames)
        self._rgb_model = self.metadata.color_order == "RGB"
        self._static: LandmarkBackend | None = None
        # One idle landmark backend per mode (static?) that ``stream`` reuses: a MediaPipe graph
        # built and closed per call left ~1 MB of native memory behind each time (issue 16).
        self._idle: dict[bool, LandmarkBackend] = {}
        self._warned_dropped = False
        if self.landmarks != "facemesh":  # fail now, not mid-stream, on a bad .task
            create_backend(self.landmarks, static=True, max_faces=1).close()

    # ------------------------------------------------------------------ public API
    def detect(self, frame_bgr: np.ndarray, timestamp: float | None = None) -> FrameResult:
        """AUs of every face in one still image.

        Landmarks run in still-image mode; face ids number the faces from left to
        right; no smoothing. Use ``stream`` for videos. With the bundled FaceMesh,
        an image with no face at first is retried (short-range detector, then a
        padded image; see ``aunce_rt.landmarks._retry``) before it is declared
        empty; the retry's time counts in ``timings["landmarks"]``.

        Args:
            frame_bgr: (H, W, 3) uint8 BGR image (any depth / channel count is converted).
            timestamp: seconds, copied into the result (0 when None).
        """
        image = to_bgr8(frame_bgr, name="frame")
        if self._static is None:
            self._static = create_backend(self.landmarks, static=True, max_faces=self.max_faces + HEADROOM)
        frame = Frame(index=0, timestamp=float(timestamp or 0.0), image=image, name="frame")
        pending = self._prepare(frame, self._static, decode_ms=0.0)
        order = np.argsort([f.box[0] for f in pending.faces], kind="stable")
        pending.faces = [pending.faces[i] for i in order]
        pending.crops = pending.crops[order] if pending.crops is not None else None
        pending.geometry = pending.geometry[order] if pending.geometry is not None else None
        return self._finish_window([pending], tracker=None, smoother=None)[0]

    def stream(
        self, source: Any, stride: int | None = None, batch_frames: int | None = None
    ) -> Iterator[FrameResult]:
        """Results for every decoded frame of any source, as a generator.

        Args:
            source: anything ``aunce_rt.sources.open_source`` takes, or a ``FrameSource``.
            stride: analyse every ``stride``-th frame (None: every frame of a path,
                the opening stride of a ``FrameSource``). A ``FrameSource`` opened
                with another stride raises ``InputError``.
            batch_frames: frames per inference call for files (default: the
                detector's ``batch_frames``); live sources always use 1.

        Yields:
            One ``FrameResult`` per decoded frame (``faces=()`` when none was found).
        """
        for _, result in self.stream_frames(source, stride=stride, batch_frames=batch_frames):
            yield result

    def stream_frames(
        self, source: Any, stride: int | None = None, batch_frames: int | None = None
    ) -> Iterator[tuple[Frame, FrameResult]]:
        """Like ``stream``, yielding ``(Frame, FrameResult)`` pairs (for overlays).

        Raises:
            InputError: ``source`` is an already opened ``FrameSource`` and ``stride``
                differs from the stride it was opened with (a stride is applied
                while decoding, so it cannot change afterwards).
        """
        if isinstance(source, FrameSource):
            src = source
        else:
            src = open_source(source, stride=1 if stride is None else stride)
        if stride is not None and src.stride != stride:
            src.close()
            raise InputError(
                f"stride={stride} was given for {src.name!r}, which is already open with stride "
                f"{src.stride}; open it with open_source(source, stride={stride}) or pass the path "
                "instead of the opened source"
            )
        backend: LandmarkBackend | None = None
        try:
            static = src.kind not in TRACKING_KINDS
            backend = self._take_backend(static)
            window = 1 if src.is_live else int(batch_frames or self.batch_frames)
            tracker = FaceTracker(max_faces=self.max_faces, max_lost=MAX_LOST)
            smoother = CausalSmoother(self.smoothing) if self.smoothing is not None else None
            pending: list[_Pending] = []
            frames = iter(src)
            while True:
                t0 = time.perf_counter()
                try:
                    frame = next(frames, None)
                except Exception:  # a decode error: the frames already prepared still count
                    if pending:
                        for item, result in zip(
                            pending, self._finish_window(pending, tracker, smoother), strict=True
                        ):
                            yield item.frame, result
                    raise
                decode_ms = (time.perf_counter() - t0) * 1e3
                if frame is not None:
                    pending.append(self._prepare(frame, backend, decode_ms, signatures=not static))
                if pending and (frame is None or len(pending) >= window):
                    results = self._finish_window(pending, tracker, smoother)
                    batch, pending = pending, []
                    for item, result in zip(batch, results, strict=True):
                        yield item.frame, result
                if frame is None:
                    break
        finally:
            if backend is not None:
                self._give_back(static, backend)
            src.close()

    def describe(self) -> str:
        """One line naming the model and provider in use."""
        return self.session.describe()

    def close(self) -> None:
        """Release the landmark backends (``detect``'s and the idle ones ``stream`` reuses)."""
        if self._static is not None:
            self._static.close()
            self._static = None
        while self._idle:
            self._idle.popitem()[1].close()

    def __enter__(self) -> AUDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ landmark backends
    def _take_backend(self, static: bool) -> LandmarkBackend:
        """The idle backend of this mode, or a new one while it is in use (concurrent streams)."""
        backend = self._idle.pop(static, None)
        if backend is None:
            backend = create_backend(self.landmarks, static=static, max_faces=self.max_faces + HEADROOM)
        return backend

    def _give_back(self, static: bool, backend: LandmarkBackend) -> None:
        """Keep ``backend``, reset for the next stream, unless one of its mode is kept already."""
        if static in self._idle:
            backend.close()
            return
        try:
            backend.reset()
        except Exception as exc:  # runs in a finally block: never mask the stream's own error
            logger.debug("landmark backend not reusable (%s); closed", exc)
            backend.close()
            return
        self._idle[static] = backend

    # ------------------------------------------------------------------ stages
    def _prepare(
        self, frame: Frame, backend: LandmarkBackend, decode_ms: float, signatures: bool = False
    ) -> _Pending:
        """Landmarks (screened: ``aunce_rt.screening``) and aligned crops of one frame."""
        image = frame.image
        t0 = time.perf_counter()
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        found, rejected = screen_faces(backend.process(rgb, int(round(frame.timestamp * 1000))))
        if rejected:
            logger.debug(
                "%s frame %d: %d landmark sets rejected as not a face", frame.name, frame.index, rejected
            )
        faces = self._keep_largest(found, frame)
        t1 = time.perf_counter()
        meta = self.metadata
        crops = geometry = None
        if meta.uses_images:
            src = rgb if self._rgb_model else image
            crops = np.empty((len(faces), meta.input_size, meta.input_size, 3), np.uint8)
            for i, face in enumerate(faces):
                crops[i] = aligned_input(src, face.points, "mediapipe", input_size=meta.input_size)
        if meta.uses_landmarks:
            geometry = np.empty((len(faces), NUM_POINTS, 3), np.float32)
            for i, face in enumerate(faces):
                geometry[i] = self.session.geometry(face.points, face.z)
        sigs = np.stack([face_signature(image, f.points) for f in faces]) if signatures and faces else None
        t2 = time.perf_counter()
        timings = {"decode": decode_ms, "landmarks": (t1 - t0) * 1e3, "align": (t2 - t1) * 1e3}
        return _Pending(frame, faces, crops, geometry, sigs, timings)

    def _keep_largest(self, faces: list[FaceLandmarks], frame: Frame) -> list[FaceLandmarks]:
        """At most ``max_faces`` faces, the largest, in their order; warns once when some are dropped."""
        kept = largest_faces(faces, self.max_faces)
        if len(kept) < len(faces) and not self._warned_dropped:
            self._warned_dropped = True
            logger.warning(dropped_message(len(faces), self.max_faces, HEADROOM, frame.name, frame.index))
        return kept

    def _infer(self, window: list[_Pending]) -> tuple[np.ndarray, np.ndarray]:
        """(faces, K) probabilities and intensities (NaN: none); a duck-typed session needs only ``run``."""
        crops = np.concatenate([p.crops for p in window]) if self.metadata.uses_images else None
        geometry = np.concatenate([p.geometry for p in window]) if self.metadata.uses_landmarks else None
        if hasattr(self.session, "run_with_intensities"):
            return self.session.run_with_intensities(crops, geometry)
        probs = self.session.run(crops) if geometry is None else self.session.run(crops, landmarks=geometry)
        return probs, np.full(np.shape(probs), np.nan, np.float32)

    def _finish_window(
        self, window: list[_Pending], tracker: FaceTracker | None, smoother: CausalSmoother | None
    ) -> list[FrameResult]:
        """One ORT call for every face of the window, then thresholds, ids and smoothing."""
        counts = [len(p.faces) for p in window]
        total_faces = sum(counts)
        t0 = time.perf_counter()
        none = np.zeros((0, len(self.au_codes)), np.float32)
        probs, inten = self._infer(window) if total_faces else (none, none)
        infer_ms = (time.perf_counter() - t0) * 1e3
        results, start = [], 0
        for pending, count in zip(window, counts, strict=True):
            t1 = time.perf_counter()
            frame_out = (probs[start : start + count], inten[start : start + count])
            start += count
            faces = self._faces(pending, *frame_out, tracker, smoother)
            timings = dict(pending.timings)
            timings["inference"] = infer_ms * count / total_faces if total_faces else 0.0
            timings["post"] = (time.perf_counter() - t1) * 1e3
            timings["total"] = sum(timings.values())
            image = pending.frame.image
            results.append(
                FrameResult(
                    index=pending.frame.index,
                    timestamp=pending.frame.timestamp,
                    faces=faces,
                    width=int(image.shape[1]),
                    height=int(image.shape[0]),
                    timings=timings,
                    source=pending.frame.name,
                )
            )
        return results

    def _faces(
        self,
        pending: _Pending,
        probs: np.ndarray,
        inten: np.ndarray,
        tracker: FaceTracker | None,
        smoother: CausalSmoother | None,
    ) -> tuple[FaceResult, ...]:
        """FaceResults of one frame, ordered by face id (probabilities and intensities smoothed alike)."""
        boxes = np.stack([f.box for f in pending.faces]) if pending.faces else np.zeros((0, 4), np.float32)
        ids = (
            list(tracker.update(boxes, pending.signatures))
            if tracker is not None
            else list(range(len(pending.faces)))
        )
        if smoother is not None and tracker is not None:
            smoother.retain(tracker.active_ids)  # forget faces the tracker has let go
            k = len(self.au_codes)
            both = [
                smoother.update(i, np.concatenate([p, r])) for i, p, r in zip(ids, probs, inten, strict=True)
            ]
            probs, inten = [b[:k] for b in both], [b[k:] for b in both]
        out = []
        for face, face_id, p, r in zip(pending.faces, ids, probs, inten, strict=True):
            p = np.asarray(p, np.float32)
            out.append(
                FaceResult(
                    face_id=int(face_id),
                    box=face.box,
                    landmarks=face.points,
                    confidence=face.confidence,
                    au_codes=self.au_codes,
                    probabilities=p,
                    occurrences=p >= self.thresholds,
                    blendshapes=face.blendshapes,
                    depth=face.z,
                    intensities=np.asarray(r, np.float32),
                )
            )
        return tuple(sorted(out, key=lambda f: f.face_id))
