"""Face tracking: stable face ids across the frames of a stream.

Detections are matched to tracks greedily by IoU (highest first, above
``iou_threshold``); detections and tracks left over are then matched by centre
distance (closest first, within one face size of the track's last box and with a
similar size), which re-identifies a face that moved fast or reappears near where
it was lost. When the detector passes each face's appearance signature
(``face_signature``), a detection whose signature is far from a track's
(``veto_threshold``) never continues it (two people crossing keep their ids), and
a detection still unmatched takes the id of the lost track, or of a track gone for
up to ``reid_frames`` frames, whose signature is nearest within ``reid_threshold``
(a person who leaves and returns keeps their id). A track unmatched for more than
``max_lost`` consecutive frames leaves the active set; unmatched detections start
new tracks with ids 0, 1, 2, ... (never reused). Greedy matching is used instead of the Hungarian algorithm: faces in a
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

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from aunce_rt.align import aligned_input
from aunce_rt.boxes import box_area, box_iou
from aunce_rt.errors import InputError

# Signature distances (``bench/bench_tracking.py`` scenes of SynthAU people): one person over a
# clip 0.004-0.14 (5th-95th percentiles; the high end while half hidden), two people 0.10-0.30.
REID_THRESHOLD = 0.08  # below this, a returning face takes a lost or gone track's id
VETO_THRESHOLD = 0.2  # above this, a detection never continues a track, however close its box
_SIG_SIZE, _SIG_GRID = 32, 4
# A track keeps a signature every SAMPLE_EVERY sightings, the last SIGNATURE_SAMPLES of them, and
# is compared by the nearest: a few spoilt samples (a face half hidden) do not cost it its id.
SAMPLE_EVERY, SIGNATURE_SAMPLES = 5, 20


def face_signature(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """A person's appearance signature: (48,) float32 in [0, 1].

    The mean CIE Lab colour of each cell of a 4 x 4 grid over the face's aligned
    32 px crop (``aunce_rt.align``, the crop the model sees): skin, hair, brows,
    glasses and beard in their places. Alignment removes position, scale and roll.
    (A geometry signature from FaceMesh landmarks, normalised 3-D distances or a
    Procrustes-aligned shape, separated SynthAU people no better than chance:
    ROC AUC 0.57-0.65 on 200 renders; see ``bench/calib_screening.py``.)

    Args:
        image: (H, W, 3) uint8 frame (BGR or RGB: only the same order is compared).
        points: (478, 2) landmark pixels of the face.
    """
    import cv2

    crop = aligned_input(image, points, "mediapipe", input_size=_SIG_SIZE)
    lab = cv2.cvtColor(crop, cv2.COLOR_BGR2LAB).astype(np.float32) / 255.0
    cell = _SIG_SIZE // _SIG_GRID
    return lab.reshape(_SIG_GRID, cell, _SIG_GRID, cell, 3).mean(axis=(1, 3)).ravel()


def signature_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Root-mean-square difference of two signatures."""
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)))


@dataclass
class _Track:
    track_id: int
    box: np.ndarray  # (4,) float64 x1, y1, x2, y2
    lost: int = 0
    seen: int = 0
    samples: deque[np.ndarray] = field(default_factory=lambda: deque(maxlen=SIGNATURE_SAMPLES))

    def see(self, box: np.ndarray, signature: np.ndarray | None) -> None:
        self.box, self.lost = box.copy(), 0
        if signature is not None and self.seen % SAMPLE_EVERY == 0:
            self.samples.append(signature.copy())
        self.seen += 1

    def distance(self, signature: np.ndarray) -> float:
        """Smallest ``signature_distance`` to the track's samples (inf when it has none)."""
        return min((signature_distance(signature, s) for s in self.samples), default=np.inf)


