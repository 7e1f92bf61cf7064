"""Head pose, gaze, eye openness and mouth opening from MediaPipe's 478 landmarks.

No model at run time: everything comes from the landmark points the runtime already
has, ``(478, 2)`` pixels plus MediaPipe's relative depth ``z`` (478,) in pixels at
the scale of x (larger = farther). Conventions are OpenFace 2.x's, so its readers
and plots work on our CSV columns:

* Camera frame: x right, y down, z away from the camera; the principal point is the
  image centre and the focal length is assumed equal to the image width (in pixels).
* MediaPipe's depth is flatter than the face: ``z`` is multiplied by `DEPTH_GAIN`
  (1.2) before use. Without it yaw read ~15 % low on SynthAU heads turned to +-30 deg
  (MAE 4.0 deg at |yaw| 20-30 on the calibration clips, 1.0 with it; set on two
  clips, checked on others and on OpenFace's sample videos: bench/EXP_DRIVER.md).
* Head rotation ``R`` (3, 3) maps head axes to camera axes: head x from the
  subject's right eye to the left one, head y from forehead to chin, head z = x cross y
  (into the head). ``R = Rx(pitch) @ Ry(yaw) @ Rz(roll)``; the CSV's ``pose_Rx``,
  ``pose_Ry``, ``pose_Rz`` are pitch, yaw, roll in radians (OpenFace's order);
  `FaceGeometry` holds them in degrees. MediaPipe's depth shows the face as seen
  along the ray through it, so that view is turned onto the ray (`ray_rotation`)
  to give camera-frame angles as OpenFace does. Zero is the landmark frame's own "straight"
  face, which is pitched a few degrees from OpenFace's zero: compare changes, or
  learn a neutral pose (`aunce_rt.driver` does, per driver).
* Translation (mm): ``Tz = f * 90 mm / outer-eye-corner distance`` (adult
  exocanthion width ~90 mm), ``Tx, Ty`` back-projected from the landmarks' centre.
* Gaze: per eye, the unit vector from an eyeball centre (the eye corners' midpoint
  pushed 0.4 eye widths along head z) to the iris centre lifted onto that sphere;
  ``gaze_0`` is the eye on the image's left (the subject's right eye), as OpenFace.
  ``gaze_angle_x = atan2(g_x, -g_z)``, ``gaze_angle_y = atan2(g_y, -g_z)`` of the
  two vectors' mean (radians; 0, 0 = looking into the camera).
* Eye aspect ratio (Soukupova & Cech 2016): ``(|p2-p6| + |p3-p5|) / (2 |p1-p4|)``,
  ~0.25-0.35 open, < 0.1 closed. Mouth opening: inner-lip gap over mouth width.

Example:
    >>> g = face_geometry(points, z, width=640, height=480)  # doctest: +SKIP
    >>> g.yaw, g.ear  # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from aunce_rt.errors import InputError

# (subject's right, subject's left) pairs, so that right -> left is head +x.
_X_PAIRS = np.array([(33, 263), (133, 362), (234, 454), (61, 291), (130, 359)])
# (top, bottom) midline pairs, so that top -> bottom is head +y.
_Y_PAIRS = np.array([(10, 152), (168, 17), (9, 200), (151, 175)])
# Eye aspect ratio points p1..p6 (outer corner, two upper lid, inner corner, two lower lid).
EYE_POINTS = {"right": (33, 160, 158, 133, 153, 144), "left": (263, 387, 385, 362, 380, 373)}
IRIS_CENTRE = {"right": 468, "left": 473}
EYE_WIDTH_MM = 90.0  # outer eye corner to outer eye corner, adult mean
EYEBALL_RADIUS = 0.4  # eyeball radius in eye widths (12 mm / 30 mm)
N_POINTS = 478
DEPTH_GAIN = 1.2  # MediaPipe's z is this much flatter than x (see the module docstring)


@dataclass(frozen=True)
class FaceGeometry:
    """Head pose, gaze and eye/mouth state of one face in one frame.

    Attributes:
        rotation: (3, 3) float64 head-to-camera rotation (see the module docstring).
        pitch, yaw, roll: degrees, OpenFace's ``pose_Rx, pose_Ry, pose_Rz`` in degrees.
        translation: (3,) float64 ``Tx, Ty, Tz`` in mm (focal length = image width).
        gaze_0, gaze_1: (3,) float64 unit gaze vectors, image-left and image-right eye.
        gaze_angle_x, gaze_angle_y: radians, OpenFace's combined gaze angles.
        ear_right, ear_left: eye aspect ratio of the subject's right and left eye.
        mouth_opening: inner-lip gap over mouth width (0 closed, ~0.5+ wide open).
    """

    rotation: np.ndarray
    pitch: float
    yaw: float
    roll: float
    translation: np.ndarray
    gaze_0: np.ndarray
    gaze_1: np.ndarray
    gaze_angle_x: float
    gaze_angle_y: float
    ear_right: float
    ear_left: float
    mouth_opening: float

    @property
    def ear(self) -> float:
        """Mean eye aspect ratio of both eyes."""
        return 0.5 * (self.ear_right + self.ear_left)

    def openface_columns(self) -> dict[str, float]:
        """OpenFace's gaze and pose columns: gaze unit vectors, angles (rad), T (mm), R (rad)."""
        out = {f"gaze_0_{a}": float(v) for a, v in zip("xyz", self.gaze_0, strict=True)}
        out.update({f"gaze_1_{a}": float(v) for a, v in zip("xyz", self.gaze_1, strict=True)})
        out["gaze_angle_x"] = self.gaze_angle_x
        out["gaze_angle_y"] = self.gaze_angle_y
        out.update({f"pose_T{a}": float(v) for a, v in zip("xyz", self.translation, strict=True)})
        out["pose_Rx"] = math.radians(self.pitch)
        out["pose_Ry"] = math.radians(self.yaw)
        out["pose_Rz"] = math.radians(self.roll)
        return out

    def to_dict(self) -> dict[str, float]:
        """JSON-ready dict (degrees, mm, radians for gaze angles)."""
        return {
            "pitch": round(self.pitch, 3),
            "yaw": round(self.yaw, 3),
            "roll": round(self.roll, 3),
            "t_mm": [round(float(v), 2) for v in self.translation],
            "gaze_angle_x": round(self.gaze_angle_x, 4),
            "gaze_angle_y": round(self.gaze_angle_y, 4),
            "ear_right": round(self.ear_right, 4),
            "ear_left": round(self.ear_left, 4),
            "mouth_opening": round(self.mouth_opening, 4),
        }


