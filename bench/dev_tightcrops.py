"""Development set for the still-image retry of faces in tight crops (issue 15).

Builds tight face crops from ``../shared/data/faces_cc/london/{neutral,smiling}``
(CC BY 4.0; never from ckplus_dev, which is evaluation only): the box of the
FaceMesh landmarks found on the full photo, a square of that side times
(1 + margin), downscaled to a small grey (or colour) image, then shown to the
detector as a user would (optionally x-upscaled and given a replicated border).
Negatives: tiles of ``images/free-mountain-vector-01.jpg`` and frames of
``video/no_face.mp4`` made the same way, plus the full images.

For every image it runs each candidate attempt once and records found / ms, so
any ordering of retries can be scored offline. Prints one table:
strategy -> faces found / false faces / mean ms of the retries.

    .venv/bin/python bench/dev_tightcrops.py
"""

from __future__ import annotations

import itertools
import logging
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
log = logging.getLogger("dev_tightcrops")

# (name, margin, side px, grey, upscale, border)
VARIANTS = [
    ("m0 48g x4 b.25", 0.0, 48, True, 4, 0.25),
    ("m.1 48g x4 b.25", 0.1, 48, True, 4, 0.25),
    ("m0 48g x4", 0.0, 48, True, 4, 0.0),
    ("m0 64g x3 b.1", 0.0, 64, True, 3, 0.1),
    ("m.1 96c", 0.1, 96, False, 1, 0.0),
    ("m-.1 48g x4 b.25", -0.1, 48, True, 4, 0.25),
    ("m-.2 48g x4 b.25", -0.2, 48, True, 4, 0.25),
    ("m0 24g x8 b.25", 0.0, 24, True, 8, 0.25),
    ("m0 32g x2", 0.0, 32, True, 2, 0.0),
]


