"""Anti-aliased 2D painting helpers on a float32 BGR canvas.

Shapes are drawn into small uint8 masks (cv2, LINE_AA, 1/4-pixel precision) over
their bounding box only, then blended: painted with a colour, tinted (multiplied)
by a per-channel ratio, or replaced by a layer.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

_SHIFT = 2  # sub-pixel bits for cv2 drawing
_ONE = 1 << _SHIFT


def _basis(samples: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, samples, endpoint=False)
    return 0.5 * np.stack(
        [-t + 2 * t**2 - t**3, 2 - 5 * t**2 + 3 * t**3, t + 4 * t**2 - 3 * t**3, -(t**2) + t**3], axis=1
    )  # (samples, 4)


_BASES = {n: _basis(n) for n in range(1, 9)}


def catmull_rom(points: np.ndarray, samples: int = 4, closed: bool = False) -> np.ndarray:
    """Smooth curve through ``points`` (P, D): ``samples`` segments between each pair."""
    p = np.asarray(points, dtype=np.float64)
    if closed:
        ext = np.vstack([p[-1:], p, p[:2]])
    else:
        ext = np.vstack([2 * p[:1] - p[1:2], p, 2 * p[-1:] - p[-2:-1]])
    segs = len(ext) - 3
    idx = np.arange(segs)[:, None] + np.arange(4)[None]  # (S, 4) control points of each segment
    basis = _BASES.get(samples)
    if basis is None:
        basis = _basis(samples)
    curve = np.einsum("tk,skd->std", basis, ext[idx]).reshape(-1, p.shape[1])
    return curve if closed else np.vstack([curve, p[-1:]])


class Painter:
    """Blends anti-aliased shapes into ``canvas`` (H, W, 3) float32 in place."""

    def __init__(self, canvas: np.ndarray) -> None:
        self.canvas = canvas
        self.h, self.w = canvas.shape[:2]

    def _roi(self, pts: np.ndarray, pad: float) -> tuple[int, int, int, int] | None:
        (xmin, ymin), (xmax, ymax) = pts.min(0).tolist(), pts.max(0).tolist()
        x0 = max(math.floor(xmin - pad), 0)
        y0 = max(math.floor(ymin - pad), 0)
        x1 = min(math.ceil(xmax + pad) + 1, self.w)
        y1 = min(math.ceil(ymax + pad) + 1, self.h)
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1, y1

    def mask(
        self,
        shapes: list[np.ndarray],
        *,
        fill: bool = True,
        thickness: float = 1.0,
        closed: bool = False,
        blur: float = 0.0,
        values: list[float] | None = None,
    ) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
        """Mask (h, w) float32 in [0, 1] of polygons (fill) or polylines, over their bounding box."""
        shapes = [np.asarray(s, dtype=np.float64) for s in shapes if len(s) >= 2]
        if not shapes:
            return None
        allp = np.vstack(shapes) if len(shapes) > 1 else shapes[0]
        if not np.isfinite(allp).all():
            return None
        pad = thickness + 3.0 * blur + 2.0
        roi = self._roi(allp, pad)
        if roi is None:
            return None
        x0, y0, x1, y1 = roi
        m = np.zeros((y1 - y0, x1 - x0), np.uint8)
        vals = values or [1.0] * len(shapes)
        origin = np.array([x0, y0], np.float64)
        for s, v in zip(shapes, vals, strict=True):
            q = np.round((s - origin) * _ONE).astype(np.int32).reshape(-1, 1, 2)
            color = int(round(255 * min(max(float(v), 0.0), 1.0)))
            if fill:
                cv2.fillPoly(m, [q], color, cv2.LINE_AA, _SHIFT)
            else:
                cv2.polylines(m, [q], closed, color, max(1, int(round(thickness))), cv2.LINE_AA, _SHIFT)
        mf = m.astype(np.float32) * (1.0 / 255.0)
        if blur > 0.2:
            mf = cv2.GaussianBlur(mf, (0, 0), blur)
        return mf, roi

    def paint(
        self, mask: tuple[np.ndarray, tuple[int, int, int, int]] | None, color: np.ndarray, alpha: float = 1.0
    ) -> None:
        """canvas = canvas * (1 - a m) + color * a m."""
        if mask is None:
            return
        m, (x0, y0, x1, y1) = mask
        m3 = three_channels(m * alpha)
        roi = self.canvas[y0:y1, x0:x1]
        roi *= 1.0 - m3
        roi += m3 * np.asarray(color, np.float32)

    def tint(
        self, mask: tuple[np.ndarray, tuple[int, int, int, int]] | None, ratio: np.ndarray | float
    ) -> None:
        """canvas = canvas * (1 - m + m * ratio): darkens (ratio < 1) or colours the skin under it."""
        if mask is None:
            return
        m, (x0, y0, x1, y1) = mask
        r = np.asarray(ratio, np.float32)
        gain = three_channels(1.0 + m * (r - 1.0)) if r.ndim == 0 else 1.0 + three_channels(m) * (r - 1.0)
        self.canvas[y0:y1, x0:x1] *= gain

    def layer(self, mask: tuple[np.ndarray, tuple[int, int, int, int]] | None, layer: np.ndarray) -> None:
        """canvas = canvas * (1 - m) + layer * m, with ``layer`` covering the mask's box."""
        if mask is None:
            return
        m, (x0, y0, x1, y1) = mask
        m3 = three_channels(m)
        roi = self.canvas[y0:y1, x0:x1]
        roi *= 1.0 - m3
        roi += m3 * layer


def three_channels(m: np.ndarray) -> np.ndarray:
    """(h, w) float32 -> (h, w, 3) contiguous copies: several times faster to blend with than
    numpy's broadcast of an (h, w, 1) view over three channels (same arithmetic)."""
    return cv2.merge((m, m, m))