def _norm(v: np.ndarray) -> float:
    """Euclidean norm of a small vector (np.linalg.norm costs ~5 us a call)."""
    return math.sqrt(float(v @ v))


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product of two 3-vectors (np.cross costs ~40 us a call)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def euler_to_rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """(3, 3) ``Rx(pitch) @ Ry(yaw) @ Rz(roll)``, angles in degrees (OpenFace's order)."""
    a, b, c = (math.radians(v) for v in (pitch, yaw, roll))
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return rx @ ry @ rz


def rotation_to_euler(rotation: np.ndarray) -> tuple[float, float, float]:
    """Inverse of `euler_to_rotation`: (pitch, yaw, roll) in degrees."""
    r = np.asarray(rotation, dtype=np.float64)
    yaw = math.asin(max(-1.0, min(1.0, r[0, 2])))
    pitch = math.atan2(-r[1, 2], r[2, 2])
    roll = math.atan2(-r[0, 1], r[0, 0])
    return math.degrees(pitch), math.degrees(yaw), math.degrees(roll)


def head_rotation(pts3: np.ndarray) -> np.ndarray:
    """(3, 3) head-to-camera rotation from (478, 3) points (x, y pixels, z depth in pixels)."""
    x = (pts3[_X_PAIRS[:, 1]] - pts3[_X_PAIRS[:, 0]]).sum(axis=0)
    y = (pts3[_Y_PAIRS[:, 1]] - pts3[_Y_PAIRS[:, 0]]).sum(axis=0)
    x /= _norm(x) + 1e-12
    y = y - x * float(x @ y)  # Gram-Schmidt: y orthogonal to x
    y /= _norm(y) + 1e-12
    return np.stack([x, y, _cross(x, y)], axis=1)


def ray_rotation(translation: np.ndarray) -> np.ndarray:
    """(3, 3) smallest rotation taking the camera's z axis onto the ray towards ``translation``.

    MediaPipe's depth describes the face as seen along the ray through it; a face off
    the image centre with a camera-frame yaw of 0 looks turned by ``atan(Tx / Tz)``.
    """
    t = np.asarray(translation, dtype=np.float64)
    ray = t / (_norm(t) + 1e-12)
    axis = np.array([-ray[1], ray[0], 0.0])  # z cross ray
    s, c = _norm(axis), float(ray[2])
    if s < 1e-12:
        return np.eye(3)
    k = axis / s
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + s * kx + (1 - c) * (kx @ kx)  # Rodrigues