class FaceTracker:
    """Assign stable ids to face boxes, frame after frame.

    Args:
        max_faces: at most this many faces are tracked per frame (the largest boxes).
        max_lost: frames a track may go unseen and still be continued by position.
        iou_threshold: minimum IoU for a detection to continue a track.
        max_centre_distance: centre-distance fallback radius, in units of the
            track's face size (square root of its box area).
        reid_frames: frames a track that has gone (unseen for more than
            ``max_lost``) is remembered for re-identification by signature.
        reid_threshold: largest ``signature_distance`` for re-identification.
        veto_threshold: a detection whose signature is farther than this from a
            track's never continues it (two people crossing keep their ids).
    """

    def __init__(
        self,
        max_faces: int = 8,
        max_lost: int = 15,
        iou_threshold: float = 0.3,
        max_centre_distance: float = 1.0,
        reid_frames: int = 900,
        reid_threshold: float = REID_THRESHOLD,
        veto_threshold: float = VETO_THRESHOLD,
    ) -> None:
        if max_faces < 1:
            raise InputError(f"max_faces must be >= 1; got {max_faces}")
        if max_lost < 0:
            raise InputError(f"max_lost must be >= 0; got {max_lost}")
        if not 0.0 < iou_threshold <= 1.0:
            raise InputError(f"iou_threshold must be in (0, 1]; got {iou_threshold}")
        if reid_frames < 0:
            raise InputError(f"reid_frames must be >= 0 (0 = no re-identification); got {reid_frames}")
        self.max_faces = int(max_faces)
        self.max_lost = int(max_lost)
        self.iou_threshold = float(iou_threshold)
        self.max_centre_distance = float(max_centre_distance)
        self.reid_frames = int(reid_frames)
        self.reid_threshold = float(reid_threshold)
        self.veto_threshold = float(veto_threshold)
        self._tracks: list[_Track] = []
        self._gone: list[_Track] = []  # tracks past max_lost, kept for re-identification
        self._next_id = 0

    @property
    def active_ids(self) -> list[int]:
        """Ids of the tracks currently kept (seen, or lost for at most ``max_lost`` frames)."""
        return [t.track_id for t in self._tracks]

    def reset(self) -> None:
        """Forget every track; the next ids start from 0 again."""
        self._tracks, self._gone = [], []
        self._next_id = 0

    def update(self, boxes: np.ndarray, signatures: np.ndarray | None = None) -> list[int]:
        """Match this frame's boxes to tracks.

        Detections continue tracks by IoU, then by centre distance (both vetoed when
        the signatures disagree), then re-identify a lost or gone track by signature
        alone (``face_signature``); the rest start new tracks.

        Args:
            boxes: ``(F, 4)`` ``x1, y1, x2, y2`` face boxes in pixels (F may be 0).
            signatures: ``(F, P)`` face signatures, or None (no veto, no re-identification).

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
        sigs = None if signatures is None or not f else np.asarray(signatures, np.float64)[kept]
        det_free = set(range(len(kept)))
        track_free = set(range(len(self._tracks)))
        pairs: list[tuple[int, int]] = []
        if self._tracks and kept:
            track_boxes = np.stack([t.box for t in self._tracks])
            agree = self._agree(len(kept), sigs, self._tracks)  # (D, T) signatures not vetoing
            iou = box_iou(det_boxes, track_boxes)  # (D, T)
            for d, t in _greedy(-iou, (iou >= self.iou_threshold) & agree):
                pairs.append((d, t))
                det_free.discard(d)
                track_free.discard(t)
            if det_free and track_free:
                dist = _centre_distance(det_boxes, track_boxes)  # (D, T), in track face sizes
                ratio = box_area(det_boxes)[:, None] / np.maximum(box_area(track_boxes)[None, :], 1e-9)
                ok = (dist <= self.max_centre_distance) & (ratio >= 1 / 3) & (ratio <= 3) & agree
                for d, t in _greedy(dist, _only(ok, det_free, track_free)):
                    pairs.append((d, t))
                    det_free.discard(d)
                    track_free.discard(t)
        for d, t in pairs:
            self._tracks[t].see(det_boxes[d], None if sigs is None else sigs[d])
            ids[kept[d]] = self._tracks[t].track_id
        revived = self._reidentify(det_boxes, sigs, det_free, track_free, ids, kept)
        for t in track_free - revived:
            self._tracks[t].lost += 1
        for track in self._gone:
            track.lost += 1
        self._gone = [t for t in self._gone if t.lost <= self.reid_frames]
        self._gone += [t for t in self._tracks if t.lost > self.max_lost]
        self._tracks = [t for t in self._tracks if t.lost <= self.max_lost]
        for d in sorted(det_free):
            track = _Track(self._next_id, det_boxes[d].copy())
            track.see(det_boxes[d], None if sigs is None else sigs[d])
            self._next_id += 1
            self._tracks.append(track)
            ids[kept[d]] = track.track_id
        return ids

    def _agree(self, n: int, sigs: np.ndarray | None, tracks: list[_Track]) -> np.ndarray:
        """(D, T) True where the signatures of detection d and track t do not veto a match."""
        out = np.ones((n, len(tracks)), bool)
        if sigs is None:
            return out
        for t, track in enumerate(tracks):
            out[:, t] = [track.distance(s) <= self.veto_threshold for s in sigs]
        return out

    def _reidentify(
        self,
        det_boxes: np.ndarray,
        sigs: np.ndarray | None,
        det_free: set[int],
        track_free: set[int],
        ids: list[int],
        kept: list[int],
    ) -> set[int]:
        """Give free detections the id of the lost or gone track whose signature is nearest.

        Returns the indices (into the active tracks) of lost tracks continued this way;
        gone tracks continued are moved back among the active ones.
        """
        if sigs is None or not det_free or self.reid_frames == 0:
            return set()
        lost = sorted(track_free)
        candidates = [self._tracks[t] for t in lost] + self._gone
        usable = [i for i, c in enumerate(candidates) if c.samples]
        if not usable:
            return set()
        dist = np.full((len(det_boxes), len(candidates)), np.inf)
        for d in det_free:
            for c in usable:
                dist[d, c] = candidates[c].distance(sigs[d])
        revived: set[int] = set()
        back: list[_Track] = []
        for d, c in _greedy(dist, dist <= self.reid_threshold):
            track = candidates[c]
            track.see(det_boxes[d], sigs[d])
            ids[kept[d]] = track.track_id
            det_free.discard(d)
            if c < len(lost):
                revived.add(lost[c])
            else:
                back.append(track)
        if back:
            self._gone = [t for t in self._gone if all(t is not b for b in back)]
            self._tracks.extend(back)
        return revived


def _only(mask: np.ndarray, rows: set[int], cols: set[int]) -> np.ndarray:
    """``mask`` with every entry outside ``rows`` x ``cols`` set to False."""
    out = np.zeros_like(mask)
    r, c = sorted(rows), sorted(cols)
    out[np.ix_(r, c)] = mask[np.ix_(r, c)]
    return out


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
