"""Multi-face tracking on composed SynthAU scenes: IDF1, id switches, duplicates, misses.

A scene puts 2-4 SynthAU people (``render_frames``: each changes expression and
moves their head) side by side in one frame over time, on two rows of a canvas:
on the bottom row person 0 walks right and person 1 walks left, crossing in front
of them at mid-clip; on the top row person 2 leaves the frame from 30 % to 60 % of
the clip and comes back, and person 3 drifts slowly. The clip is written to a
temporary mp4 and run through ``AUDetector.stream`` (video-mode landmarks), and
the face ids are scored against the truth:

* truth boxes come from the renderer's 68 landmarks, raised by a third of their
  height (FaceMesh boxes include the forehead); a person whose face is more than
  half hidden by someone in front is not expected, and a box on them is ignored;
* **IDF1** = 2 IDTP / (2 IDTP + IDFP + IDFN), ids matched once for the whole clip by
  the Hungarian algorithm on the number of frames a truth id and a reported id
  overlap with IoU >= 0.4;
* **switches/person/min**: times a person's matched id changes, per person per minute;
* **duplicates**: reported boxes beyond the first on one person; **false**: boxes on
  nobody; **missed**: frames a visible person had no box; **ids**: distinct ids.

``--compare`` also runs the configuration of before issue 16 item 4 (no video
re-detection, no re-identification or signature veto), for reference.

    .venv/bin/python bench/bench_tracking.py            # 3 people, 30 s at 15 fps
    .venv/bin/python bench/bench_tracking.py --people 4 --seconds 40 --compare
"""

from __future__ import annotations

import argparse
import functools
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aunce_rt.boxes import box_iou

log = logging.getLogger("bench_tracking")
TILE = 240
CANVAS = (1000, 480)  # width, height: two rows of tiles
MATCH_IOU = 0.4


@dataclass
class Scene:
    """A composed clip and its truth."""

    frames: list[np.ndarray]  # (H, W, 3) uint8 BGR
    boxes: np.ndarray  # (T, P, 4) face boxes in canvas pixels
    visible: np.ndarray  # (T, P) bool: expected in the frame
    present: np.ndarray  # (T, P) bool: in the frame at all (maybe hidden)
    fps: float


def _positions(people: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Tile top-left corners (T, P, 2) and whether each tile is pasted (T, P)."""
    u = np.linspace(0.0, 1.0, n)
    xy = np.zeros((n, people, 2))
    shown = np.ones((n, people), bool)
    w = CANVAS[0]
    xy[:, 0] = np.c_[20 + (w - TILE - 40) * u, np.full(n, 240.0)]
    xy[:, 1] = np.c_[w - TILE - 20 - (w - TILE - 40) * u, np.full(n, 235.0)]
    if people > 2:
        xy[:, 2] = np.c_[150 + 30 * np.sin(6 * u), np.full(n, 0.0)]
        shown[:, 2] = (u < 0.3) | (u > 0.6)
    if people > 3:
        xy[:, 3] = np.c_[620 + 60 * u, np.full(n, 5.0)]
    return xy.astype(int), shown


def compose(people: int = 3, seconds: float = 30.0, fps: float = 15.0, seed: int = 0) -> Scene:
    """Render ``people`` SynthAU identities and compose them into one clip (see the module docstring)."""
    from aunce_rt.synthau import TEST_ID_BASE, render_frames

    if not 2 <= people <= 4:
        raise SystemExit(f"--people must be 2, 3 or 4; got {people}")
    n = int(round(seconds * fps))
    tiles, landmarks = [], []
    for p in range(people):
        out: list[np.ndarray] = []
        _, lm, _ = render_frames(out.append, TEST_ID_BASE + 7 * p + seed, n, fps, seed, (TILE, TILE))
        tiles.append(out)
        landmarks.append(lm)
    xy, shown = _positions(people, n)
    order = [p for p in (2, 3, 0, 1) if p < people]  # later ones are in front
    frames = []
    boxes = np.zeros((n, people, 4))
    visible = np.zeros((n, people), bool)
    for t in range(n):
        canvas = np.full((CANVAS[1], CANVAS[0], 3), 90, np.uint8)
        rects = {}
        for p in order:
            lm = landmarks[p][t] + xy[t, p]
            x1, y1 = lm.min(0)
            x2, y2 = lm.max(0)
            boxes[t, p] = (x1, y1 - (y2 - y1) / 3, x2, y2)
            if not shown[t, p]:
                continue
            x, y = xy[t, p]
            canvas[y : y + TILE, x : x + TILE] = tiles[p][t]
            rects[p] = np.array([x, y, x + TILE, y + TILE], float)
        for i, p in enumerate(order):
            if p not in rects:
                continue
            hidden = max((_covered(boxes[t, p], rects[q]) for q in order[i + 1 :] if q in rects), default=0.0)
            visible[t, p] = hidden < 0.5
        frames.append(canvas)
    present = np.zeros_like(visible)
    present[:, :] = shown
    return Scene(frames, boxes, visible, present, fps)


def _covered(box: np.ndarray, rect: np.ndarray) -> float:
    """Share of ``box``'s area inside ``rect``."""
    lt, rb = np.maximum(box[:2], rect[:2]), np.minimum(box[2:], rect[2:])
    inter = float(np.clip(rb - lt, 0, None).prod())
    return inter / max(float(np.prod(box[2:] - box[:2])), 1e-9)


def run_detector(
    scene: Scene, legacy: bool = False, model: Path | None = None
) -> list[list[tuple[int, np.ndarray]]]:
    """(id, box) of each face reported in each frame, through ``AUDetector.stream`` on an mp4."""
    import cv2

    import aunce_rt.detector as detector_mod
    from aunce_rt.detector import AUDetector
    from aunce_rt.landmarks import FaceMeshBackend
    from aunce_rt.tracking import FaceTracker

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scene.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), scene.fps, CANVAS)
        for frame in scene.frames:
            writer.write(frame)
        writer.release()
        real_tracker = detector_mod.FaceTracker
        if legacy:
            detector_mod.FaceTracker = functools.partial(FaceTracker, reid_frames=0, veto_threshold=np.inf)
        try:
            with AUDetector(model, providers="cpu") as det:
                if legacy:
                    det._idle[False] = FaceMeshBackend(
                        static=False, max_faces=det.max_faces, redetect_every=0
                    )
                return [[(f.face_id, f.box) for f in r.faces] for r in det.stream(path)]
        finally:
            detector_mod.FaceTracker = real_tracker


