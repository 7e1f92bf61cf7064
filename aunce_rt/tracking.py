"""Face tracking: stable face ids across the frames of a stream.

Detections are matched to tracks greedily by IoU (highest first, above
``iou_threshold``); detections and tracks left over are then matched by centre
distance (closest first, within one face size of the track's last box and with a
similar size), which re-identifies a face that moved fast or reappears near where
it was lost. A track unmatched for more than ``max_lost`` consecutive frames is
forgotten; unmatched detections start new tracks with ids 0, 1, 2, ... (never
reused). Greedy matching is used instead of the Hungarian algorithm: faces in a
frame are few and rarely overlap, and it needs no scipy.

Example:
    >>> import numpy as np
    >>> tracker = FaceTracker()
    >>> tracker.update(np.array([[0, 0, 50, 50], [100, 0, 150, 50]], np.float32))
    [0, 1]
    >>> tracker.update(np.array([[102, 1, 152, 51], [1, 0, 51, 50]], np.float32))
    [1, 0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aunce_rt.boxes import box_area, box_iou
from aunce_rt.errors import InputError


@dataclass
class _Track:
    track_id: int
    box: np.ndarray  # (4,) float64 x1, y1, x2, y2
    lost: int = 0


class FaceTracker:
    """Assign stable ids to face boxes, frame after frame.

    Args:
        max_faces: at most this many faces are tracked per frame (the largest boxes).
        max_lost: frames a track may go unseen and still keep its id.
        iou_threshold: minimum IoU for a detection to continue a track.
        max_centre_distance: centre-distance fallback radius, in units of the
            track's face size (square root of its box area).
    """

    def __init__(
        self,
        max_faces: int = 4,
        max_lost: int = 15,
        iou_threshold: float = 0.3,
        max_centre_distance: float = 1.0,
    ) -> None:
        if max_faces < 1:
            raise InputError(f"max_faces must be >= 1; got {max_faces}")
        if max_lost < 0:
            raise InputError(f"max_lost must be >= 0; got {max_lost}")
        if not 0.0 < iou_threshold <= 1.0:
            raise InputError(f"iou_threshold must be in (0, 1]; got {iou_threshold}")
        self.max_faces = int(max_faces)
        self.max_lost = int(max_lost)
        self.iou_threshold = float(iou_threshold)
        self.max_centre_distance = float(max_centre_distance)
        self._tracks: list[_Track] = []
        self._next_id = 0

    @property
    def active_ids(self) -> list[int]:
        """Ids of the tracks currently kept (seen, or lost for at most ``max_lost`` frames)."""
        return [t.track_id for t in self._tracks]

    def reset(self) -> None:
        """Forget every track; the next ids start from 0 again."""
        self._tracks = []
        self._next_id = 0

    def update(self, boxes: np.ndarray) -> list[int]:
        """Match this frame's boxes to tracks.

        Args:
            boxes: ``(F, 4)`` ``x1, y1, x2, y2`` face boxes in pixels (F may be 0).

        Returns:
            ``F`` ids: ``ids[i]`` is the track id of ``boxes[i]``, or -1 when the box
            was left out because more than ``max_faces`` boxes were given (the
            smallest are left out).
        """
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) if np.size(boxes) else np.zeros((0, 4))
        f = len(boxes)
        ids = [-1] * f
        areas = box_area(boxes)
        kept = sorted(np.argsort(-areas, kind="stable")[: self.max_faces].tolist())
        det_boxes = boxes[kept]
        det_free = set(range(len(kept)))
        track_free = set(range(len(self._tracks)))
        pairs: list[tuple[int, int]] = []
        if self._tracks and kept:
            track_boxes = np.stack([t.box for t in self._tracks])
            iou = box_iou(det_boxes, track_boxes)  # (D, T)
            for d, t in _greedy(-iou, iou >= self.iou_threshold):
                pairs.append((d, t))
                det_free.discard(d)
                track_free.discard(t)
            if det_free and track_free:
                dist = _centre_distance(det_boxes, track_boxes)  # (D, T), in track face sizes
                ratio = box_area(det_boxes)[:, None] / np.maximum(box_area(track_boxes)[None, :], 1e-9)
                ok = (dist <= self.max_centre_distance) & (ratio >= 1 / 3) & (ratio <= 3)
                mask = np.zeros_like(ok)
                rows, cols = sorted(det_free), sorted(track_free)
                mask[np.ix_(rows, cols)] = ok[np.ix_(rows, cols)]
                for d, t in _greedy(dist, mask):
                    pairs.append((d, t))
                    det_free.discard(d)
                    track_free.discard(t)
        for d, t in pairs:
            track = self._tracks[t]
            track.box = det_boxes[d].copy()
            track.lost = 0
            ids[kept[d]] = track.track_id
        for t in track_free:
            self._tracks[t].lost += 1
        self._tracks = [t for t in self._tracks if t.lost <= self.max_lost]
        for d in sorted(det_free):
            track = _Track(self._next_id, det_boxes[d].copy())
            self._next_id += 1
            self._tracks.append(track)
            ids[kept[d]] = track.track_id
        return ids


def _greedy(cost: np.ndarray, allowed: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (row, col) taken in increasing ``cost`` among ``allowed``, each row/col once."""
    rows, cols = np.nonzero(allowed)
    order = np.argsort(cost[rows, cols], kind="stable")
    used_r: set[int] = set()
    used_c: set[int] = set()
    out: list[tuple[int, int]] = []
    for k in order:
        r, c = int(rows[k]), int(cols[k])
        if r not in used_r and c not in used_c:
            used_r.add(r)
            used_c.add(c)
            out.append((r, c))
    return out


def _centre_distance(dets: np.ndarray, tracks: np.ndarray) -> np.ndarray:
    """(D, 4), (T, 4) -> (D, T) centre distance divided by the track's face size."""
    cd = (dets[:, None, :2] + dets[:, None, 2:]) / 2
    ct = (tracks[None, :, :2] + tracks[None, :, 2:]) / 2
    size = np.sqrt(np.maximum(box_area(tracks), 1e-9))[None, :]
    return np.linalg.norm(cd - ct, axis=-1) / size
