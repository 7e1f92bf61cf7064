"""The 3D face model: a mean iBUG-68 shape and a head height field, both in millimetres.

Face frame: origin midway between the eye centres, x to image right (the subject's
left), y down, z towards the camera. The head is a height field ``z = h(x, y)``
(a rounded cross-section whose half-width and depth follow a vertical profile)
plus anisotropic Gaussian bumps for the eye sockets, brow ridge, nose, cheekbones,
lips and chin. Landmarks lie on that surface, so the rendered skin, the shading
and the landmarks always agree.
"""

from __future__ import annotations

import numpy as np

# Mean iBUG-68 frontal shape (OpenFace's normalised dlib template, symmetrised,
# scaled to 64 mm between the eye centres; x right, y down, origin mid-eye).
_TEMPLATE = np.array(
    [
        (0.0792, 0.3392), (0.0829, 0.4570), (0.0968, 0.5756), (0.1221, 0.6919), (0.1687, 0.8003),
        (0.2398, 0.8957), (0.3257, 0.9771), (0.4223, 1.0433), (0.5318, 1.0608), (0.6413, 1.0398),
        (0.7381, 0.9723), (0.8244, 0.8896), (0.8948, 0.7925), (0.9394, 0.6815), (0.9611, 0.5622),
        (0.9706, 0.4418), (0.9712, 0.3221), (0.1638, 0.2492), (0.2178, 0.2043), (0.2913, 0.1924),
        (0.3675, 0.2036), (0.4393, 0.2331), (0.5864, 0.2281), (0.6602, 0.1959), (0.7375, 0.1824),
        (0.8132, 0.1928), (0.8708, 0.2353), (0.5153, 0.3186), (0.5162, 0.3962), (0.5171, 0.4738),
        (0.5182, 0.5532), (0.4337, 0.6041), (0.4755, 0.6208), (0.5207, 0.6343), (0.5659, 0.6188),
        (0.6071, 0.6016), (0.2524, 0.3311), (0.2987, 0.3026), (0.3557, 0.3030), (0.4037, 0.3387),
        (0.3525, 0.3500), (0.2968, 0.3505), (0.6313, 0.3341), (0.6791, 0.2965), (0.7360, 0.2947),
        (0.7829, 0.3213), (0.7403, 0.3418), (0.6850, 0.3437), (0.3532, 0.7462), (0.4146, 0.7191),
        (0.4777, 0.7068), (0.5227, 0.7171), (0.5698, 0.7054), (0.6352, 0.7157), (0.6995, 0.7394),
        (0.6394, 0.8052), (0.5764, 0.8354), (0.5254, 0.8417), (0.4764, 0.8375), (0.4138, 0.8100),
        (0.3801, 0.7500), (0.4780, 0.7451), (0.5234, 0.7489), (0.5711, 0.7433), (0.6724, 0.7442),
        (0.5725, 0.7766), (0.5235, 0.7814), (0.4776, 0.7785),
    ],
    dtype=np.float64,
)  # fmt: skip

# Index of each point's mirror image (left/right swapped).
MIRROR = np.array(
    [16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
     27, 28, 29, 30, 35, 34, 33, 32, 31, 45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
     54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]
)  # fmt: skip

IOD_MM = 64.0  # distance between the eye centres of the mean face
ZC = -70.0  # depth of the head's central axis (the cross-sections are centred here)

# Landmark groups (iBUG-68, 0-based).
JAW = np.arange(0, 17)
BROW_R, BROW_L = np.arange(17, 22), np.arange(22, 27)  # image-left brow, image-right brow
NOSE_BRIDGE, NOSTRILS = np.arange(27, 31), np.arange(31, 36)
EYE_R, EYE_L = np.arange(36, 42), np.arange(42, 48)  # image-left eye, image-right eye
LIPS_OUTER, LIPS_INNER = np.arange(48, 60), np.arange(60, 68)


def _mean_shape_2d() -> np.ndarray:
    """Symmetric mean shape (68, 2) in mm with a closed mouth."""
    t = _TEMPLATE.copy()
    eyes = np.stack([t[36:42].mean(0), t[42:48].mean(0)])
    scale = IOD_MM / np.linalg.norm(eyes[1] - eyes[0])
    p = (t - eyes.mean(0)) * scale
    mirrored = p[MIRROR] * np.array([-1.0, 1.0])
    p = (p + mirrored) / 2.0
    # Close the mouth: the inner lip lines meet on one line.
    for up, low in ((61, 67), (62, 66), (63, 65)):
        y = (p[up, 1] + p[low, 1]) / 2.0
        p[up, 1] = p[low, 1] = y
    return p


