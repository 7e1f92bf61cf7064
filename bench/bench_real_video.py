"""Behaviour on real video: mirror consistency, decision stability, saturation, agreement with OpenFace.

For each model given (``--model NAME=PATH``, e.g. the previous and the new bundled
model), on every real video of ../shared/data/video (one face each; frames without
a face are skipped), through ``AUDetector.stream`` (video-mode landmarks, no
smoothing unless ``--smooth ALPHA`` turns on the runtime's causal EMA, the model's thresholds):

* **mirror**: the share of AU decisions (frame x AU) that change when every frame is
  flipped left-right, over frames where both passes found a face; AU14 (which can
  be one-sided) reported apart;
* **toggles**: decision changes per second, mean over AUs;
* **saturation**: the share of probabilities below 0.05 or above 0.95;
* **OpenFace**: on the two OpenFace sample videos, Pearson r over time between each
  AU's probability and OpenFace 2.2's ``AUxx_r`` (its reference CSV in
  ../shared/data/reference/openface2), for the AUs both have — a peer, not truth.

Prints markdown tables; writes JSON (``--json``).

    .venv/bin/python bench/bench_real_video.py --model previous=old.onnx --model new=aunce_rt/assets/default.onnx
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
VIDEOS = SHARED / "video"
OPENFACE = SHARED / "reference" / "openface2"
ONE_SIDED = (14,)

log = logging.getLogger("bench_real_video")


def _named_model(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not Path(path).is_file():
        raise argparse.ArgumentTypeError(f"expected NAME=PATH of an existing .onnx; got {text!r}")
    return name, Path(path)


def _frames(path: Path) -> tuple[list[np.ndarray], float]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames, float(fps)


def _run(detector, frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(F, K) probabilities (NaN rows where no face) and (F,) found flags; largest face per frame."""
    k = len(detector.au_codes)
    probs = np.full((len(frames), k), np.nan, np.float32)
    for i, result in enumerate(detector.stream(frames)):
        if result.faces:
            face = max(result.faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
            probs[i] = face.probabilities
    return probs, ~np.isnan(probs[:, 0])


def _openface(video: Path) -> dict[int, np.ndarray] | None:
    import csv

    ref = OPENFACE / f"{video.stem}.openface2.csv"
    if not ref.is_file():
        return None
    with ref.open() as fh:
        rows = list(csv.DictReader(fh, skipinitialspace=True))
    cols = [c for c in rows[0] if c.endswith("_r") and c.startswith("AU")]
    ok = np.array([float(r["success"]) > 0 for r in rows])
    return {int(c[2:4]): np.where(ok, np.array([float(r[c]) for r in rows]), np.nan) for c in cols}


def measure(name: str, model: Path, videos: list[Path], smooth: float | None = None) -> dict:
    from aunce_rt.detector import AUDetector

    out = {}
    with AUDetector(model, providers="cpu", max_faces=1, smoothing=smooth) as det:
        codes = det.au_codes
        thr = np.asarray(det.thresholds)
        for video in videos:
            frames, fps = _frames(video)
            p, found = _run(det, frames)
            pm, found_m = _run(det, [np.ascontiguousarray(f[:, ::-1]) for f in frames])
            both = found & found_m
            dec, dec_m = p[both] >= thr, pm[both] >= thr
            two_sided = [j for j, c in enumerate(codes) if c not in ONE_SIDED]
            one_sided = [j for j, c in enumerate(codes) if c in ONE_SIDED]
            pf = p[found]
            flips = (
                np.abs(np.diff((pf >= thr).astype(int), axis=0)).sum(0)
                if len(pf) > 1
                else np.zeros(len(codes))
            )
            seconds = max(len(pf) / fps, 1e-9)
            row = {
                "frames": len(frames),
                "found": int(found.sum()),
                "mirror_change": float((dec[:, two_sided] != dec_m[:, two_sided]).mean())
                if both.any()
                else None,
                "mirror_change_au14": float((dec[:, one_sided] != dec_m[:, one_sided]).mean())
                if both.any() and one_sided
                else None,
                "toggles_per_s": float(flips.mean() / seconds),
                "saturated": float(((pf < 0.05) | (pf > 0.95)).mean()) if len(pf) else None,
                "positive_rate": {
                    f"AU{c:02d}": float((pf[:, j] >= thr[j]).mean()) for j, c in enumerate(codes)
                },
            }
            ref = _openface(video)
            if ref is not None:
                r = {}
                for j, c in enumerate(codes):
                    if c in ref:
                        n = min(len(ref[c]), len(p))
                        a, b = p[:n, j], ref[c][:n]
                        m = ~np.isnan(a) & ~np.isnan(b)
                        r[f"AU{c:02d}"] = (
                            float(np.corrcoef(a[m], b[m])[0, 1])
                            if m.sum() > 2 and a[m].std() > 0 and b[m].std() > 0
                            else None
                        )
                row["openface_r"] = r
                vals = [v for v in r.values() if v is not None]
                row["openface_r_mean"] = float(np.mean(vals)) if vals else None
            out[video.name] = row
            log.info("%s on %s: %s", name, video.name, {k: v for k, v in row.items() if k != "positive_rate"})
    return out


def _fmt(v, pct=False) -> str:
    if v is None:
        return "–"
    return f"{100 * v:.1f}" if pct else f"{v:.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--model", action="append", type=_named_model, required=True, help="NAME=PATH (repeatable)"
    )
    ap.add_argument(
        "--videos", nargs="*", type=Path, help="default: every video of ../shared/data/video with a face"
    )
    ap.add_argument("--smooth", type=float, help="the runtime's causal EMA factor alpha (default: none)")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "real_video.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    videos = args.videos or [p for p in sorted(VIDEOS.iterdir()) if p.stem != "no_face"]
    results = {name: measure(name, path, videos, args.smooth) for name, path in args.model}
    print(
        "| model | video | faces | mirror changes (%, AU14 apart) | AU14 mirror (%) | toggles/s | saturated (%) | r with OpenFace |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, per in results.items():
        for video, row in per.items():
            print(
                f"| {name} | {video} | {row['found']}/{row['frames']} | {_fmt(row['mirror_change'], True)} | "
                f"{_fmt(row['mirror_change_au14'], True)} | {_fmt(row['toggles_per_s'])} | "
                f"{_fmt(row['saturated'], True)} | {_fmt(row.get('openface_r_mean'))} |"
            )
    for name, per in results.items():
        for video, row in per.items():
            if "openface_r" in row:
                print(
                    f"\n{name} / {video}: r with OpenFace AUxx_r: "
                    + ", ".join(f"{k} {_fmt(v)}" for k, v in row["openface_r"].items())
                )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
