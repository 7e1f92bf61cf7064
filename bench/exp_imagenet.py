"""Issue 15 lever: frozen ImageNet appearance (MobileNetV2 from Google's TFLite) fused with the geometry head.

The shipped default (R7 of ``bench/exp_realfaces.py``) reads geometry only: the 478 aligned
FaceMesh points. AU04 (brow furrows), AU10 (nasolabial deepening) and AU14 (dimpler) are
partly texture, which geometry misses, and the SynthAU-trained CNN's texture did not cross to
real faces (R3: -0.055). This lever asks whether FROZEN ImageNet features (never trained on
SynthAU, so not fitted to the renderer's texture) carry texture that does cross.

ckplus_dev is EVALUATION ONLY: nothing here trains on it or chooses anything on it.

Settings, fixed BEFORE any of them was scored on ckplus_dev (2026-12-02, 00:18 UTC, commit 6e5662c)
-------------------------------------------------------------------------------
Extractor: ``timm.create_model("mobilenetv2_100", pad_type="same")`` with the weights of
``../shared/models/imagenet/mobilenet_v2_1.0_224_quant.tflite`` read by
``aunce_rt.models.read_tflite_mobilenetv2`` (agrees with TFLite on 9/9 photos), frozen, no
training. Input: the runtime's aligned crop (``aunce_rt.align.aligned_input``, "mediapipe"
template) at S px, uint8 RGB, turned to grey in the graph (0.299 R + 0.587 G + 0.114 B,
copied to 3 channels: CK+ is grey and SynthAU's colours are the renderer's), normalised
``(x / 255 - 0.5) / 0.5``. Features: the last 1280-channel map averaged over its width and
over 3 horizontal bands of its rows (brows/eyes, nose/cheeks, mouth/chin; adaptive-pool
bins) = 3840 values; mirrored rows use the features of the mirrored crop.
Head: R7's recipe unchanged (SynthAU seed 0 N = 4000 + the CC BY real faces with teacher
soft targets, every row mirrored, neutral alignment, class-balanced per-AU logistic
regression, C = 1, threshold 0.5), with the appearance features standardised and joined to
the 1434 coordinates. Neutral alignment is applied to the appearance features the same way
as to the geometry (SynthAU features moved by mean neutral real - mean neutral SynthAU). The
geometry part of the head is symmetrised as R7's; the appearance part is not (no test-time
flip: it would double the cost).
R10  = S = 112 (the size that fits the frame budget), appearance in every AU's model.
R11  = S = 112, appearance only in the models of AU04, AU10 and AU14 (the texture AUs where
       geometry is weakest); the other AUs are R7's.
R10L = S = 224, as R10 (for reading only: too slow to ship on this machine's budget).
Shipping rule: the better of R10/R11 replaces R7 as the bundled default if its ckplus_dev
mean AUC exceeds R7's (0.841) by more than 0.006 (2 seed sd of R5) AND the full pipeline
still runs >= 100 frames/s in ``bench/bench_runtime.py`` (the issue's speed target).

    .venv/bin/python bench/exp_imagenet.py --cache /work/cache/imagenet --extract --build
    .venv/bin/python bench/bench_ckplus.py --model R10=/work/cache/imagenet/models/R10.onnx ...
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
TFLITE = SHARED / "models" / "imagenet" / "mobilenet_v2_1.0_224_quant.tflite"
FACES = SHARED / "data" / "faces_cc"
VIDEOS = SHARED / "data" / "video_cc"
TASK = SHARED / "models" / "face_landmarker.task"
SIZES = (112, 224)
CHUNK = 250
TEXTURE_AUS = (4, 10, 14)

log = logging.getLogger("exp_imagenet")

LEVERS = {
    "R10": dict(size=112, aus=None),
    "R11": dict(size=112, aus=TEXTURE_AUS),
    "R10L": dict(size=224, aus=None),
}


def _torch_modules(size: int, head: tuple[np.ndarray, np.ndarray] | None = None):
    """uint8 (N, S, S, 3) RGB -> 3840 band features, or -> sigmoid(features @ W + b) with ``head``."""
    import timm
    import torch

    from aunce_rt.models._tflite import read_tflite_mobilenetv2

    net = timm.create_model("mobilenetv2_100", pad_type="same", num_classes=1000)
    net.load_state_dict(read_tflite_mobilenetv2(TFLITE))
    h = -(-size // 32)
    bins = [(i * h // 3, -(-(i + 1) * h // 3)) for i in range(3)]  # adaptive-pool bins

    class Appearance(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net
            self.register_buffer("luma", torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1))
            if head is not None:
                self.fc = torch.nn.Linear(3 * 1280, head[0].shape[1])
                self.fc.weight.data = torch.from_numpy(np.ascontiguousarray(head[0].T, np.float32))
                self.fc.bias.data = torch.from_numpy(head[1].astype(np.float32))

        def forward(self, images: torch.Tensor) -> torch.Tensor:  # (N, S, S, 3) uint8
            x = images.permute(0, 3, 1, 2).float()
            grey = (x * self.luma).sum(1, keepdim=True).expand(-1, 3, -1, -1)
            f = self.net.forward_features(grey / 127.5 - 1.0).mean(3)  # (N, 1280, h)
            feats = torch.cat([f[:, :, a:b].mean(2) for a, b in bins], 1)  # (N, 3840)
            return torch.sigmoid(self.fc(feats)) if head is not None else feats

    return Appearance().eval()


def export_extractor(size: int, path: Path, head: tuple[np.ndarray, np.ndarray] | None = None) -> Path:
    import torch

    module = _torch_modules(size, head)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        module,
        torch.zeros(1, size, size, 3, dtype=torch.uint8),
        str(path),
        input_names=["images"],
        output_names=["probs" if head is not None else "features"],
        dynamic_axes={"images": {0: "N"}, ("probs" if head is not None else "features"): {0: "N"}},
        opset_version=17,
        dynamo=False,
    )
    return path


class _Tools:
    def __init__(self, cache: Path) -> None:
        import onnxruntime as ort

        from aunce_rt.landmarks._facemesh import FaceMeshBackend

        self.backend = FaceMeshBackend(static=True, max_faces=4, retry=True)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        self.sessions = {
            s: ort.InferenceSession(
                str(cache / f"extractor{s}.onnx"), opts, providers=["CPUExecutionProvider"]
            )
            for s in SIZES
        }

    def __call__(self, image_bgr: np.ndarray) -> tuple[bool, np.ndarray, dict[int, np.ndarray]]:
        from aunce_rt.align import aligned_input
        from aunce_rt.geometry import aligned_landmarks
        from aunce_rt.landmarks import most_confident_face

        face = most_confident_face(self.backend, image_bgr)
        if face is None:
            return False, np.zeros((478, 3), np.float32), {s: np.zeros((2, 3840), np.float32) for s in SIZES}
        rgb = np.ascontiguousarray(image_bgr[:, :, ::-1])
        feats = {}
        for s, sess in self.sessions.items():
            crop = aligned_input(rgb, face.points, "mediapipe", input_size=s)
            pair = np.stack([crop, np.ascontiguousarray(crop[:, ::-1])])
            feats[s] = sess.run(None, {"images": pair})[0]
        return True, aligned_landmarks(face.points, face.z), feats


def _synth_chunk(job: tuple[int, str, list[int], str, str]) -> str:
    from aunce_rt.synthau import SynthAU

    seed, split, indices, cache, out = job
    gen = SynthAU(seed=seed, split=split)
    tools = _Tools(Path(cache))
    order = gen.render_order(indices)
    found, lms, feats = [], [], {s: [] for s in SIZES}
    for i in order:
        ok, lm, f = tools(gen.render_sample(i).image)
        found.append(ok)
        lms.append(lm)
        for s in SIZES:
            feats[s].append(f[s])
    tools.backend.close()
    arrays = {f"f{s}": np.stack(feats[s]).astype(np.float16) for s in SIZES}
    tmp = Path(out + ".part.npz")
    np.savez_compressed(tmp, index=np.array(order), found=np.array(found), landmarks=np.stack(lms), **arrays)
    tmp.rename(out)
    return out


def synth_appearance(cache: Path, seed: int, split: str, n: int, workers: int) -> dict[str, np.ndarray]:
    from aunce_rt.pipelines._geometry_data import _pool_map

    jobs, paths = [], []
    for start in range(0, n, CHUNK):
        path = cache / f"synthau_{split}_s{seed}_{start:06d}_{min(start + CHUNK, n):06d}.npz"
        paths.append(path)
        if not path.is_file():
            jobs.append((seed, split, list(range(start, min(start + CHUNK, n))), str(cache), str(path)))
    if jobs:
        t0 = time.perf_counter()
        _pool_map(_synth_chunk, jobs, workers)
        log.info("SynthAU %s: %d chunks in %.0f s", split, len(jobs), time.perf_counter() - t0)
    parts = [dict(np.load(p)) for p in paths]
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.argsort(out["index"])
    return {k: v[order] for k, v in out.items()}


def real_appearance(cache: Path) -> dict[str, np.ndarray]:
    from aunce_rt.pipelines._geometry_data import RealSource

    path = cache / "real.npz"
    if path.is_file():
        return dict(np.load(path))
    tools = _Tools(cache)
    names, found, lms, feats = [], [], [], {s: [] for s in SIZES}
    for name, image in RealSource.from_folders(FACES, VIDEOS).frames():
        ok, lm, f = tools(image)
        names.append(name)
        found.append(ok)
        lms.append(lm)
        for s in SIZES:
            feats[s].append(f[s])
    tools.backend.close()
    out = {"names": np.array(names), "found": np.array(found), "landmarks": np.stack(lms)}
    out.update({f"f{s}": np.stack(feats[s]).astype(np.float16) for s in SIZES})
    np.savez_compressed(path, **out)
    return out


def _rows(synth, real, geo_cache_synth, geo_real, size: int, perm: np.ndarray):
    """R7's rows (neutral-aligned, real soft targets, mirrored) with appearance features joined."""
    from aunce_rt.geometry import mirror_landmarks
    from aunce_rt.pipelines._geometry_fit import Rows, balanced_weights, neutral_offset, real_rows, synth_rows

    fs, fr = geo_cache_synth["found"].astype(bool), geo_real["found"].astype(bool)
    a_s = synth[f"f{size}"].astype(np.float64)  # (n, 2, 3840): crop, mirrored crop
    a_r = real[f"f{size}"].astype(np.float64)
    names = np.array([str(n) for n in geo_real["names"]])
    neutral_r = fr & np.char.startswith(names, "neutral/")
    neutral_s = fs & (geo_cache_synth["labels"] == 0).all(1)
    app_shift = a_r[neutral_r, 0].mean(0) - a_s[neutral_s, 0].mean(0)
    geo_synth = {
        **geo_cache_synth,
        "landmarks": geo_cache_synth["landmarks"] + neutral_offset(geo_cache_synth, geo_real)[None],
    }
    s_rows, r_rows = synth_rows(geo_synth), real_rows(geo_real)
    s_app, r_app = a_s[fs, 0] + app_shift, np.concatenate([a_r[fr, 0]] * 2)
    parts = [(s_rows, s_app), (r_rows, r_app)]
    f = geo_synth["found"].astype(bool)
    y = geo_synth["labels"][f].astype(np.float64)
    s_m = Rows(mirror_landmarks(geo_synth["landmarks"][f], perm), s_rows.app_logits, y, np.ones_like(y))
    parts.append((s_m, a_s[fs, 1] + app_shift))
    parts.append((real_rows(geo_real, perm), np.concatenate([a_r[fr, 1]] * 2)))
    rows = Rows.concat([p for p, _ in parts])
    app = np.concatenate([a for _, a in parts])
    return rows, app, balanced_weights(rows), app_shift