def prep(img: np.ndarray, side: int, grey: bool, upscale: int, border: float) -> np.ndarray:
    img = cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
    if grey:
        img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    if upscale != 1:
        img = cv2.resize(img, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
    if border > 0:
        b = round(img.shape[0] * border)
        img = cv2.copyMakeBorder(img, b, b, b, b, cv2.BORDER_REPLICATE)
    return img


def square(img: np.ndarray, cx: float, cy: float, side: float) -> np.ndarray:
    """A square crop, replicated where it leaves the image."""
    x1, y1 = int(round(cx - side / 2)), int(round(cy - side / 2))
    s = int(round(side))
    h, w = img.shape[:2]
    pad = max(0, -x1, -y1, x1 + s - w, y1 + s - h)
    if pad:
        img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return img[y1 + pad : y1 + pad + s, x1 + pad : x1 + pad + s]


def build(backend) -> tuple[list[tuple[str, np.ndarray]], list[tuple[str, np.ndarray]]]:
    photos = sorted((DATA / "faces_cc" / "london").glob("*/*.jpg"))
    pos = []
    for path in photos:
        bgr = cv2.imread(str(path))
        faces = backend.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), 0)
        if not faces:
            log.info("no face on the full photo %s; skipped", path.name)
            continue
        x1, y1, x2, y2 = max(faces, key=lambda f: f.confidence).box
        cx, cy, s = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1)
        for name, margin, side, grey, up, border in VARIANTS:
            pos.append((name, prep(square(bgr, cx, cy, s * (1 + margin)), side, grey, up, border)))
    neg_sources = [cv2.imread(str(DATA / "images" / "free-mountain-vector-01.jpg"))]
    cap = cv2.VideoCapture(str(DATA / "video" / "no_face.mp4"))
    k = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if k % 10 == 0:
            neg_sources.append(frame)
        k += 1
    cap.release()
    neg = []
    for src in neg_sources:
        neg.append(("full", src))
        h, w = src.shape[:2]
        s = min(h, w) // 2
        for cx, cy in itertools.product((s // 2 + 1, w // 2, w - s // 2 - 1), (s // 2 + 1, h - s // 2 - 1)):
            tile = square(src, cx, cy, s)
            for name, _, side, grey, up, border in VARIANTS[:1] + VARIANTS[3:5]:
                neg.append((name, prep(tile, side, grey, up, border)))
    return pos, neg


class Attempts:
    """Each candidate attempt, separately: name -> faces (count) on an RGB image."""

    def __init__(self) -> None:
        from mediapipe.python.solutions import face_detection, face_mesh

        self.det = {
            (sel, thr): face_detection.FaceDetection(model_selection=sel, min_detection_confidence=thr)
            for sel in (0, 1)
            for thr in (0.5, 0.3)
        }
        self.mesh = face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.3
        )
        self.mesh5 = face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.5
        )

    def detect_mesh(self, rgb: np.ndarray, sel: int, thr: float) -> int:
        """The backend's static path with another detector: detection -> FaceMesh on 2x crop."""
        h, w = rgb.shape[:2]
        res = self.det[(sel, thr)].process(rgb).detections or []
        n = 0
        for det in res:
            rb = det.location_data.relative_bounding_box
            x1, y1 = rb.xmin * w, rb.ymin * h
            x2, y2 = x1 + rb.width * w, y1 + rb.height * h
            cx, cy, side = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * 2.0
            ox, oy = int(max(cx - side / 2, 0)), int(max(cy - side / 2, 0))
            ex, ey = int(min(cx + side / 2, w)), int(min(cy + side / 2, h))
            if ex - ox < 8 or ey - oy < 8:
                continue
            if self.mesh.process(np.ascontiguousarray(rgb[oy:ey, ox:ex])).multi_face_landmarks:
                n += 1
        return n

    def run(self, bgr: np.ndarray) -> dict[str, tuple[int, float]]:
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        s = max(rgb.shape[:2])
        out = {}

        def timed(name, fn):
            t0 = time.perf_counter()
            n = fn()
            out[name] = (n, (time.perf_counter() - t0) * 1e3)

        def padded(frac: float, mode: int) -> np.ndarray:
            b = round(s * frac)
            return cv2.copyMakeBorder(rgb, b, b, b, b, mode, value=(0, 0, 0))

        timed("normal", lambda: self.detect_mesh(rgb, 1, 0.5))
        timed("full 0.3", lambda: self.detect_mesh(rgb, 1, 0.3))
        timed("short 0.5", lambda: self.detect_mesh(rgb, 0, 0.5))
        timed("short 0.3", lambda: self.detect_mesh(rgb, 0, 0.3))
        for frac in (0.25, 0.5):
            for mname, mode in (("rep", cv2.BORDER_REPLICATE), ("const", cv2.BORDER_CONSTANT)):
                timed(
                    f"pad {mname} {frac} full 0.5",
                    lambda f=frac, m=mode: self.detect_mesh(padded(f, m), 1, 0.5),
                )
                timed(
                    f"pad {mname} {frac} short 0.5",
                    lambda f=frac, m=mode: self.detect_mesh(padded(f, m), 0, 0.5),
                )
        # the whole image as the face box: FaceMesh on a crop twice its side (padding 1/2 a side)
        timed(
            "whole rep (mesh det 0.3)",
            lambda: int(bool(self.mesh.process(padded(0.5, cv2.BORDER_REPLICATE)).multi_face_landmarks)),
        )
        timed(
            "whole rep (mesh det 0.5)",
            lambda: int(bool(self.mesh5.process(padded(0.5, cv2.BORDER_REPLICATE)).multi_face_landmarks)),
        )
        return out


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    from aunce_rt.landmarks import create_backend

    backend = create_backend("facemesh", static=True, max_faces=4)
    pos, neg = build(backend)
    backend.close()
    log.info("%d positives, %d negatives", len(pos), len(neg))
    att = Attempts()
    pos_runs = [(name, att.run(img)) for name, img in pos]
    neg_runs = [(name, att.run(img)) for name, img in neg]
    names = list(pos_runs[0][1])
    variants = [v[0] for v in VARIANTS]

    def score(chain: list[str]) -> tuple[dict[str, int], int, float, int]:
        """found per variant, false faces, mean ms of the retries on misses, misses retried."""
        found = dict.fromkeys(variants, 0)
        retry_ms, retried = [], 0
        for var, r in pos_runs:
            ms = 0.0
            for i, a in enumerate(chain):
                if i:
                    ms += r[a][1]
                if r[a][0]:
                    found[var] += 1
                    break
            if not r[chain[0]][0]:
                retried += 1
                retry_ms.append(ms)
        false = 0
        for _, r in neg_runs:
            for a in chain:
                if r[a][0]:
                    false += r[a][0]
                    break
        return found, false, float(np.mean(retry_ms)) if retry_ms else 0.0, retried

    n_var = len(pos_runs) // len(variants)
    print(f"\n{n_var} photos x {len(variants)} variants; {len(neg_runs)} no-face images\n")
    print("| strategy | " + " | ".join(variants) + " | all found | false faces | retry ms (mean, misses) |")
    print("|---|" + "---:|" * (len(variants) + 3))
    chains = [["normal"]] + [["normal", a] for a in names[1:]]
    chains += [
        ["normal", "short 0.5", "pad const 0.5 full 0.5"],
        ["normal", "pad rep 0.5 full 0.5", "short 0.5"],
        ["normal", "short 0.5", "pad rep 0.5 full 0.5", "whole rep (mesh det 0.5)"],
        ["normal", "pad const 0.25 short 0.5", "pad rep 0.5 full 0.5"],
        ["normal", "short 0.5", "whole rep (mesh det 0.5)"],
        ["normal", "short 0.5", "whole rep (mesh det 0.3)"],
        ["normal", "short 0.5", "pad rep 0.5 full 0.5"],
        ["normal", "pad rep 0.5 short 0.5", "pad rep 0.5 full 0.5"],
        ["normal", "short 0.5", "pad rep 0.5 short 0.5", "pad rep 0.5 full 0.5"],
    ]
    for chain in chains:
        found, false, ms, _ = score(chain)
        total = sum(found.values())
        print(
            f"| {' -> '.join(chain)} | "
            + " | ".join(f"{found[v]}/{n_var}" for v in variants)
            + f" | {total}/{len(pos_runs)} | {false} | {ms:.1f} |"
        )
    means = {a: np.mean([r[a][1] for _, r in pos_runs]) for a in names}
    print("\nmean ms per attempt (positives): " + ", ".join(f"{a} {m:.1f}" for a, m in means.items()))
    neg_hits = {a: sum(r[a][0] > 0 for _, r in neg_runs) for a in names}
    print(
        "no-face images with a face, per attempt alone: " + ", ".join(f"{a} {n}" for a, n in neg_hits.items())
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