def eye_aspect_ratio(points: np.ndarray, eye: str) -> float:
    """Eye aspect ratio of the subject's ``"right"`` or ``"left"`` eye from (478, 2|3) points."""
    p = np.asarray(points, dtype=np.float64)[list(EYE_POINTS[eye]), :2]
    vertical = _norm(p[1] - p[5]) + _norm(p[2] - p[4])
    return vertical / (2.0 * _norm(p[0] - p[3]) + 1e-9)


def mouth_opening(points: np.ndarray) -> float:
    """Inner-lip gap (13-14) over mouth width (61-291) from (478, 2|3) points."""
    p = np.asarray(points, dtype=np.float64)[:, :2]
    return _norm(p[13] - p[14]) / (_norm(p[61] - p[291]) + 1e-9)


def _gaze(pts3: np.ndarray, rotation: np.ndarray, eye: str) -> np.ndarray:
    """(3,) unit gaze vector of one eye in camera axes."""
    outer, inner = pts3[EYE_POINTS[eye][0]], pts3[EYE_POINTS[eye][3]]
    radius = EYEBALL_RADIUS * _norm(outer - inner)
    centre = 0.5 * (outer + inner) + rotation[:, 2] * radius
    iris = pts3[IRIS_CENTRE[eye]]
    dx, dy = iris[0] - centre[0], iris[1] - centre[1]
    dz = -math.sqrt(max(radius * radius - dx * dx - dy * dy, 0.0))  # the sphere's camera-facing side
    v = np.array([dx, dy, dz])
    return v / (_norm(v) + 1e-12)


def face_geometry(points: np.ndarray, z: np.ndarray | None, width: int, height: int) -> FaceGeometry:
    """Pose, gaze and eye/mouth state of one face.

    Args:
        points: (478, 2) landmark pixels (``FaceResult.landmarks``).
        z: (478,) MediaPipe relative depth in pixels at the scale of x, or None
            (then the rotation has no depth cue and pitch/yaw read near 0).
        width, height: frame size in pixels (focal length = width).

    Returns:
        A `FaceGeometry`.

    Raises:
        InputError: points or z of the wrong shape.

    Example:
        >>> face_geometry(points, z, 640, 480).yaw  # doctest: +SKIP
        -3.2
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.shape != (N_POINTS, 2):
        raise InputError(f"face_geometry needs (478, 2) MediaPipe landmarks (with iris); got {pts.shape}")
    depth = np.zeros(N_POINTS) if z is None else np.asarray(z, dtype=np.float64).reshape(-1)
    if depth.shape != (N_POINTS,):
        raise InputError(f"face_geometry needs z of shape (478,); got {np.shape(z)}")
    pts3 = np.column_stack([pts, depth * DEPTH_GAIN])
    view = head_rotation(pts3)  # relative to the ray through the face (MediaPipe's crop view)
    eye_px = _norm(pts3[263] - pts3[33])
    f = float(width)
    tz = f * EYE_WIDTH_MM / max(eye_px, 1e-6)
    cx, cy = pts.mean(axis=0)
    translation = np.array([(cx - width / 2.0) * tz / f, (cy - height / 2.0) * tz / f, tz])
    ray = ray_rotation(translation)
    rotation = ray @ view  # camera-frame rotation, as OpenFace's
    pitch, yaw, roll = rotation_to_euler(rotation)
    g0 = ray @ _gaze(pts3, view, "right")  # subject's right eye = image left = OpenFace gaze_0
    g1 = ray @ _gaze(pts3, view, "left")
    mean = g0 + g1
    return FaceGeometry(
        rotation=rotation,
        pitch=pitch,
        yaw=yaw,
        roll=roll,
        translation=translation,
        gaze_0=g0,
        gaze_1=g1,
        gaze_angle_x=math.atan2(mean[0], -mean[2]),
        gaze_angle_y=math.atan2(mean[1], -mean[2]),
        ear_right=eye_aspect_ratio(pts, "right"),
        ear_left=eye_aspect_ratio(pts, "left"),
        mouth_opening=mouth_opening(pts),
    )
