"""Levers of the real-face head, each built as a shipped-format ONNX model and scored through the runtime.

The head (``aunce_rt.pipelines._geometry_fit``) is per-AU logistic regression on the
478 aligned FaceMesh points (``aunce_rt.geometry``), optionally fused with the
bundled appearance model's logits, exported as one ONNX graph
(``export._geometry_head``). Every lever's graph is scored on ckplus_dev by
``bench/bench_ckplus.py`` (the full runtime: ``AUDetector(model=...).detect``, its
still-image retry, the protocol of the set's README); SynthAU held-out figures
come from the head on the cached held-out features (a sanity check).

ckplus_dev is EVALUATION ONLY: nothing here trains on it or chooses anything on it.

Settings, fixed BEFORE any of them was scored on ckplus_dev (2026-12-01)
-----------------------------------------------------------------------
Common: features from ``_geometry_data`` (FaceMesh still-image mode with the retry,
most confident face); SynthAU ``split="train"`` samples 0..N-1, truth = intensity
>= 0.25, renders without a face dropped; real faces = the 204 photos of
``faces_cc`` and frames of the 10 ``video_cc`` GRID clips, used only where FaceMesh
and the teacher both find a face, teacher AU scores as soft targets (each face
twice, weights p and 1 - p); C = 1 (G0's, ``bench/EXP_GEOMETRY.md``); balanced
class weights per AU (G7's rule); decision threshold 0.5.
R0 = G7 again through the new code: SynthAU seed 0, N = 4000; GRID every 3rd frame.
R1 = R0 + every GRID frame (750 instead of 250): more real faces.
R2 = R1 + mirror augmentation (each row also mirrored: x reflected about the crop's
     centre, points re-indexed by the FaceMesh mirror permutation computed from the
     mean SynthAU training face; appearance scores of the mirrored crop).
R3 = R2 + appearance fusion: the bundled model's 12 logits (clipped at 1e-4) join the
     1434 coordinates (one graph with both inputs).
R4 = R2 with N = 16000 SynthAU renders (seed 0, samples 0..15999): more synthetic data.
Added after R0..R3 were scored (21:47), before R4/R5 were (settings fixed here first):
R5 = R2 + neutral alignment: SynthAU geometry shifted by (mean of the neutral London
     photos' geometry - mean of the SynthAU renders with no AU present), the domain's
     systematic shape offset, so that it is not read as expression.
Added after R5 was scored (21:53), before R6 was:
R6 = R5 with N = 16000 SynthAU renders (the two levers combined).
Added after R5 was scored, before R7 was (21:59):
R7 = the better of R5/R6 (by ckplus mean AUC, the shipping rule below), its fitted head
     averaged with its mirror image (``_geometry_fit.symmetrise``): mirror-consistent by
     construction. No refit. Rule fixed before scoring R7 (22:12): R7 ships instead of its
     base if its ckplus_dev mean AUC is within 2 seed sd of the base's (the issue requires
     mirror consistency; exact symmetry is worth a loss inside the noise).
Added after R7 was scored, before R8 was (22:21):
R8 = R7 with pose-normalised geometry (spec ``mediapipe478-frontal-v1``): after the
     similarity alignment, each face's 478 points are rigidly rotated and scaled in 3-D
     (Kabsch with uniform scale on ``aunce_rt.geometry.STABLE_POINTS``) onto a reference
     face: the mean aligned geometry of the neutral London photos, averaged with its own
     mirror image (exactly symmetric). Everything else as R7 (mirror permutation and
     neutral offset computed on the frontalised geometry). R8 ships instead of R7 if its
     ckplus_dev mean AUC is >= R7's - 0.006 (2 seed sd) AND its mean correlation with
     OpenFace's AUxx_r on the two OpenFace sample videos (``bench/bench_real_video.py``) is
     higher than R7's: pose normalisation is for turned heads, which CK+ barely has.
Added after R8 was scored, before R9 was (23:10):
R9 = R7 with per-AU regions: upper-face AUs (1, 2, 4, 6, 7) read only the points above the
     nose tip of the mean SynthAU training face, the others only the points below the eyes
     (``_geometry_fit.region_masks``): the brow AUs can no longer read the mouth (our AU01
     follows OpenFace's AU25, speech, on openface_default). R9 ships instead of R7 only if its
     ckplus_dev mean AUC is > R7's + 0.006 (2 seed sd).
Added 2026-12-02 (fourteenth session), before R12 was scored on anything but SynthAU:
R12 = R7's recipe with the twelve logistic regressions replaced by ONE network with a hidden
     layer (``aunce_rt.pipelines._geometry_mlp``: standardised 1434 coordinates -> 256 ReLU,
     dropout 0.2 -> 12 logits; the same rows, targets and balanced weights; AdamW lr 1e-3,
     weight decay 1e-3, cosine, 30 epochs, batch 256), its logits averaged over the face and
     its mirror image (exactly mirror-consistent, like R7's symmetrised head), Platt-calibrated
     and with the intensity head as shipped. Made by the recipe itself:
     ``aunce-rt train real-faces --head mlp --mlp-seed S`` on the same feature cache as R7.
     Why: the linear head reaches only 0.87 AUC on held-out SynthAU people, whose truth is
     exact; a non-linear head may read AU combinations and face shapes a plane cannot, and it
     can follow the teacher's (itself non-linear in the landmarks) soft targets on real faces.
     Hyper-parameters are fixed a priori (above), not tuned on anything.
     Scored on ckplus_dev once for each MLP seed 0, 1, 2 (SynthAU seed 0 throughout).
     Rule: R12 (seed 0) replaces R7 as the default only if BOTH its ckplus_dev mean AUC and the
     mean over its three MLP seeds are >= R7's 0.841 + 0.006 (2 seed sd), its F1-macro through the
     runtime on the 60 unseen SynthAU people is not below R7's (amended at 15:41, before any R12
     figure existed: the first wording said ">= 0.80", but R7 itself, rebuilt at 15:40 by the
     same recipe, scores 0.374 there, so that clause would block every geometry head), and its
     mean mirror-change share over the five real videos (``bench/bench_real_video.py``) is not
     above R7's.
Shipping rule: the lever with the highest ckplus_dev mean AUC; its SynthAU seed
repeated with seeds 1 and 2 (N = 4000 levers only) for the spread. Nothing else is
chosen on ckplus_dev.

    .venv/bin/python bench/exp_realfaces.py --cache /tmp/realfaces --build       # fit + write the graphs
    .venv/bin/python bench/bench_ckplus.py --model R0=/tmp/realfaces/models/R0.onnx ...
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FACES = SHARED / "data" / "faces_cc"
VIDEOS = SHARED / "data" / "video_cc"
TASK = SHARED / "models" / "face_landmarker.task"

log = logging.getLogger("exp_realfaces")

LEVERS = {
    "R0": dict(n=4000, stride=3, mirror=False, appearance=False),
    "R1": dict(n=4000, stride=1, mirror=False, appearance=False),
    "R2": dict(n=4000, stride=1, mirror=True, appearance=False),
    "R3": dict(n=4000, stride=1, mirror=True, appearance=True),
    "R4": dict(n=16000, stride=1, mirror=True, appearance=False),
    "R5": dict(n=4000, stride=1, mirror=True, appearance=False, align_neutral=True),
    "R6": dict(n=16000, stride=1, mirror=True, appearance=False, align_neutral=True),
    "R8": dict(
        n=4000, stride=1, mirror=True, appearance=False, align_neutral=True, symmetric=True, frontal=True
    ),
    "R9": dict(
        n=4000, stride=1, mirror=True, appearance=False, align_neutral=True, symmetric=True, regions=True
    ),
}
DERIVED = {"R7": "symmetrise the head of --base"}


def real_subset(real: dict[str, np.ndarray], stride: int) -> dict[str, np.ndarray]:
    """The real faces with GRID frames thinned to every ``stride``-th (photos all kept)."""
    keep = np.array(
        [
            not n.split("/")[-1].isdigit() or int(n.split("/")[-1]) % stride == 0
            for n in real["names"].tolist()
        ]
    )
    return {k: (v[keep] if k != "au_codes" else v) for k, v in real.items()}


def main() -> int:
    from aunce_rt.aus import BENCHMARK_AUS
    from aunce_rt.detector import default_model_path
    from aunce_rt.evaluation.metrics import roc_auc
    from aunce_rt.export._geometry_head import build_geometry_model
    from aunce_rt.export._graph import load_model_proto, read_metadata, save_model_proto
    from aunce_rt.pipelines._geometry_data import RealSource, real_features, synth_features
    from aunce_rt.pipelines._geometry_fit import HeadConfig, fit_head, mirror_permutation, training_rows
    from aunce_rt.session import AUModelSession

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--levers", nargs="+", default=list(LEVERS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--base", help="R7: the lever whose saved head is symmetrised")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    codes = BENCHMARK_AUS["bp4d"]
    app_model = default_model_path()
    base_meta = read_metadata(load_model_proto(app_model))
    real_all = real_features(
        args.cache, RealSource.from_folders(FACES, VIDEOS), teacher_task=TASK, appearance_model=app_model
    )
    held = synth_features(
        args.cache, seed=0, split="test", n=1000, appearance_model=app_model, workers=args.workers
    )
    out_dir = args.cache / "models"
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {}
    for name in args.levers:
        if name == "R7":
            from onnx import numpy_helper

            from aunce_rt.export._geometry_head import GeometryHead
            from aunce_rt.pipelines._geometry_fit import symmetrise

            base = load_model_proto(out_dir / f"{args.base}.onnx")
            inits = {t.name: numpy_helper.to_array(t) for t in base.graph.initializer}
            synth = synth_features(
                args.cache,
                seed=0,
                split="train",
                n=LEVERS[args.base]["n"],
                appearance_model=app_model,
                workers=args.workers,
            )
            perm = mirror_permutation(
                synth["landmarks"][synth["found"].astype(bool)].mean(0)
            )  # as the base's
            head = symmetrise(GeometryHead(inits["geo_weights"], inits["geo_bias"]), perm)
            meta = read_metadata(base)
            meta = meta.__class__(
                **{**meta.__dict__, "training": {**meta.training, "lever": "R7", "base": args.base}}
            )
            path = save_model_proto(build_geometry_model(head, meta), out_dir / "R7.onnx")
            log.info("R7 = symmetrised %s -> %s", args.base, path)
            continue
        lever = LEVERS[name]
        for seed in args.seeds:
            tag = name if seed == 0 else f"{name}s{seed}"
            synth = synth_features(
                args.cache,
                seed=seed,
                split="train",
                n=lever["n"],
                appearance_model=app_model,
                workers=args.workers,
            )
            assert tuple(synth["au_codes"]) == codes == tuple(real_all["au_codes"])
            perm = mirror_permutation(synth["landmarks"][synth["found"].astype(bool)].mean(0))
            real_lever, held_lever, reference = real_subset(real_all, lever["stride"]), held, None
            if lever.get("frontal"):
                from aunce_rt.pipelines._geometry_fit import frontalised, reference_face

                reference = reference_face(real_lever, perm)
                synth, real_lever, held_lever = (frontalised(d, reference) for d in (synth, real_lever, held))
            cfg = HeadConfig(
                mirror=lever["mirror"],
                appearance=lever["appearance"],
                align_neutral=lever.get("align_neutral", False),
            )
            rows = training_rows(synth, real_lever, cfg, perm)
            t0 = time.perf_counter()
            masks = None
            if lever.get("regions"):
                from aunce_rt.pipelines._geometry_fit import region_masks

                masks = region_masks(synth["landmarks"][synth["found"].astype(bool)].mean(0), codes)
            head = fit_head(rows, cfg, n_jobs=args.workers, masks=masks)
            if lever.get("symmetric"):
                from aunce_rt.pipelines._geometry_fit import symmetrise

                head = symmetrise(head, perm)
            fit_s = time.perf_counter() - t0
            meta = base_meta.__class__(
                au_codes=codes,
                thresholds=(0.5,) * len(codes),
                encoder="geometry-linear" + ("+appearance" if cfg.appearance else ""),
                backbone=base_meta.backbone if cfg.appearance else "",
                input_size=base_meta.input_size,
                color_order=base_meta.color_order,
                training={"lever": name, "seed": seed, "rows": len(rows), **lever},
            )
            np.savez(out_dir / f"{tag}_head.npz", weights=head.weights, bias=head.bias, perm=perm)
            appearance = load_model_proto(app_model) if cfg.appearance else None
            model = build_geometry_model(
                head,
                meta,
                appearance,
                reference=reference,
            )
            path = save_model_proto(model, out_dir / f"{tag}.onnx")
            # parity of the graph with the numpy head, then SynthAU held-out (sanity)
            f = held_lever["found"].astype(bool)
            session = AUModelSession(path, providers="cpu")
            lm = held_lever["landmarks"][f]
            if cfg.appearance:  # the held-out crops are not cached: the graph's parity is a unit test
                ref = head.probs(lm, held["app"][f])
            else:
                ref = head.probs(lm)
                np.testing.assert_allclose(
                    session.run(landmarks=lm), ref, atol=1e-3
                )  # float32 sums of 1434 terms
            probs = np.zeros((len(f), len(codes)))
            probs[f] = ref
            auc = roc_auc(probs, held["labels"].astype(int))
            summary[tag] = {
                "fit_s": round(fit_s, 1),
                "rows": len(rows),
                "synthau_heldout_auc": float(np.nanmean(auc)),
            }
            log.info(
                "%s: %d rows, fit %.0f s, SynthAU held-out mean AUC %.3f -> %s",
                tag,
                len(rows),
                fit_s,
                np.nanmean(auc),
                path,
            )
    (args.cache / "levers.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
