"""Face alignment shared by training preprocessing and the runtime.

Two pure steps, as in insightface: estimate a similarity transform from a face's
landmarks to a fixed template, then warp. A crop made for training and a crop
made at run time are therefore the same crop.

The template lives in a 256x256 crop (``CROP_SIZE``); the network sees the
central 224x224 (``INPUT_SIZE``), so training can random-crop 224 from 256 and
evaluation centre-crops. The runtime warps straight to 224 with the template
shifted by 16 px, which equals warping to 256 and centre-cropping.

Template points (image coordinates, x right, y down; "left" = image left, the
subject's right):
    0 left eye centre (midpoint of the eye corners)
    1 right eye centre
    2 nose tip
    3 left mouth corner
    4 right mouth corner

Example:
    >>> import numpy as np
    >>> from aunce_rt.align import alignment_matrix, template
    >>> m = alignment_matrix(template(), layout="five")
    >>> bool(np.allclose(m, [[1, 0, 0], [0, 1, 0]]))
    True
"""

from __future__ import annotations

import numpy as np

from aunce_rt.errors import InputError

CROP_SIZE = 256
INPUT_SIZE = 224
TEMPLATE_ID = "aunce-5pt-256-v1"

# Template in the 256x256 crop. Inter-ocular distance 80 px; the crop holds the
# forehead (AU1/2/4 wrinkles) and the chin (AU17) inside its central 224.
_TEMPLATE_256 = np.array(
    [
        [88.0, 108.0],  # left eye centre
        [168.0, 108.0],  # right eye centre
        [128.0, 150.0],  # nose tip
        [96.0, 186.0],  # left mouth corner
        [160.0, 186.0],  # right mouth corner
    ],
    dtype=np.float64,
)

# Which source landmarks make each template point: a template point is the mean
# of the listed indices. Layouts: MediaPipe FaceMesh (468 or 478 points), iBUG
# 68-point (0-based), iBUG 49-point (68 without jaw 0-16 and inner mouth corners
# 60, 64; used by BP4D/DISFA tooling), and "five" (already the template points).
LAYOUTS: dict[str, tuple[tuple[int, ...], ...]] = {
    "mediapipe": ((33, 133), (362, 263), (1,), (61,), (291,)),
    "ibug68": ((36, 39), (42, 45), (30,), (48,), (54,)),
    "ibug49": ((19, 22), (25, 28), (13,), (31,), (37,)),
    "five": ((0,), (1,), (2,), (3,), (4,)),
}
_LAYOUT_SIZES: dict[str, tuple[int, ...]] = {
    "mediapipe": (468, 478),
    "ibug68": (68,),
    "ibug49": (49,),
    "five": (5,),
}


def template(size: int = CROP_SIZE, crop: int | None = None) -> np.ndarray:
    """Template points (5, 2) for an aligned crop.

    Args:
        size: side of the aligned crop the template is scaled to (256 = native).
        crop: if given, the side of a centred sub-crop (e.g. 224): the points are
            shifted into that sub-crop's coordinates.
    """
    pts = _TEMPLATE_256 * (size / CROP_SIZE)
    if crop is not None:
        pts = pts - (size - crop) / 2.0
    return pts.copy()


def detect_layout(landmarks: np.ndarray) -> str:
    """Name the layout of a landmark array from its number of points."""
    n = int(np.asarray(landmarks).shape[0])
    for name, sizes in _LAYOUT_SIZES.items():
        if n in sizes:
            return name
    raise InputError(f"cannot align from {n} landmarks; expected 478/468 (MediaPipe), 68 or 49 (iBUG) or 5")


def template_points(landmarks: np.ndarray, layout: str | None = None) -> np.ndarray:
    """Reduce landmarks (L, 2 or 3) of a known layout to the 5 template points (5, 2)."""
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] < 2:
        raise InputError(f"landmarks must have shape (L, 2) or (L, 3); got {pts.shape}")
    layout = layout or detect_layout(pts)
    if layout not in LAYOUTS:
        raise InputError(f"unknown landmark layout {layout!r}; expected one of {list(LAYOUTS)}")
    if pts.shape[0] not in _LAYOUT_SIZES[layout]:
        raise InputError(f"layout {layout!r} needs {_LAYOUT_SIZES[layout]} points; got {pts.shape[0]}")
    return np.stack([pts[list(idx), :2].mean(axis=0) for idx in LAYOUTS[layout]])