MEAN_SHAPE_2D = _mean_shape_2d()


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotation (3, 3) for a head pose in degrees.

    yaw > 0 turns the face towards image right, pitch > 0 lifts the chin, roll > 0
    tilts the head clockwise in the image. Applied as ``R = Rz(roll) Rx(pitch) Ry(yaw)``.
    """
    y, p, r = np.deg2rad([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def gaussian_bumps(x: np.ndarray, y: np.ndarray, bumps: np.ndarray) -> np.ndarray:
    """Sum of anisotropic Gaussians.

    Args:
        x, y: coordinates (...) in mm.
        bumps: (B, 5) rows ``x0, y0, sigma_x, sigma_y, amplitude``.

    Returns:
        heights (...) in mm.
    """
    if len(bumps) == 0:
        return np.zeros(np.shape(x), dtype=np.float32)
    b = np.asarray(bumps, dtype=np.float32)
    xf = np.asarray(x, dtype=np.float32).reshape(-1, 1)
    yf = np.asarray(y, dtype=np.float32).reshape(-1, 1)
    e = xf - b[:, 0]  # (P, B), then in place: e = -0.5 * ((dx / sx)^2 + (dy / sy)^2)
    e /= b[:, 2]
    e *= e
    dy = yf - b[:, 1]
    dy /= b[:, 3]
    dy *= dy
    e += dy
    e *= np.float32(-0.5)
    np.exp(e, out=e)
    return (e @ b[:, 4]).reshape(np.shape(x))


def _smooth_profile(knots: np.ndarray, samples: int = 8) -> np.ndarray:
    """Catmull-Rom densification of profile knots (P, 3) -> (S, 3)."""
    from aunce_rt.synthau._paint import catmull_rom

    return catmull_rom(knots, samples)


class HeadShape:
    """The head's height field for one identity.

    Args:
        profile_y: (P,) increasing heights (mm) of the profile knots.
        half_width: (P,) half-width of the head at each knot.
        depth: (P,) depth of the front surface above ``ZC`` at each knot.
        bumps: (B, 5) identity Gaussian bumps (see ``gaussian_bumps``).
        flatness: exponent of the cross-section (0.5 = ellipse; lower = flatter front).
    """

    def __init__(
        self,
        profile_y: np.ndarray,
        half_width: np.ndarray,
        depth: np.ndarray,
        bumps: np.ndarray,
        flatness: float = 0.42,
    ) -> None:
        knots = np.column_stack([profile_y, half_width, depth]).astype(np.float64)
        dense = _smooth_profile(knots)  # piecewise-linear profiles would show as bands
        order = np.argsort(dense[:, 0], kind="stable")
        self.profile_y, self.half_width, self.depth = (np.ascontiguousarray(c) for c in dense[order].T)
        self.half_width = np.maximum(self.half_width, 0.0)
        self.bumps = np.asarray(bumps, dtype=np.float32)
        self.flatness = flatness

    def width_at(self, y: np.ndarray) -> np.ndarray:
        """Half-width (mm) of the head at heights ``y``."""
        return np.interp(y, self.profile_y, self.half_width, left=0.0, right=0.0)

    def height(self, x: np.ndarray, y: np.ndarray, extra_bumps: np.ndarray | None = None) -> np.ndarray:
        """Front-surface depth z (mm) at (x, y); the base surface plus all bumps."""
        w = np.maximum(self.width_at(y), 1e-3)
        d = np.interp(y, self.profile_y, self.depth, left=0.0, right=0.0)
        t = np.clip(np.abs(x) / w, 0.0, 1.0)
        z = ZC + d * (1.0 - t * t) ** self.flatness
        # Bumps fade out towards the silhouette so that the outline stays smooth.
        fade = np.clip((1.0 - t) * 4.0, 0.0, 1.0)
        bumps = (
            self.bumps
            if extra_bumps is None or len(extra_bumps) == 0
            else np.vstack([self.bumps, extra_bumps])
        )
        return z + fade * gaussian_bumps(x, y, bumps)
