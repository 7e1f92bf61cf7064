"""The blendshape teacher: MediaPipe's 52 blendshape scores mapped to the 12 BP4D AUs.

MediaPipe's FaceLandmarker (a ``.task`` bundle) scores 52 ARKit-style blendshapes
per face. Most of them are named after one facial movement that FACS also codes,
so a FIXED table turns them into AU scores with no training at all: a teacher for
pseudo-labels and a baseline any trained model should beat on real faces.

The table was decided from the FACS definitions of the AUs and Apple's ARKit
definitions of the blendshapes; it was not fitted or tuned on any evaluation data
(ckplus_dev included). Each AU takes the listed blendshapes; a Left/Right pair is
combined with ``max``, since FACS codes an AU that shows on one side only as
present (a unilateral AU is still the AU):

======  =====================  ==========================================================
AU      blendshapes            why
======  =====================  ==========================================================
AU01    browInnerUp            inner brow raiser = the inner brow going up
AU02    browOuterUp L/R        outer brow raiser = the outer brow going up
AU04    browDown L/R           brow lowerer = the brows going down (and together)
AU06    cheekSquint L/R,       cheek raiser (orbicularis oculi, pars orbitalis) = ARKit's
        eyeSquint L/R          cheekSquint; MediaPipe's model scores cheekSquint 0 on every
                               frame of the reference recordings (broad smiles included), so
                               eyeSquint ("contraction of the face around the eye", the
                               whole orbicularis oculi) stands in: max of the two per side
AU07    eyeSquint L/R          lid tightener (pars palpebralis) narrows the eye opening
AU10    mouthUpperUp L/R       upper lip raiser = the upper lip going up
AU12    mouthSmile L/R         lip corner puller = the corners going up and back
AU14    mouthDimple L/R        dimpler = the corners pulled in and back (buccinator)
AU15    mouthFrown L/R         lip corner depressor = the corners going down
AU17    mouthShrugLower        chin raiser (mentalis) pushes the lower lip up and out
AU23    mouthPucker            lip tightener: ARKit's "contraction and compression of both
                               closed lips" is the orbicularis oris tightening; there is no
                               closer shape (mouthFunnel is AU22, mouthRoll is AU28)
AU24    mouthPress L/R         lip presser = the closed lips pressed together
======  =====================  ==========================================================

Known consequence: with cheekSquint silent, AU06 and AU07 get (almost) the same
score; the blendshapes cannot tell the cheek raiser from the lid tightener.

The scores lie in [0, 1] and rise with the movement, but they are NOT calibrated
probabilities: a blendshape of 0.3 is a 30% deformation of a 3D rig, not a 30%
chance. The adapter's thresholds are 0.5 ("the movement is at least half its
full extent"), chosen a priori, never on evaluation data.

Example:
    >>> scores = blendshapes_to_aus({**dict.fromkeys(required_blendshapes(), 0.0),
    ...                              "mouthSmileLeft": 0.9, "mouthSmileRight": 0.7})
    >>> round(float(scores[TEACHER_AUS.index(12)]), 3)  # max of Left and Right
    0.9
    >>> teacher = BlendshapeAUDetector("face_landmarker.task")  # doctest: +SKIP
    >>> report = evaluate_images(teacher, read_labelled_images("ckplus_dev"), prep)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aunce_rt.aus import BENCHMARK_AUS, au_label
from aunce_rt.errors import InputError

logger = logging.getLogger(__name__)

TEACHER_AUS: tuple[int, ...] = BENCHMARK_AUS["bp4d"]
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class BlendshapeRule:
    """How one AU's score is made from blendshapes.

    The score is the max over ``groups`` of the max over the group's names (a
    Left/Right pair, or a single bilateral name).

    Attributes:
        au: FACS code.
        groups: alternatives, each a tuple of blendshape names (max over all of them).
        why: the FACS / ARKit reason, for docs and reports.
    """

    au: int
    groups: tuple[tuple[str, ...], ...]
    why: str

    @property
    def names(self) -> tuple[str, ...]:
        """Every blendshape the rule reads."""
        return tuple(name for group in self.groups for name in group)


def _lr(stem: str) -> tuple[str, str]:
    return (f"{stem}Left", f"{stem}Right")


TEACHER_RULES: tuple[BlendshapeRule, ...] = (
    BlendshapeRule(1, (("browInnerUp",),), "inner brow raiser"),
    BlendshapeRule(2, (_lr("browOuterUp"),), "outer brow raiser"),
    BlendshapeRule(4, (_lr("browDown"),), "brow lowerer"),
    BlendshapeRule(
        6, (_lr("cheekSquint"), _lr("eyeSquint")), "cheek raiser; eyeSquint stands in for silent cheekSquint"
    ),
    BlendshapeRule(7, (_lr("eyeSquint"),), "lid tightener"),
    BlendshapeRule(10, (_lr("mouthUpperUp"),), "upper lip raiser"),
    BlendshapeRule(12, (_lr("mouthSmile"),), "lip corner puller"),
    BlendshapeRule(14, (_lr("mouthDimple"),), "dimpler"),
    BlendshapeRule(15, (_lr("mouthFrown"),), "lip corner depressor"),
    BlendshapeRule(17, (("mouthShrugLower",),), "chin raiser"),
    BlendshapeRule(23, (("mouthPucker",),), "lip tightener (compression of the closed lips)"),
    BlendshapeRule(24, (_lr("mouthPress"),), "lip presser"),
)
assert tuple(r.au for r in TEACHER_RULES) == TEACHER_AUS


def required_blendshapes() -> tuple[str, ...]:
    """The blendshape names the mapping reads (sorted, no duplicates)."""
    return tuple(sorted({name for rule in TEACHER_RULES for name in rule.names}))


def blendshapes_to_aus(blendshapes: Mapping[str, float]) -> np.ndarray:
    """AU scores (K,) float32 in [0, 1], in ``TEACHER_AUS`` order, from one face's blendshapes.

    Args:
        blendshapes: name -> score, as in ``FaceResult.blendshapes`` (extra names are ignored).

    Raises:
        InputError: a blendshape the mapping needs is missing (e.g. the face came
            from the bundled face mesh, which has no blendshapes).
    """
    missing = [name for name in required_blendshapes() if name not in blendshapes]
    if missing:
        raise InputError(
            f"blendshapes lack {missing} (got {len(blendshapes)} names, e.g. {sorted(blendshapes)[:3]}); "
            "expected MediaPipe FaceLandmarker's 52 ARKit-style scores: run AUDetector(landmarks="
            "'face_landmarker.task')"
        )
    out = np.empty(len(TEACHER_RULES), dtype=np.float32)
    for k, rule in enumerate(TEACHER_RULES):
        out[k] = max(float(blendshapes[name]) for name in rule.names)
    return np.clip(out, 0.0, 1.0)


def mapping_table() -> str:
    """The mapping as a markdown table (AU | blendshapes | reason)."""
    lines = ["| AU | blendshapes (max over all) | FACS action |", "|---|---|---|"]
    for rule in TEACHER_RULES:
        lines.append(f"| {au_label(rule.au)} | {', '.join(rule.names)} | {rule.why} |")
    return "\n".join(lines)


class BlendshapeAUDetector:
    """An ``AUDetector`` whose AU probabilities are the blendshape teacher's scores.

    It runs the full runtime with MediaPipe's FaceLandmarker (so every face carries
    blendshapes) and replaces each face's ``au_codes``, ``probabilities`` and
    ``occurrences`` with the mapped scores; boxes, landmarks, confidences and
    timings are the runtime's. It has the small interface the evaluators use
    (``au_codes``, ``thresholds``, ``detect``), so the teacher is scored exactly
    like a model.

    Args:
        landmarks: path to MediaPipe's FaceLandmarker ``.task`` bundle.
        thresholds: one float for every AU or one per AU in ``TEACHER_AUS`` order
            (default 0.5: half the movement's full extent; scores are not calibrated).
        max_faces: most faces analysed per frame.
        providers: execution providers of the (unused) AU model the runtime loads.

    Raises:
        InputError: ``landmarks`` is not an existing ``.task`` file, or bad thresholds.
    """

    def __init__(
        self,
        landmarks: str | Path,
        *,
        thresholds: float | Sequence[float] = DEFAULT_THRESHOLD,
        max_faces: int = 4,
        providers: Any = "cpu",
    ) -> None:
        from aunce_rt.detector import AUDetector

        path = Path(landmarks)
        if path.suffix != ".task" or not path.is_file():
            raise InputError(
                f"the blendshape teacher needs MediaPipe's FaceLandmarker .task file; got {str(landmarks)!r} "
                "(not an existing .task file); pass e.g. '../shared/models/face_landmarker.task'"
            )
        self.au_codes: tuple[int, ...] = TEACHER_AUS
        self.thresholds = _thresholds(thresholds)
        self.detector = AUDetector(providers=providers, max_faces=max_faces, landmarks=path)

    def detect(self, frame_bgr: np.ndarray, timestamp: float | None = None) -> Any:
        """``AUDetector.detect`` with each face's AU scores taken from its blendshapes.

        Returns:
            A ``FrameResult`` whose faces have ``au_codes == TEACHER_AUS``.
        """
        result = self.detector.detect(frame_bgr, timestamp)
        faces = tuple(self._teach(face) for face in result.faces)
        return dataclasses.replace(result, faces=faces)

    def _teach(self, face: Any) -> Any:
        if face.blendshapes is None:
            raise InputError("a face came without blendshapes; the landmark backend must be a .task file")
        probs = blendshapes_to_aus(face.blendshapes)
        return dataclasses.replace(
            face, au_codes=self.au_codes, probabilities=probs, occurrences=probs >= self.thresholds
        )

    def describe(self) -> str:
        """One line naming the teacher."""
        return f"blendshape teacher ({len(self.au_codes)} AUs from MediaPipe FaceLandmarker blendshapes)"

    def close(self) -> None:
        """Release the landmark backend."""
        self.detector.close()

    def __enter__(self) -> BlendshapeAUDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _thresholds(spec: float | Sequence[float]) -> np.ndarray:
    """(K,) float32 thresholds in [0, 1] from one float or one per teacher AU."""
    if isinstance(spec, (int, float)):
        out = np.full(len(TEACHER_AUS), float(spec), dtype=np.float32)
    else:
        out = np.asarray(list(spec), dtype=np.float32)
        if out.shape != (len(TEACHER_AUS),):
            raise InputError(
                f"got {out.size} thresholds; the teacher has {len(TEACHER_AUS)} AUs "
                f"{[au_label(c) for c in TEACHER_AUS]}: pass one float or one per AU"
            )
    if not np.all((out >= 0.0) & (out <= 1.0)):
        raise InputError(f"thresholds must lie in [0, 1]; got {out.tolist()}")
    return out
