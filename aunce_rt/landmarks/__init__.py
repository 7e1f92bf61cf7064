"""Face landmarks from MediaPipe, behind one small interface.

Two backends return the same ``FaceLandmarks`` (478 points, pixels):

* ``FaceMeshBackend`` (default, "facemesh"): MediaPipe's legacy FaceMesh, whose
  models ship inside the mediapipe wheel. For video/camera/streams it runs the
  FaceMesh graph in tracking mode (landmarks of frame t seed frame t+1). For
  still images it runs MediaPipe's full-range face detector and then FaceMesh on
  a crop around each detection: the stock graph merges the enlarged boxes of
  neighbouring faces and loses small ones, so group photos would lose faces.
  When a still image yields no face (close-ups, aligned-face crops), it retries
  with the short-range detector and then on a padded image (``_retry``).
* ``TasksBackend`` (a ``.task`` file): MediaPipe Tasks ``FaceLandmarker``, which
  adds the 52 blendshape scores.

Confidence (MediaPipe's legacy graph exposes no per-face landmark score):
FaceMesh's confidence is the score of the BlazeFace detection that found the
face (matched by box overlap; in tracking mode, when no detection ran on this
frame, the last matched score of the same face is carried over). A face with no
detection score yet gets the tracking threshold, the lower bound its landmark
presence score passed. The Tasks result exposes no per-face score either, so the
Tasks backend does the same with the bundle's own face detector
(``face_detector.tflite``): a face's confidence is its detection's score, carried
over in video, and the presence threshold it passed when no detection overlaps it.

Example:
    >>> backend = create_backend("facemesh", static=True, max_faces=2)  # doctest: +SKIP
    >>> faces = backend.process(rgb, timestamp_ms=0)  # doctest: +SKIP
"""

from __future__ import annotations

from aunce_rt.boxes import box_iou, box_of
from aunce_rt.landmarks._face import NUM_LANDMARKS, FaceLandmarks, LandmarkBackend, most_confident_face
from aunce_rt.landmarks._facemesh import FaceMeshBackend
from aunce_rt.landmarks._factory import create_backend
from aunce_rt.landmarks._native import quiet_native_logs
from aunce_rt.landmarks._tasks import TasksBackend

__all__ = [
    "NUM_LANDMARKS",
    "FaceLandmarks",
    "FaceMeshBackend",
    "LandmarkBackend",
    "TasksBackend",
    "box_iou",
    "box_of",
    "create_backend",
    "most_confident_face",
    "quiet_native_logs",
]
