"""Typed, frozen results: what `AUDetector.detect` returns and every sink takes.

Example:
    >>> import numpy as np
    >>> face = FaceResult(
    ...     face_id=0, box=np.array([10, 20, 110, 140], np.float32),
    ...     landmarks=np.zeros((478, 2), np.float32), confidence=0.9,
    ...     au_codes=(1, 12), probabilities=np.array([0.2, 0.8], np.float32),
    ...     occurrences=np.array([False, True]))
    >>> face.au(12)
    0.800000011920929
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aunce_rt.face_geometry import FaceGeometry, face_geometry

STAGES = ("decode", "landmarks", "align", "inference", "post", "total")


@dataclass(frozen=True)
class FaceResult:
    """One face in one frame.

    Attributes:
        face_id: track id, stable across frames of a stream (0, 1, ...).
        box: (4,) float32 ``x1, y1, x2, y2`` in frame pixels (from the landmarks).
        landmarks: (L, 2) float32 landmark pixels (L = 478 for MediaPipe).
        confidence: landmark confidence in [0, 1].
        au_codes: AU codes, in the order of ``probabilities``.
        probabilities: (K,) float32 AU probabilities in [0, 1].
        occurrences: (K,) bool, ``probabilities >= thresholds``.
        blendshapes: MediaPipe blendshape scores when the tasks backend is used.
        depth: (L,) float32 MediaPipe relative depth of the landmarks, in pixels at the
            scale of x (larger = farther), or None; `geometry` uses it for head pose.
        intensities: (K,) float32 AU intensities on OpenFace's 0-5 scale (``AUxx_r``); NaN
            for AUs the model has no intensity for (all NaN for a model without an intensity
            output; None given becomes all NaN).
    """

    face_id: int
    box: np.ndarray
    landmarks: np.ndarray
    confidence: float
    au_codes: tuple[int, ...]
    probabilities: np.ndarray
    occurrences: np.ndarray
    blendshapes: dict[str, float] | None = None
    depth: np.ndarray | None = None
    intensities: np.ndarray | None = None

    def __post_init__(self) -> None:
        k = len(self.au_codes)
        if self.intensities is None:
            object.__setattr__(self, "intensities", np.full(k, np.nan, np.float32))
        elif np.shape(self.intensities) != (k,):
            raise ValueError(
                f"intensities must have shape ({k},) for {k} AUs; got {np.shape(self.intensities)}"
            )
        if np.shape(self.probabilities) != (k,) or np.shape(self.occurrences) != (k,):
            raise ValueError(
                f"probabilities {np.shape(self.probabilities)} and occurrences "
                f"{np.shape(self.occurrences)} must both have shape ({k},) for {k} AUs"
            )
        if np.shape(self.box) != (4,):
            raise ValueError(f"box must have shape (4,); got {np.shape(self.box)}")

    def au(self, code: int) -> float:
        """Probability of AU ``code`` (KeyError if the model has no such AU)."""
        try:
            return float(self.probabilities[self.au_codes.index(int(code))])
        except ValueError:
            raise KeyError(f"AU{code} is not among this model's AUs {self.au_codes}") from None

    def intensity(self, code: int) -> float:
        """Intensity (0-5) of AU ``code``; NaN when the model has none for it (KeyError if no such AU)."""
        try:
            return float(self.intensities[self.au_codes.index(int(code))])
        except ValueError:
            raise KeyError(f"AU{code} is not among this model's AUs {self.au_codes}") from None

    def geometry(self, width: int, height: int) -> FaceGeometry:
        """Head pose, gaze, eye and mouth opening (`aunce_rt.face_geometry`), computed on demand.

        Args:
            width, height: the frame's size in pixels (``FrameResult.width``, ``.height``).
        """
        return face_geometry(self.landmarks, self.depth, width, height)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (lists and floats); an AU's ``"r"`` (intensity) only where the model has one."""
        out: dict[str, Any] = {
            "face_id": self.face_id,
            "box": [round(float(v), 2) for v in self.box],
            "confidence": round(float(self.confidence), 4),
            "aus": {
                f"AU{c:02d}": {
                    "p": round(float(p), 5),
                    "c": int(o),
                    **({"r": round(float(r), 3)} if r == r else {}),
                }
                for c, p, o, r in zip(
                    self.au_codes, self.probabilities, self.occurrences, self.intensities, strict=True
                )
            },
        }
        if self.blendshapes is not None:
            out["blendshapes"] = {k: round(float(v), 5) for k, v in self.blendshapes.items()}
        return out


@dataclass(frozen=True)
class FrameResult:
    """All faces of one frame.

    Attributes:
        index: 0-based index of the frame in decode order (CSV ``frame`` is index + 1).
        timestamp: seconds from the start of the source.
        faces: the faces found, ordered by ``face_id``; empty when none was found.
        width, height: frame size in pixels.
        timings: milliseconds per stage (keys among ``STAGES``).
        source: name of the source the frame came from.
    """

    index: int
    timestamp: float
    faces: tuple[FaceResult, ...]
    width: int
    height: int
    timings: dict[str, float] = field(default_factory=dict)
    source: str = ""

    @property
    def success(self) -> bool:
        """True when at least one face was found and analysed."""
        return len(self.faces) > 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: one JSON Lines record."""
        return {
            "frame": self.index + 1,
            "timestamp": round(float(self.timestamp), 6),
            "source": self.source,
            "width": self.width,
            "height": self.height,
            "success": int(self.success),
            "faces": [f.to_dict() for f in self.faces],
            "timings_ms": {k: round(float(v), 3) for k, v in self.timings.items()},
        }
