"""Issue 15 lever R13: an ImageNet-started MobileNetV2 FINE-TUNED on SynthAU with strong appearance randomisation, fused with R7 for the texture AUs.

The last lever of ``bench/EXP_REALFACES.md``'s list ("appearance that crosses the domain"):
frozen ImageNet features with a SynthAU-fitted head (R10/R11) and the SynthAU-trained CNN (R3)
both hurt real faces. Here the network itself is trained, from Google's ImageNet weights, on
SynthAU renders whose appearance is randomised hard, and it enters the model only for AU04,
AU10 and AU14 (texture AUs where geometry is weakest), with a fusion weight NOT fitted on
SynthAU (R3 shows what a SynthAU-fitted fusion does).

ckplus_dev is EVALUATION ONLY: nothing here trains on it or chooses anything on it.

Settings, fixed BEFORE any of them was scored on anything (2026-12-02, fourteenth session)
-----------------------------------------------------------------------------------------
Crops: the runtime's own path (FaceMesh still-image mode with the retry, most confident face,
``aunce_rt.align.aligned_input(..., "mediapipe", input_size=112)``, uint8 RGB) on SynthAU
``split="train"`` seed 0 samples 0..3999 (training) and ``split="test"`` seed 0 samples
0..999 (held-out, a sanity check), and on the CC BY real faces (unlabelled here: only for the
fusion scale below). Network: ``timm mobilenetv2_100`` (pad "same") with the weights of
``../shared/models/imagenet/mobilenet_v2_1.0_224_quant.tflite`` read by
``aunce_rt.models.read_tflite_mobilenetv2``, classifier replaced by Linear(1280, 12); input
turned to grey in the graph (0.299 R + 0.587 G + 0.114 B, 3 channels), ``x / 127.5 - 1``.
Training: every layer (BatchNorm layers in inference mode, keeping the converted network's
statistics: added after the first attempt, before anything was scored, because in training mode
the batch statistics collapsed the converted network's features to ~1e-4 and the loss did not
move over two epochs), 8 epochs, batch 64, AdamW lr 1e-4 (5e-4 in the first wording: with it
the network collapsed to constant outputs within 20 steps, with or without the randomisation,
while 1e-4 learned; checked on the training loss only, 40 steps, before anything was scored), weight decay 1e-4, cosine decay,
seed 0, loss BCE with per-AU pos_weight = negatives / positives (WCE). Appearance
randomisation per sample (torch, on the uint8 crop): random resized crop (scale 0.80-1.00,
ratio 0.9-1.1, back to 112), horizontal flip p 0.5 (labels kept: SynthAU AUs are bilateral),
brightness x U(0.5, 1.5), contrast x U(0.5, 1.5), gamma U(0.6, 1.6), Gaussian blur p 0.5
(sigma U(0.3, 1.5)), Gaussian noise p 0.5 (sd U(0, 0.06) of the range), JPEG-like 8x8 block
averaging p 0.2, random erasing p 0.3 (area 0.02-0.15).
R13a = that CNN alone (image-only graph, thresholds 0.5): scored for the table, never ships.
R13  = R7 (the calibrated geometry head of ``runs/real-faces``, identical per AU to the bundled
       default) with the logits of AU04, AU10 and AU14 replaced by
       0.5 * z_R7 + 0.5 * s_k * z_CNN, s_k = sd(z_R7) / sd(z_CNN) over the CC BY real faces
       (no labels used: it only puts the two on one scale). Other AUs and every threshold: R7's.
Shipping rule: R13 replaces R7 as the bundled default only if its ckplus_dev mean AUC is
>= R7's 0.841 + 0.006 (2 seed sd) AND none of AU04/AU10/AU14 falls AND the full pipeline
still runs >= 100 frames/s in ``bench/bench_runtime.py``.

    .venv/bin/python bench/exp_imagenet_ft.py --cache runs/imagenet_ft --geometry runs/real-faces
    .venv/bin/python bench/bench_ckplus.py --no-teacher --model R13a=runs/imagenet_ft/R13a.onnx \\
        --model R13=runs/imagenet_ft/R13.onnx
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
SIZE = 112
CHUNK = 250
TEXTURE_AUS = (4, 10, 14)

log = logging.getLogger("exp_imagenet_ft")


def _crop_tools():
    from aunce_rt.landmarks._facemesh import FaceMeshBackend

    backend = FaceMeshBackend(static=True, max_faces=4, retry=True)

    def crop(image_bgr: np.ndarray) -> tuple[bool, np.ndarray]:
        from aunce_rt.align import aligned_input
        from aunce_rt.landmarks import most_confident_face

        face = most_confident_face(backend, image_bgr)
        if face is None:
            return False, np.zeros((SIZE, SIZE, 3), np.uint8)
        rgb = np.ascontiguousarray(image_bgr[:, :, ::-1])
        return True, aligned_input(rgb, face.points, "mediapipe", input_size=SIZE)

    return backend, crop


def _synth_chunk(job: tuple[int, str, list[int], str]) -> str:
    """Render one chunk of SynthAU samples and keep the runtime's aligned crop of each (labels: the geometry cache)."""
    from aunce_rt.synthau import SynthAU

    seed, split, indices, out = job
    gen = SynthAU(seed=seed, split=split)
    backend, crop = _crop_tools()
    order = gen.render_order(indices)
    found, crops = [], []
    for i in order:
        ok, c = crop(gen.render_sample(i).image)
        found.append(ok)
        crops.append(c)
    backend.close()
    tmp = Path(out + ".part.npz")
    np.savez_compressed(tmp, index=np.array(order), found=np.array(found), crops=np.stack(crops))
    tmp.rename(out)
    return out