def fit(rows, app: np.ndarray, weights: np.ndarray, use_app: np.ndarray, n_jobs: int = 2):
    """Per-AU balanced LR on [geometry, appearance]; AU j reads appearance iff ``use_app[j]``.

    Returns (W_geo (1434, K), W_app (3840, K), bias (K,)) folded onto raw features.
    """
    from joblib import Parallel, delayed
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x = np.hstack([rows.landmarks.reshape(len(rows), -1).astype(np.float64), app])
    scaler = StandardScaler().fit(x)
    z = scaler.transform(x)
    d = 478 * 3

    def one(j: int):
        keep = weights[:, j] > 0
        cols = np.arange(z.shape[1]) if use_app[j] else np.arange(d)
        lr = LogisticRegression(C=1.0, max_iter=2000, tol=1e-3)
        lr.fit(z[keep][:, cols], rows.targets[keep, j].astype(int), sample_weight=weights[keep, j])
        coef = np.zeros(z.shape[1])
        coef[cols] = lr.coef_[0]
        return coef, float(lr.intercept_[0])

    fits = Parallel(n_jobs=n_jobs, prefer="threads")(delayed(one)(j) for j in range(rows.targets.shape[1]))
    coef = np.stack([c for c, _ in fits], 1)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    folded = coef / scale[:, None]
    bias = np.array([b for _, b in fits]) - (scaler.mean_ / scale) @ coef
    return folded[:d], folded[d:], bias


