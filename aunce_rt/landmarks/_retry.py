"""The still-image retry for faces in tight crops: the rule, the padding and its undoing.

Aligned-face datasets and close-ups fill the whole image with the face; MediaPipe's
full-range detector, made for faces that are small in the frame, often misses
them. When the normal still-image attempt (full-range detector -> FaceMesh on a
crop around each detection) finds no face, ``FaceMeshBackend`` retries, in order,
and stops at the first attempt that finds a face:

1. the short-range detector (BlazeFace front model, made for faces that fill
   the frame) on the image as it is, at the backend's detection threshold, then
   FaceMesh on a crop around each detection;
2. the image padded with a replicated border of ``RETRY_PAD`` (one half) of its
   longer side on each edge, and the normal full-range path on it; the
   landmarks are shifted back by the padding (``shift_faces``).

Thresholds are never lowered: both retries keep the detection threshold the
user asked for and FaceMesh keeps its own, so a retry can only find a face a
detector scores as one. Video and streams (tracking mode) never retry.

The rule was chosen on a development set of tight crops made from the CC BY
faces_cc/london photos (``bench/dev_tightcrops.py``: 204 faces x 9 crop
variants, margins -0.2..0.1, 24-96 px, grey/colour, upscaled, with or without a
replicated border; 209 no-face images), never on an evaluation set. There the
normal attempt found 1225/1836; a lower full-range threshold (0.3) found none
more; the short-range detector alone found the other 611 (0 false faces,
about 16 ms per retried image); padding alone (replicated, 1/2 side) found
590 of them and is kept as the fallback; a constant (black) border found a
false face on a no-face image, so the border is replicated.
"""

from __future__ import annotations

import cv2
import numpy as np

from aunce_rt.boxes import box_of
from aunce_rt.landmarks._face import FaceLandmarks

RETRY_PAD = 0.5  # replicated border per edge, as a fraction of the image's longer side


def pad_replicate(rgb: np.ndarray, fraction: float = RETRY_PAD) -> tuple[np.ndarray, tuple[int, int]]:
    """Pad an (H, W, 3) image with a replicated border of ``fraction`` x its longer side.

    Returns:
        The padded image and the (x, y) pixel offset of the original image inside it.
    """
    border = int(round(max(rgb.shape[:2]) * fraction))
    padded = cv2.copyMakeBorder(rgb, border, border, border, border, cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(padded), (border, border)


def shift_faces(faces: list[FaceLandmarks], offset: tuple[float, float]) -> list[FaceLandmarks]:
    """Faces found in a padded image, moved back to the original image's pixels.

    Args:
        faces: landmarks in the padded image's pixels.
        offset: (x, y) position of the original image inside the padded one.
    """
    shift = np.asarray(offset, np.float32)
    out = []
    for face in faces:
        points = (face.points - shift).astype(np.float32)
        out.append(FaceLandmarks(points, face.z, face.confidence, box_of(points), face.blendshapes))
    return out