def synth_crops(cache: Path, seed: int, split: str, n: int, workers: int) -> dict[str, np.ndarray]:
    from aunce_rt.pipelines._geometry_data import _pool_map

    jobs, paths = [], []
    for start in range(0, n, CHUNK):
        path = cache / f"crops_{split}_s{seed}_{start:06d}_{min(start + CHUNK, n):06d}.npz"
        paths.append(path)
        if not path.is_file():
            jobs.append((seed, split, list(range(start, min(start + CHUNK, n))), str(path)))
    if jobs:
        t0 = time.perf_counter()
        _pool_map(_synth_chunk, jobs, workers)
        log.info("SynthAU %s crops: %d chunks in %.0f s", split, len(jobs), time.perf_counter() - t0)
    parts = [dict(np.load(p)) for p in paths]
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.argsort(out["index"])
    return {k: v[order] for k, v in out.items()}


def real_crops(cache: Path) -> dict[str, np.ndarray]:
    from aunce_rt.pipelines._geometry_data import RealSource

    path = cache / "crops_real.npz"
    if path.is_file():
        return dict(np.load(path))
    backend, crop = _crop_tools()
    names, found, crops = [], [], []
    for name, image in RealSource.from_folders(FACES, VIDEOS).frames():
        ok, c = crop(image)
        names.append(name)
        found.append(ok)
        crops.append(c)
    backend.close()
    out = {"names": np.array(names), "found": np.array(found), "crops": np.stack(crops)}
    np.savez_compressed(path, **out)
    return out


def _network():
    import timm
    import torch

    from aunce_rt.models._tflite import read_tflite_mobilenetv2

    net = timm.create_model("mobilenetv2_100", pad_type="same", num_classes=1000)
    net.load_state_dict(read_tflite_mobilenetv2(TFLITE))
    net.reset_classifier(12)
    torch.nn.init.zeros_(net.get_classifier().bias)
    return net


class Randomised:
    """The appearance randomisation of the docstring, one uint8 (S, S, 3) RGB crop -> (3, S, S) in [-1, 1]."""

    def __init__(self, crops: np.ndarray, seed: int) -> None:
        import torch
        from torchvision.transforms import v2

        self.crops = crops
        self.gen = torch.Generator().manual_seed(seed)
        self.rrc = v2.RandomResizedCrop(SIZE, scale=(0.8, 1.0), ratio=(0.9, 1.1), antialias=True)
        self.erase = v2.RandomErasing(p=0.3, scale=(0.02, 0.15), value=0.5)
        self.luma = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)

    def _u(self, lo: float, hi: float) -> float:
        import torch

        return float(lo + (hi - lo) * torch.rand(1, generator=self.gen))

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, i: int):
        import torch
        import torch.nn.functional as F
        from torchvision.transforms.v2 import functional as TF

        x = self.rrc(torch.from_numpy(self.crops[i]).permute(2, 0, 1))
        if self._u(0, 1) < 0.5:
            x = x.flip(-1)
        g = (x.float() / 255 * self.luma).sum(0, keepdim=True)
        g = (g * self._u(0.5, 1.5)).clamp(0, 1)
        m = g.mean()
        g = ((g - m) * self._u(0.5, 1.5) + m).clamp(0, 1)
        g = g.clamp_min(1e-6) ** self._u(0.6, 1.6)
        if self._u(0, 1) < 0.5:
            g = TF.gaussian_blur(g, kernel_size=7, sigma=self._u(0.3, 1.5))
        if self._u(0, 1) < 0.5:
            g = g + torch.randn(g.shape, generator=self.gen) * self._u(0, 0.06)
        if self._u(0, 1) < 0.2:
            g = F.interpolate(F.avg_pool2d(g[None], 8), size=g.shape[-2:], mode="nearest")[0]
        g = self.erase(g.clamp(0, 1))
        return g.expand(3, -1, -1) * 2 - 1