def main() -> int:
    from aunce_rt.aus import BENCHMARK_AUS
    from aunce_rt.detector import default_model_path
    from aunce_rt.evaluation.metrics import roc_auc
    from aunce_rt.export._geometry_head import GeometryHead, build_geometry_model
    from aunce_rt.export._graph import load_model_proto, read_metadata, save_model_proto
    from aunce_rt.pipelines._geometry_data import RealSource, real_features, synth_features
    from aunce_rt.pipelines._geometry_fit import mirror_permutation, symmetrise

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--geometry-cache", type=Path, default=Path("/work/cache/realfaces"))
    ap.add_argument("--levers", nargs="+", default=list(LEVERS))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--extract", action="store_true")
    ap.add_argument("--build", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    codes = BENCHMARK_AUS["bp4d"]
    args.cache.mkdir(parents=True, exist_ok=True)
    for s in SIZES:
        if not (args.cache / f"extractor{s}.onnx").is_file():
            export_extractor(s, args.cache / f"extractor{s}.onnx")
    from aunce_rt.session import bundled_model

    app_model = bundled_model("synthau")  # the geometry caches were made with its scores (unused here)
    geo_real = real_features(
        args.geometry_cache,
        RealSource.from_folders(FACES, VIDEOS),
        teacher_task=TASK,
        appearance_model=app_model,
    )
    geo_synth = synth_features(args.geometry_cache, seed=0, split="train", n=4000, appearance_model=app_model)
    geo_held = synth_features(args.geometry_cache, seed=0, split="test", n=1000, appearance_model=app_model)
    if args.extract:
        real = real_appearance(args.cache)
        synth = synth_appearance(args.cache, 0, "train", 4000, args.workers)
        held = synth_appearance(args.cache, 0, "test", 1000, args.workers)
        for a, g, what in ((real, geo_real, "real"), (synth, geo_synth, "synth"), (held, geo_held, "held")):
            agree = float(np.mean(a["found"] == g["found"].astype(bool)))
            diff = float(np.abs(a["landmarks"] - g["landmarks"])[a["found"]].max())
            log.info(
                "%s: found agrees with the geometry cache on %.4f, max landmark diff %.2e", what, agree, diff
            )
    if not args.build:
        return 0
    real, synth, held = (
        real_appearance(args.cache),
        synth_appearance(args.cache, 0, "train", 4000, 1),
        synth_appearance(args.cache, 0, "test", 1000, 1),
    )
    assert (synth["found"] == geo_synth["found"].astype(bool)).all() and (
        real["found"] >= geo_real["found"].astype(bool)
    ).all()
    perm = mirror_permutation(geo_synth["landmarks"][geo_synth["found"].astype(bool)].mean(0))
    base_meta = read_metadata(load_model_proto(default_model_path()))
    summary = {}
    for name in args.levers:
        lever = LEVERS[name]
        size = lever["size"]
        rows, app, weights, _ = _rows(synth, real, geo_synth, geo_real, size, perm)
        use_app = np.array([lever["aus"] is None or c in lever["aus"] for c in codes])
        t0 = time.perf_counter()
        w_geo, w_app, bias = fit(rows, app, weights, use_app, n_jobs=args.workers)
        fit_s = time.perf_counter() - t0
        geo_head = symmetrise(GeometryHead(w_geo.astype(np.float32), bias.astype(np.float32)), perm)
        head = GeometryHead(geo_head.weights, geo_head.bias, np.eye(len(codes), dtype=np.float32))
        app_path = export_extractor(
            size, args.cache / "models" / f"{name}_appearance.onnx", (w_app, np.zeros(len(codes)))
        )
        meta = base_meta.__class__(
            au_codes=codes,
            thresholds=(0.5,) * len(codes),
            encoder="geometry-linear+imagenet-appearance",
            backbone="mobilenetv2_100 (ImageNet, TFLite, frozen)",
            input_size=size,
            color_order="RGB",
            input_layout="NHWC",
            input_dtype="uint8",
            training={"lever": name, **{k: str(v) for k, v in lever.items()}},
        )
        model = build_geometry_model(head, meta, load_model_proto(app_path))
        path = save_model_proto(model, args.cache / "models" / f"{name}.onnx")
        fh = geo_held["found"].astype(bool)
        logits = geo_held["landmarks"][fh].reshape(int(fh.sum()), -1) @ geo_head.weights + geo_head.bias
        logits = logits + held[f"f{size}"][fh, 0].astype(np.float64) @ w_app
        probs = np.zeros((len(fh), len(codes)))
        probs[fh] = 1 / (1 + np.exp(-logits))
        auc = roc_auc(probs, geo_held["labels"].astype(int))
        summary[name] = {
            "fit_s": round(fit_s, 1),
            "rows": len(rows),
            "synthau_heldout_auc": float(np.nanmean(auc)),
        }
        log.info("%s: fit %.0f s, SynthAU held-out mean AUC %.3f -> %s", name, fit_s, np.nanmean(auc), path)
    (args.cache / "levers.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
