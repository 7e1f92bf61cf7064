"""Screening of landmark sets before analysis: drop non-faces and duplicates.

A landmarker can report a face that is not one (a torso, a mug: the detector
fired on it and the mesh regressed a face-shaped set of points onto it) and can
report one face twice (two detections of one face, or a tracked face plus a
fresh detection of it, under different ids). ``screen_faces`` applies, in order:

1. **Score gate**: ``confidence >= min_confidence`` (the detection score of the
   face, see ``aunce_rt.landmarks``; default 0.4). A face the detector keeps has
   0.5 or more, and so has a face FaceMesh tracks without a fresh detection; in
   video each re-detection that does not confirm a tracked face multiplies its
   confidence by 0.85 (``UNCONFIRMED_DECAY``), so a face none of two re-detections
   in a row confirms (a torso, a mug) falls below 0.4 and is no longer reported.
2. **Geometric plausibility** of the 478 MediaPipe points (``plausibility``):
   all finite and a box of at least ``MIN_FACE_PX`` pixels a side; the box's
   aspect ratio (width / height) within ``ASPECT_RANGE``; the eye axis and the
   eyes-to-mouth axis close to perpendicular (``|cos| <= MAX_AXIS_COS``), with
   the mouth on the chin side of the eyes; the eyes-to-mouth distance over the eye
   distance within ``MOUTH_EYE_RANGE``; the eye distance over the box width within
   ``EYE_BOX_RANGE``. The bounds hold every value ``bench/calib_screening.py``
   saw on 200 SynthAU renders with FaceMesh landmarks (poses up to 25/20/20
   degrees yaw/pitch/roll: aspect 0.81-1.04, ``|cos|`` <= 0.16, eyes-to-mouth /
   eye distance 0.88-1.30, eye distance / box width 0.37-0.46) with a wide margin,
   1.5 to 6 times the observed span on each side, for head poses beyond SynthAU's.
   They were not tuned on any test video. FaceMesh regresses a face-shaped set of
   points onto whatever it is given, so this check catches broken and distorted
   sets; the score gate does most of the work against torsos and mugs.
3. **De-duplication** (``dedupe_faces``): of two sets whose boxes overlap with
   IoU >= ``DUPLICATE_IOU``, or whose mean point distance is below
   ``DUPLICATE_DISTANCE`` face sizes (the square root of the box area), the
   more confident one is kept.

Example:
    >>> faces = screen_faces(backend.process(rgb, 0))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aunce_rt.boxes import box_area, box_iou
from aunce_rt.landmarks._face import FaceLandmarks

MIN_CONFIDENCE = 0.4
MIN_FACE_PX = 12.0
ASPECT_RANGE = (0.45, 1.6)
MAX_AXIS_COS = 0.5
MOUTH_EYE_RANGE = (0.55, 3.0)
EYE_BOX_RANGE = (0.15, 0.85)
DUPLICATE_IOU = 0.5
DUPLICATE_DISTANCE = 0.15

# MediaPipe FaceMesh indices: eye corners (outer, inner) and mouth corners.
_LEFT_EYE, _RIGHT_EYE, _MOUTH = (33, 133), (362, 263), (61, 291)


def face_features(points: np.ndarray) -> dict[str, float]:
    """The quantities ``plausibility`` checks, for one (478, 2) point set.

    Returns:
        ``size`` (px, sqrt of box area), ``aspect`` (box w / h), ``axis_cos``
        (cosine between the eye axis and the eyes-to-mouth axis), ``mouth_side``
        (z of eye axis x eyes-to-mouth axis over their lengths; > 0 when the mouth is
        on the chin side for a non-mirrored face), ``mouth_eye`` (eyes-to-mouth
        distance / eye distance) and ``eye_box`` (eye distance / box width).
    """
    pts = np.asarray(points, np.float64)
    x1, y1 = pts.min(0)
    x2, y2 = pts.max(0)
    w, h = max(x2 - x1, 1e-9), max(y2 - y1, 1e-9)
    left = pts[list(_LEFT_EYE)].mean(0)
    right = pts[list(_RIGHT_EYE)].mean(0)
    mouth = pts[list(_MOUTH)].mean(0)
    eye = right - left
    down = mouth - (left + right) / 2
    ne, nd = float(np.linalg.norm(eye)), float(np.linalg.norm(down))
    denom = max(ne * nd, 1e-9)
    return {
        "size": float(np.sqrt(w * h)),
        "aspect": float(w / h),
        "axis_cos": float(abs(eye @ down) / denom),
        "mouth_side": float((eye[0] * down[1] - eye[1] * down[0]) / denom),
        "mouth_eye": nd / max(ne, 1e-9),
        "eye_box": ne / w,
    }


def plausibility(points: np.ndarray) -> str | None:
    """None when ``points`` (478, 2) look like a face; else the first failed check, in words."""
    pts = np.asarray(points)
    if pts.ndim != 2 or pts.shape[0] < 478 or not np.all(np.isfinite(pts)):
        return "points are not 478 finite x, y pairs"
    f = face_features(pts)
    if f["size"] < MIN_FACE_PX:
        return f"face {f['size']:.1f} px is below {MIN_FACE_PX} px"
    if not ASPECT_RANGE[0] <= f["aspect"] <= ASPECT_RANGE[1]:
        return f"box aspect {f['aspect']:.2f} outside {ASPECT_RANGE}"
    if f["axis_cos"] > MAX_AXIS_COS or f["mouth_side"] <= 0:
        return "the mouth is not below the eyes"
    if not MOUTH_EYE_RANGE[0] <= f["mouth_eye"] <= MOUTH_EYE_RANGE[1]:
        return f"eyes-to-mouth / eye distance {f['mouth_eye']:.2f} outside {MOUTH_EYE_RANGE}"
    if not EYE_BOX_RANGE[0] <= f["eye_box"] <= EYE_BOX_RANGE[1]:
        return f"eye distance / box width {f['eye_box']:.2f} outside {EYE_BOX_RANGE}"
    return None


def dedupe_faces(
    faces: Sequence[FaceLandmarks],
    iou_threshold: float = DUPLICATE_IOU,
    distance_threshold: float = DUPLICATE_DISTANCE,
) -> list[FaceLandmarks]:
    """Faces with duplicates of one face removed (the more confident kept), in their input order."""
    order = sorted(range(len(faces)), key=lambda i: -faces[i].confidence)
    kept: list[int] = []
    for i in order:
        if not any(_same_face(faces[i], faces[k], iou_threshold, distance_threshold) for k in kept):
            kept.append(i)
    return [faces[i] for i in sorted(kept)]


def _same_face(a: FaceLandmarks, b: FaceLandmarks, iou_threshold: float, distance_threshold: float) -> bool:
    if box_iou(a.box[None], b.box[None])[0, 0] >= iou_threshold:
        return True
    size = np.sqrt(max(min(box_area(a.box[None])[0], box_area(b.box[None])[0]), 1e-9))
    n = min(len(a.points), len(b.points))
    dist = float(np.linalg.norm(a.points[:n] - b.points[:n], axis=1).mean())
    return dist / size < distance_threshold


def screen_faces(
    faces: Sequence[FaceLandmarks], min_confidence: float = MIN_CONFIDENCE
) -> tuple[list[FaceLandmarks], int]:
    """The faces that pass the score gate and the plausibility check, de-duplicated.

    Returns:
        (kept faces in their input order, number rejected as not a face). Duplicates
        removed are not counted as rejected.
    """
    good = [f for f in faces if f.confidence >= min_confidence and plausibility(f.points) is None]
    return dedupe_faces(good), len(faces) - len(good)


def largest_faces(faces: list[FaceLandmarks], max_faces: int) -> list[FaceLandmarks]:
    """At most ``max_faces`` of ``faces``: the largest boxes, in their original order."""
    if len(faces) <= max_faces:
        return faces
    areas = [float(np.prod(f.box[2:] - f.box[:2])) for f in faces]
    keep = sorted(np.argsort(areas, kind="stable")[::-1][:max_faces].tolist())
    return [faces[i] for i in keep]


def dropped_message(found: int, max_faces: int, headroom: int, name: str, index: int) -> str:
    """The warning that a frame had more than ``max_faces`` faces (``headroom``: extra asked of the landmarker)."""
    more = "" if found < max_faces + headroom else " or more"
    where = "the image" if name == "frame" else f"{name} frame {index + 1}"
    return (
        f"{where} has {found}{more} faces; max_faces={max_faces} analyses the {max_faces} largest and drops "
        f"{found - max_faces}{more}: raise --max-faces (max_faces=) to analyse them (said once)"
    )