def fine_tune(crops: np.ndarray, labels: np.ndarray, epochs: int = 8, seed: int = 0):
    import torch

    torch.manual_seed(seed)
    net = _network()
    data = Randomised(crops, seed)
    y = torch.from_numpy(labels.astype(np.float32))
    pos = y.sum(0).clamp_min(1)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=(len(y) - pos) / pos)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, weight_decay=1e-4)
    batch = 64
    steps = epochs * -(-len(y) // batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        net.train()
        for m in net.modules():  # the converted ImageNet statistics stay (see the docstring)
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()
        t0, total = time.perf_counter(), 0.0
        order = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), batch):
            idx = order[i : i + batch]
            x = torch.stack([data[int(j)] for j in idx])
            loss = loss_fn(net(x), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        log.info(
            "epoch %d/%d: loss %.4f (%.0f s)", epoch + 1, epochs, total / len(y), time.perf_counter() - t0
        )
    return net.eval()


def deployed(net):
    """uint8 (N, S, S, 3) RGB -> grey -> ``net`` -> sigmoid: the module exported as the graph the runtime feeds."""
    import torch

    class Deployed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net
            self.register_buffer("luma", torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1))

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            x = images.permute(0, 3, 1, 2).float()
            grey = (x * self.luma).sum(1, keepdim=True).expand(-1, 3, -1, -1)
            return torch.sigmoid(self.net(grey / 127.5 - 1.0))

    return Deployed().eval()


def cnn_logits(module, crops: np.ndarray, batch: int = 128) -> np.ndarray:
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(crops), batch):
            p = module(torch.from_numpy(crops[i : i + batch])).double().numpy()
            out.append(np.log(np.clip(p, 1e-4, 1 - 1e-4) / (1 - np.clip(p, 1e-4, 1 - 1e-4))))
    return np.concatenate(out) if out else np.zeros((0, 12))


def export(module, path: Path) -> Path:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        module,
        torch.zeros(1, SIZE, SIZE, 3, dtype=torch.uint8),
        str(path),
        input_names=["images"],
        output_names=["probs"],
        dynamic_axes={"images": {0: "N"}, "probs": {0: "N"}},
        opset_version=17,
        dynamo=False,
    )
    return path


