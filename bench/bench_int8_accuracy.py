"""Does int8 keep a TRAINED heavy encoder's accuracy? F1 on SynthAU: fp32 vs int8 static vs dynamic.

``bench/bench_export.py`` times random-weight graphs: speed does not depend on the
weights, accuracy does. This benchmark trains a heavy encoder (ResNet-50 by default)
on SynthAU on this CPU: the supervised warm-up of the bare backbone, then WCE end to
end on the encoder + per-AU probe (``bench_synthau_train`` row (b)). It exports the
model to ONNX and quantises it both ways (static QDQ calibrated on training crops;
dynamic int8 MatMul/Gemm), then scores every variant on unseen test identities:

- F1-macro at threshold 0.5, and its change from fp32 (the target: within 1 point);
- max |p_int8 - p_fp32| and the fraction of (face, AU) decisions that agree;
- ms per face at batch 8 (2 threads) at the model's input size.

The first row, PyTorch eager, checks the fp32 export (same F1 up to rounding).
Swin-class encoders need 224 px inputs: training one is out of reach on a 2-core
CPU, so the attention/dynamic case is covered by ``bench_export`` speed and the
export's agreement checks only.

    python bench/bench_int8_accuracy.py           # ResNet-50, ~14 min on 2 free cores
    python bench/bench_int8_accuracy.py --quick   # smoke run (~2 min)
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_synthau_train import encoder, end_to_end_f1, render, train  # noqa: E402

from aunce_rt.aus import BENCHMARK_AUS  # noqa: E402
from aunce_rt.evaluation.metrics import au_metrics  # noqa: E402
from aunce_rt.export import export_onnx, ms_per_face, quantize_int8  # noqa: E402
from aunce_rt.export._verify import run_probs, session  # noqa: E402
from aunce_rt.models import save_model  # noqa: E402

log = logging.getLogger("bench_int8_accuracy")


def input_crops(crops: list[np.ndarray], size: int) -> np.ndarray:
    """Stored BGR side-px crops -> the graph's input: centre ``size`` crop, RGB uint8 (N, size, size, 3)."""
    side = crops[0].shape[0]
    o = (side - size) // 2
    return np.stack([c[o : o + size, o : o + size, ::-1] for c in crops])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: few images, few steps")
    ap.add_argument("--backbone", default="resnet50")
    ap.add_argument("--node-dim", type=int, default=128)
    ap.add_argument("--input", type=int, default=56, help="network input side (crop from input*256/224)")
    ap.add_argument("--augment", default="light", choices=("light", "simclr"))
    ap.add_argument("--train", type=int, default=3000, help="training frames")
    ap.add_argument("--test", type=int, default=1000, help="test frames (unseen identities)")
    ap.add_argument("--steps-warmup", type=int, default=1500, help="warm-up steps (WCE on pooled tokens)")
    ap.add_argument("--steps", type=int, default=300, help="WCE end-to-end steps (encoder + probe)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--calib", type=int, default=256, help="static int8 calibration crops (training set)")
    ap.add_argument(
        "--reps", type=int, default=20, help="timed runs per model per round (5 rounds, in turns)"
    )
    ap.add_argument("--seed", type=int, default=3407)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "int8_accuracy.md")
    args = ap.parse_args(argv)
    if args.quick:
        args.backbone, args.train, args.test = "resnet18", 320, 160
        args.steps_warmup, args.steps, args.calib, args.reps = 20, 10, 32, 3
    args.lr_warmup, args.wd_warmup, args.lr, args.wd = 1e-3, 1e-4, 1e-3, 1e-6
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    side = round(args.input * 256 / 224)

    train_set, _ = render("train", args.train, args.seed, 0.0, side)
    test, _ = render("test", args.test, args.seed + 1, 0.0, side)
    log.info("rendered %d train / %d test crops", len(train_set), len(test))

    t = time.perf_counter()
    enc = encoder(args)
    res = train(
        enc, train_set, args.steps_warmup, args, loss="wce", head="pooled", lr=1e-3, weight_decay=1e-4
    )
    res = train(
        res.encoder, train_set, args.steps, args, loss="wce", head="probe", lr=1e-3, weight_decay=1e-6
    )
    train_secs = time.perf_counter() - t
    model = res.model
    eager_f1 = end_to_end_f1(model, test, args)
    log.info("trained %s in %.0f s: eager test F1 %.3f", args.backbone, train_secs, eager_f1)

    labels = test.labels
    x_test = input_crops(test.images, args.input)
    x_calib = input_crops(train_set.images[: args.calib], args.input)
    rows = []
    with tempfile.TemporaryDirectory(prefix="aunce-int8acc-") as tmp:
        ckpt = save_model(Path(tmp) / "m.pt", model.eval(), au_codes=BENCHMARK_AUS["synthau"])
        fp32 = export_onnx(ckpt, Path(tmp) / "fp32.onnx", metadata_extra={"input_size": args.input}).path
        static = quantize_int8(fp32, Path(tmp) / "static.onnx", x_calib)
        dynamic = quantize_int8(fp32, Path(tmp) / "dynamic.onnx", scheme="dynamic")
        variants = (("ORT fp32", fp32), ("ORT int8 static", static), ("ORT int8 dynamic", dynamic))
        speeds = ms_per_face([path for _, path in variants], args.input, batch=8, repeats=args.reps)
        p32 = run_probs(session(fp32), x_test)
        for (name, path), ms in zip(variants, speeds, strict=True):
            p = p32 if path == fp32 else run_probs(session(path), x_test)
            f1 = float(au_metrics(p, labels).f1_macro)
            agree = float(np.mean((p >= 0.5) == (p32 >= 0.5)))
            rows.append((name, f1, float(np.abs(p - p32).max()), agree, ms))

    f32 = rows[0][1]
    always = float(au_metrics(np.ones(labels.shape), labels).f1_macro)
    lines = [
        f"### int8 accuracy of a trained {args.backbone} encoder (SynthAU, unseen identities)",
        "",
        f"- trained on this CPU from random init: {len(train_set)} frames, warm-up {args.steps_warmup} steps"
        f" + WCE end to end {args.steps} steps, batch {args.batch}, input {args.input} px ({train_secs:.0f} s);"
        f" test {len(test)} frames of {len(set(test.subjects))} unseen identities; F1 at threshold 0.5",
        f"- static int8: QDQ, uint8 activations, calibrated on {len(x_calib)} training crops;"
        " dynamic int8: int8 MatMul/Gemm weights",
        f"- reference: predicting every AU present scores {100 * always:.1f}% (a model below it has not learned)",
        f"- total wall time {(time.perf_counter() - start) / 60:.1f} min",
        "",
        "| variant | test F1-macro (%) | change vs fp32 (points) | max abs prob diff vs fp32 |"
        " decisions agreeing with fp32 | ms/face (batch 8) |",
        "|---|---:|---:|---:|---:|---:|",
        f"| PyTorch eager | {100 * eager_f1:.1f} | {100 * (eager_f1 - f32):+.1f} | — | — | — |",
    ]
    for name, f1, diff, agree, ms in rows:
        lines.append(
            f"| {name} | {100 * f1:.1f} | {100 * (f1 - f32):+.1f} | {diff:.3f} | {100 * agree:.1f}% | {ms:.2f} |"
        )
    table = "\n".join(lines)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