def estimate_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (rotation, uniform scale, translation).

    Umeyama (1991), with the reflection case excluded.

    Args:
        src: points (K, 2) in the source image.
        dst: corresponding points (K, 2) in the target frame.

    Returns:
        (2, 3) float64 matrix M with dst ~= M @ [x, y, 1].
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or src.shape[0] < 2:
        raise InputError(f"need two (K>=2, 2) point sets of equal shape; got {src.shape}, {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s_c, d_c = src - mu_s, dst - mu_d
    var_s = (s_c**2).sum() / len(src)
    if var_s < 1e-12:
        raise InputError("landmarks are degenerate (all points coincide); cannot align")
    cov = d_c.T @ s_c / len(src)  # (2, 2)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    rot = u @ np.diag(d) @ vt
    scale = (sig * d).sum() / var_s
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]])


def alignment_matrix(
    landmarks: np.ndarray,
    layout: str | None = None,
    size: int = CROP_SIZE,
    crop: int | None = None,
) -> np.ndarray:
    """Similarity transform (2, 3) from image coordinates to the aligned crop.

    Args:
        landmarks: (L, 2|3) landmarks in pixels, of a layout in ``LAYOUTS``.
        layout: the layout's name; inferred from L when None.
        size: aligned crop side (256 for training crops).
        crop: side of a centred sub-crop to map into directly (224 at run time).
    """
    return estimate_similarity(template_points(landmarks, layout), template(size, crop))


def warp_face(image: np.ndarray, matrix: np.ndarray, out_size: int) -> np.ndarray:
    """Warp ``image`` with ``matrix`` into an ``out_size`` square (bilinear, edge replicated)."""
    import cv2

    return cv2.warpAffine(
        image,
        np.asarray(matrix, dtype=np.float64),
        (out_size, out_size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def align_face(
    image: np.ndarray,
    landmarks: np.ndarray,
    layout: str | None = None,
    size: int = CROP_SIZE,
    crop: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Aligned crop and the matrix that made it.

    Returns:
        (crop image of side ``crop or size``, (2, 3) matrix).
    """
    m = alignment_matrix(landmarks, layout, size, crop)
    return warp_face(image, m, crop or size), m


def aligned_input(
    image: np.ndarray,
    landmarks: np.ndarray,
    layout: str | None = None,
    *,
    input_size: int = INPUT_SIZE,
) -> np.ndarray:
    """The network's input crop of a face: what training sees at evaluation time.

    Training stores 256 px template crops, resizes them by ``input_size / 224``
    when a model uses smaller inputs (e.g. 128 px crops for a 112 px model) and
    centre-crops ``input_size``. Here the face is warped at the template's native
    scale (the central 224 of the 256 crop) and, for smaller inputs, reduced with
    area interpolation, which avoids the aliasing of warping a large face straight
    to a few pixels.

    Returns:
        (input_size, input_size, C) crop in the colour order of ``image``.
    """
    import cv2

    m = alignment_matrix(landmarks, layout, size=CROP_SIZE, crop=INPUT_SIZE)
    crop = warp_face(image, m, INPUT_SIZE)
    if input_size != INPUT_SIZE:
        interp = cv2.INTER_AREA if input_size < INPUT_SIZE else cv2.INTER_LINEAR
        crop = cv2.resize(crop, (input_size, input_size), interpolation=interp)
    return crop


def center_crop(image: np.ndarray, out_size: int = INPUT_SIZE) -> np.ndarray:
    """Centred square crop (H, W, ...) -> (out_size, out_size, ...)."""
    h, w = image.shape[:2]
    if h < out_size or w < out_size:
        raise InputError(f"cannot centre-crop {out_size} from an image of {w}x{h}")
    y, x = (h - out_size) // 2, (w - out_size) // 2
    return image[y : y + out_size, x : x + out_size]


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine matrix to points (K, 2)."""
    pts = np.asarray(points, dtype=np.float64)[:, :2]
    return pts @ np.asarray(matrix)[:, :2].T + np.asarray(matrix)[:, 2]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine matrix."""
    m = np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(m)[:2]
