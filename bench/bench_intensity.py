"""AU intensity (``AUxx_r``, 0-5) through the full runtime: SynthAU truth, and OpenFace on real video.

* **SynthAU** (exact truth): a clip of unseen SynthAU people (test-split identities from
  ``FIRST_ID``, used by no recipe: not the recipe's held-out renders 1_000_000+, not its
  clip 1_500_000+) rendered to .mp4 and run through ``AUDetector`` exactly as a user runs
  it (MediaPipe landmarks, alignment, ONNX Runtime, no smoothing). Per AU: ICC(3,1)
  (consistency, two-way mixed, single rater; ``aunce_rt.evaluation.intensity``), Pearson r
  and MAE of our ``AUxx_r`` against 5 x the renderer's intensity, over the frames with a
  face; and their mean over the AUs.
* **OpenFace**: on the two OpenFace sample videos (../shared/data/video/openface_*.wmv),
  Pearson r over time between our ``AUxx_r`` and OpenFace 2.2's ``AUxx_r`` (its reference
  CSV in ../shared/data/reference/openface2), for the AUs both have: a peer, not truth.

Prints markdown tables; writes JSON (``--json``).

    .venv/bin/python bench/bench_intensity.py [--model aunce_rt/assets/default.onnx] [--quick]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
VIDEOS = SHARED / "video"
OPENFACE = SHARED / "reference" / "openface2"
FIRST_ID = 1_600_000

log = logging.getLogger("bench_intensity")


def synthau(model: Path, people: int, frames: int, seed: int) -> dict:
    """ICC(3,1), r and MAE per AU of the runtime's intensities on unseen SynthAU people."""
    from aunce_rt.evaluation.runtime_eval import evaluate_clip, render_people_clip

    with tempfile.TemporaryDirectory() as tmp:
        clip = render_people_clip(
            Path(tmp) / "clip.mp4",
            people=people,
            frames_per_person=frames,
            seed=seed,
            first_identity=FIRST_ID,
        )
        report = evaluate_clip(clip, tmp, model=model, providers="cpu", save_video=False, plot=False)
    metrics = report.intensity_metrics(clip).to_dict()
    return {
        **metrics,
        "people": people,
        "frames": report.frames,
        "detection_rate": report.detection_rate,
        "occurrence_f1_macro": report.metrics.f1_macro,
    }


def _openface_r(video: Path) -> dict[int, np.ndarray]:
    """OpenFace 2.2's ``AUxx_r`` per frame (NaN where it found no face), read as its users do."""
    from aunce_rt.sinks import read_au_csv

    cols = read_au_csv(OPENFACE / f"{video.stem}.openface2.csv")
    ok = cols["success"] > 0
    return {
        int(c[2:4]): np.where(ok, v, np.nan)
        for c, v in cols.items()
        if c.startswith("AU") and c.endswith("_r")
    }


def openface(model: Path) -> dict:
    """Pearson r over time of our ``AUxx_r`` with OpenFace's, per video and AU both have."""
    from aunce_rt.detector import AUDetector
    from aunce_rt.evaluation.intensity import pearson

    out = {}
    with AUDetector(model, providers="cpu", max_faces=1) as det:
        for video in sorted(VIDEOS.glob("openface_*.wmv")):
            ours = []
            for result in det.stream(video):
                face = result.faces[0] if result.faces else None
                ours.append(face.intensities if face is not None else np.full(len(det.au_codes), np.nan))
            r_ours = np.stack(ours)
            ref = _openface_r(video)
            row = {}
            for j, code in enumerate(det.au_codes):
                if code not in ref or np.isnan(r_ours[:, j]).all():
                    continue
                n = min(len(ref[code]), len(r_ours))
                a, b = r_ours[:n, j], ref[code][:n]
                ok = np.isfinite(a) & np.isfinite(b)
                r = pearson(a[ok], b[ok])  # NaN (None in JSON) where either series is constant
                row[f"AU{code:02d}"] = r if np.isfinite(r) else None
            vals = [v for v in row.values() if v is not None]
            out[video.name] = {
                "r": row,
                "mean_r": float(np.mean(vals)) if vals else None,
                "frames": len(r_ours),
            }
            log.info("%s: %s", video.name, out[video.name])
    return out


def _f(v: float | None) -> str:
    return "-" if v is None or not np.isfinite(v) else f"{v:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "aunce_rt" / "assets" / "default.onnx")
    parser.add_argument("--people", type=int, default=40, help="unseen SynthAU people in the clip")
    parser.add_argument("--frames", type=int, default=60, help="frames per person")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="8 people (a smoke run)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from aunce_rt.session import AUModelSession

    meta = AUModelSession(args.model, providers="cpu").metadata
    if not meta.has_intensity:
        print(f"{args.model} has no intensity output (metadata intensity_aus is empty): nothing to measure")
        return 1
    people = 8 if args.quick else args.people
    result = {"model": str(args.model), "synthau": synthau(args.model, people, args.frames, args.seed)}
    s = result["synthau"]
    print(
        f"### AU intensity on unseen SynthAU people through the runtime ({s['people']} people, {s['frames']} frames)\n"
    )
    print(f"Detection rate {s['detection_rate']:.3f}; frames without a face are left out.\n")
    print("| AU | ICC(3,1) | Pearson r | MAE (0-5) |\n|---|---|---|---|")
    for au, m in s["per_au"].items():
        print(f"| {au} | {_f(m['icc'])} | {_f(m['pearson'])} | {_f(m['mae'])} |")
    print(f"| **mean** | **{_f(s['mean_icc'])}** | **{_f(s['mean_pearson'])}** | **{_f(s['mean_mae'])}** |\n")
    if VIDEOS.is_dir() and OPENFACE.is_dir():
        result["openface"] = openface(args.model)
        print("### Pearson r over time of our AUxx_r with OpenFace 2.2's AUxx_r (a peer, not truth)\n")
        aus = sorted({au for v in result["openface"].values() for au in v["r"]})
        print("| video | " + " | ".join(aus) + " | mean |\n|---|" + "---|" * (len(aus) + 1))
        for name, v in result["openface"].items():
            print(f"| {name} | " + " | ".join(_f(v["r"].get(a)) for a in aus) + f" | {_f(v['mean_r'])} |")
    else:
        print(f"(OpenFace comparison skipped: {VIDEOS} or {OPENFACE} not found)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