def main() -> int:
    import torch
    from onnx import numpy_helper

    from aunce_rt.aus import BENCHMARK_AUS
    from aunce_rt.evaluation.metrics import roc_auc
    from aunce_rt.export._geometry_head import GeometryHead, build_geometry_model
    from aunce_rt.export._graph import (
        check_model,
        load_model_proto,
        read_metadata,
        save_model_proto,
        set_metadata,
    )
    from aunce_rt.pipelines._geometry_data import RealSource, real_features, synth_features

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument(
        "--geometry", type=Path, default=Path("runs/real-faces"), help="the R7 recipe's run folder"
    )
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=8)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(2)
    codes = BENCHMARK_AUS["bp4d"]
    args.cache.mkdir(parents=True, exist_ok=True)
    gcache = args.geometry / "cache"
    geo_real = real_features(
        gcache,
        RealSource.from_folders(FACES, VIDEOS, 1),
        teacher_task=SHARED / "models" / "face_landmarker.task",
        appearance_model=None,
        name="real_stride1",
    )
    geo_synth = synth_features(gcache, seed=0, split="train", n=4000, appearance_model=None)
    geo_held = synth_features(gcache, seed=0, split="test", n=1000, appearance_model=None)
    real = real_crops(args.cache)
    synth = synth_crops(args.cache, 0, "train", 4000, args.workers)
    held = synth_crops(args.cache, 0, "test", 1000, args.workers)
    for c, g, what in ((real, geo_real, "real"), (synth, geo_synth, "synth"), (held, geo_held, "held")):
        log.info(
            "%s: face found agrees with the geometry cache on %.4f", what, np.mean(c["found"] == g["found"])
        )
    fs = synth["found"].astype(bool) & geo_synth["found"].astype(bool)

    net_path = args.cache / "cnn.pt"
    if net_path.is_file():
        net = _network()
        net.load_state_dict(torch.load(net_path))
        net.eval()
    else:
        t0 = time.perf_counter()
        net = fine_tune(synth["crops"][fs], geo_synth["labels"][fs], epochs=args.epochs)
        torch.save(net.state_dict(), net_path)
        log.info("fine-tuned in %.0f s", time.perf_counter() - t0)
    module = deployed(net)

    fh = held["found"].astype(bool)
    z_held = np.zeros((len(fh), len(codes)))
    z_held[fh] = cnn_logits(module, held["crops"][fh])
    auc_held = roc_auc(1 / (1 + np.exp(-z_held)) * fh[:, None], geo_held["labels"].astype(int))
    log.info("CNN on SynthAU held-out: mean AUC %.3f %s", np.nanmean(auc_held), np.round(auc_held, 3))

    r7_path = args.geometry / "real-faces.onnx"
    r7 = load_model_proto(r7_path)
    r7_meta = read_metadata(r7)
    inits = {t.name: numpy_helper.to_array(t) for t in r7.graph.initializer}
    w, b = inits["geo_weights"].astype(np.float64), inits["geo_bias"].astype(np.float64)
    both = real["found"].astype(bool) & geo_real["found"].astype(bool)
    z_r7 = geo_real["landmarks"][both].reshape(int(both.sum()), -1) @ w + b
    z_cnn = cnn_logits(module, real["crops"][both])
    tex = np.array([c in TEXTURE_AUS for c in codes])
    s = z_r7.std(0) / np.maximum(z_cnn.std(0), 1e-9)
    log.info(
        "fusion scale s_k on %d real faces: %s",
        int(both.sum()),
        dict(zip(np.array(codes)[tex], s[tex], strict=True)),
    )

    cnn_path = export(module, args.cache / "cnn_probs.onnx")
    image_fields = dict(
        input_size=SIZE,
        color_order="RGB",
        input_layout="NHWC",
        input_dtype="uint8",
        backbone="mobilenetv2_100 (ImageNet, TFLite) fine-tuned on SynthAU",
    )
    alone = load_model_proto(cnn_path)
    set_metadata(
        alone,
        r7_meta.__class__(
            au_codes=codes,
            thresholds=(0.5,) * len(codes),
            encoder="imagenet-mobilenetv2-ft",
            training={"lever": "R13a", "epochs": args.epochs},
            **image_fields,
        ),
    )
    check_model(alone)
    save_model_proto(alone, args.cache / "R13a.onnx")

    col = np.where(tex, 0.5, 1.0)
    head = GeometryHead(
        weights=(w * col).astype(np.float32),
        bias=(b * col).astype(np.float32),
        appearance_weights=np.diag(np.where(tex, 0.5 * s, 0.0)).astype(np.float32),
    )
    meta = r7_meta.__class__(
        au_codes=codes,
        thresholds=r7_meta.thresholds,
        encoder="geometry-linear+imagenet-ft-appearance",
        training={
            "lever": "R13",
            "fusion_scale": {int(c): float(v) for c, v in zip(codes, s, strict=True) if c in TEXTURE_AUS},
        },
        **image_fields,
    )
    fused = save_model_proto(
        build_geometry_model(head, meta, load_model_proto(cnn_path)), args.cache / "R13.onnx"
    )
    summary = {
        "cnn_synthau_heldout_auc": {f"AU{c:02d}": float(a) for c, a in zip(codes, auc_held, strict=True)},
        "cnn_synthau_heldout_mean_auc": float(np.nanmean(auc_held)),
        "fusion_scale": {f"AU{c:02d}": float(v) for c, v in zip(codes, s, strict=True) if c in TEXTURE_AUS},
        "models": [str(args.cache / "R13a.onnx"), str(fused)],
    }
    (args.cache / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
