"""Axis-aligned boxes ``x1, y1, x2, y2`` in pixels: the one IoU of the runtime.

Used by the landmark backends (merging two detections of one face) and by the
face tracker (matching detections to tracks).

Example:
    >>> import numpy as np
    >>> box_iou(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [5, 0, 15, 10]])).round(3)
    array([[1.   , 0.333]])
"""

from __future__ import annotations

import numpy as np


def box_of(points: np.ndarray) -> np.ndarray:
    """Bounding box (4,) float32 ``x1, y1, x2, y2`` of points (L, 2)."""
    return np.concatenate([points.min(axis=0), points.max(axis=0)]).astype(np.float32)


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Areas (N,) of boxes (N, 4); 0 for degenerate boxes (x2 < x1 or y2 < y1)."""
    boxes = np.asarray(boxes).reshape(-1, 4)
    return np.clip(boxes[:, 2:] - boxes[:, :2], 0, None).prod(-1)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union of boxes a (A, 4) and b (B, 4) -> (A, B) float64.

    Pairs whose union is empty (two degenerate boxes) get 0.
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])  # (A, B, 2)
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])  # (A, B, 2)
    inter = np.clip(rb - lt, 0, None).prod(-1)  # (A, B)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)
