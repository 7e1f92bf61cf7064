"""Probe (issue 19): per-person neutral calibration of the geometry, OpenFace-style, on SynthAU video.

Each unseen SynthAU person (identities 1_700_000+, seeds 500+) is rendered for FRAMES frames
and run through ``AUDetector.stream`` on its own. The aligned geometry is then used

* ``none``: as is (what the runtime does);
* ``median``: moved by (reference neutral - the person's median geometry), the reference being
  the mean neutral CC BY photo of the recipe's real-face cache (the frame the head was fitted in);
* ``median->mean-of-medians``: moved by (mean of all people's medians - the person's median),
  removing only the differences between people.

The bundled model's intensities and probabilities are scored against the truth (ICC(3,1), r,
MAE; F1 at its thresholds, AUC), and the spread of the true intensities within and between
people is printed. A research probe: the runtime has no such calibration.

    .venv/bin/python bench/probe_person_calibration.py --people 20 --frames 60
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def person_geometry(identity: int, seed: int, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(T, 478, 3) aligned geometry (NaN where no face) and (T, K) true intensities of one person."""
    from aunce_rt.detector import AUDetector
    from aunce_rt.geometry import aligned_landmarks
    from aunce_rt.synthau._io import render_frames

    images: list[np.ndarray] = []
    inten, _, _ = render_frames(images.append, identity=identity, n_frames=frames, seed=seed)
    geometry = np.full((frames, 478, 3), np.nan, np.float32)
    with AUDetector(providers="cpu", max_faces=1) as det:
        for result in det.stream(images):
            if result.faces:
                face = result.faces[0]
                geometry[result.index] = aligned_landmarks(face.landmarks, face.depth)
    return geometry, inten


def calibrated(g: np.ndarray, person: np.ndarray, ok: np.ndarray, ref: np.ndarray) -> dict[str, np.ndarray]:
    """The geometry variants of the module docstring."""
    people = np.unique(person)
    medians = {k: np.median(g[(person == k) & ok], 0) for k in people}
    centre = np.mean(list(medians.values()), 0)
    out = {"none": g, "median": g.copy(), "median->mean-of-medians": g.copy()}
    for k in people:
        m = (person == k) & ok
        out["median"][m] = g[m] - medians[k] + ref
        out["median->mean-of-medians"][m] = g[m] - medians[k] + centre
    return out


def main() -> int:
    from aunce_rt.aus import BENCHMARK_AUS
    from aunce_rt.evaluation.intensity import intensity_metrics
    from aunce_rt.evaluation.metrics import au_metrics, roc_auc
    from aunce_rt.session import AUModelSession
    from aunce_rt.synthau._labels import PRESENCE_THRESHOLD

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=20)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--model", type=Path, default=ROOT / "aunce_rt" / "assets" / "default.onnx")
    ap.add_argument("--real-cache", type=Path, default=Path("/work/cache/realfaces/real_app.npz"))
    args = ap.parse_args()
    real = np.load(args.real_cache)
    names = np.array([str(n) for n in real["names"]])
    neutral = real["found"].astype(bool) & np.char.startswith(names, "neutral/")
    ref = real["landmarks"][neutral].mean(0)
    parts = [person_geometry(1_700_000 + k, 500 + k, args.frames) for k in range(args.people)]
    g = np.concatenate([p[0] for p in parts])
    truth = np.concatenate([p[1] for p in parts])
    person = np.repeat(np.arange(args.people), args.frames)
    ok = ~np.isnan(g[:, 0, 0])
    codes = tuple(BENCHMARK_AUS["synthau"])
    within = np.mean([truth[person == k].std(0) for k in range(args.people)], 0)
    between = np.stack([truth[person == k].mean(0) for k in range(args.people)]).std(0)
    print(f"{args.people} people x {args.frames} frames, face in {ok.sum()}; AUs {codes}")
    print(
        "true intensity sd within a person",
        within.round(2),
        "\n                 between people  ",
        between.round(2),
    )
    session = AUModelSession(args.model, providers="cpu")
    thr = np.asarray(session.metadata.thresholds)
    labels = (truth[ok] >= PRESENCE_THRESHOLD).astype(int)
    for name, geom in calibrated(g, person, ok, ref).items():
        probs, inten = session.run_with_intensities(landmarks=geom[ok])
        im = intensity_metrics(inten, 5 * truth[ok], codes)
        f1 = au_metrics(probs, labels, thr).f1_macro
        auc = np.nanmean(roc_auc(probs, labels))
        print(
            f"| {name} | ICC {np.nanmean(im.icc):.3f} | r {np.nanmean(im.pearson):.3f} | "
            f"MAE {np.nanmean(im.mae):.3f} | F1 {f1:.3f} | AUC {auc:.3f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