def score(scene: Scene, reported: list[list[tuple[int, np.ndarray]]]) -> dict[str, float]:
    """IDF1, switches per person per minute, duplicates, false boxes, misses and distinct ids."""
    from scipy.optimize import linear_sum_assignment

    people = scene.boxes.shape[1]
    pred_ids = sorted({i for frame in reported for i, _ in frame})
    col = {i: k for k, i in enumerate(pred_ids)}
    overlap = np.zeros((people, len(pred_ids)))
    n_gt = n_pred = dup = false = missed = switches = 0
    last = [None] * people
    for t, frame in enumerate(reported):
        vis = np.nonzero(scene.visible[t])[0]
        hid = np.nonzero(scene.present[t] & ~scene.visible[t])[0]
        boxes = np.array([b for _, b in frame]).reshape(-1, 4)
        ids = [i for i, _ in frame]
        iou_v = box_iou(scene.boxes[t, vis], boxes)  # (V, R)
        iou_h = box_iou(scene.boxes[t, hid], boxes)
        on_visible = [bool(len(vis)) and iou_v[:, r].max() >= MATCH_IOU for r in range(len(ids))]
        on_hidden = [bool(len(hid)) and iou_h[:, r].max() >= MATCH_IOU for r in range(len(ids))]
        scored = [r for r in range(len(ids)) if on_visible[r] or not on_hidden[r]]  # a hidden face: ignored
        n_gt += len(vis)
        n_pred += len(scored)
        for r in scored:
            hits = np.nonzero(iou_v[:, r] >= MATCH_IOU)[0] if len(vis) else []
            for g in hits:
                overlap[vis[g], col[ids[r]]] += 1
            if not len(hits):
                false += 1
        if len(vis) and len(ids):
            cost = np.where(iou_v >= MATCH_IOU, -iou_v, 1.0)
            rows, cols = linear_sum_assignment(cost)
            matched = {
                int(vis[g]): ids[r] for g, r in zip(rows, cols, strict=True) if iou_v[g, r] >= MATCH_IOU
            }
        else:
            matched = {}
        for g, p in enumerate(vis):
            on_it = int((iou_v[g] >= MATCH_IOU).sum()) if len(ids) else 0
            dup += max(on_it - 1, 0)
            if int(p) not in matched:
                missed += 1
                continue
            if last[p] is not None and last[p] != matched[int(p)]:
                switches += 1
            last[p] = matched[int(p)]
    rows, cols = linear_sum_assignment(-overlap) if overlap.size else ([], [])
    idtp = float(overlap[rows, cols].sum()) if overlap.size else 0.0
    idf1 = 2 * idtp / max(2 * idtp + (n_pred - idtp) + (n_gt - idtp), 1e-9)
    minutes = len(reported) / scene.fps / 60
    return {
        "IDF1": idf1,
        "switches/person/min": switches / people / minutes,
        "duplicates": dup,
        "false": false,
        "missed": missed,
        "truth boxes": n_gt,
        "ids": len(pred_ids),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare", action="store_true", help="also run the configuration before issue 16")
    parser.add_argument("--quick", action="store_true", help="3 people for 10 s (bench/run_all.py --quick)")
    args = parser.parse_args()
    if args.quick:
        args.people, args.seconds = [3], 10.0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows = []
    for people in args.people:
        scene = compose(people, args.seconds, args.fps, args.seed)
        for legacy in (True, False) if args.compare else (False,):
            result = score(scene, run_detector(scene, legacy=legacy))
            rows.append((people, "before" if legacy else "now", result))
    keys = list(rows[0][2])
    lines = ["| people | tracker | " + " | ".join(keys) + " |", "|---" * (len(keys) + 2) + "|"]
    for people, name, r in rows:
        cells = [f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k]) for k in keys]
        lines.append(f"| {people} | {name} | " + " | ".join(cells) + " |")
    print("\n".join(lines))  # the table is the script's output


if __name__ == "__main__":
    main()
