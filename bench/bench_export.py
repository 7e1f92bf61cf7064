"""Speed of the exported graphs on this CPU: PyTorch eager vs ONNX Runtime fp32 vs int8.

For each backbone (random weights: speed does not depend on them) it exports fp32,
static int8 (QDQ calibrated on noise crops: fine for timing, not for accuracy) and
dynamic int8 (int8 MatMul/Gemm weights), then times ms per face at batch 1 and 8
with 2 threads for torch and ORT, and prints the ratios and which variant is
fastest (``export --int8`` keeps the faster int8 scheme on the machine it runs
on). Run on an otherwise idle machine:

    python bench/bench_export.py            # light backbones, resnet50, swin_base
    python bench/bench_export.py --quick    # light backbones, few repetitions
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout: the repo's packages

import numpy as np
import onnxruntime as ort
import torch
from rich.console import Console
from rich.table import Table

from aunce_rt.aus import BENCHMARK_AUS
from aunce_rt.export import export_onnx, quantize_int8, random_crops
from aunce_rt.export._wrapper import ExportWrapper
from aunce_rt.models import AUModel, AUProbe, create_encoder, save_model

LIGHT = ("mobilenetv3_large_100", "efficientnet_b0")
FULL = (*LIGHT, "resnet50", "swin_base_patch4_window7_224")
THREADS = 2
console = Console(width=170)


def _time(fn: Callable[[], object], reps: int, warmup: int = 2) -> float:
    """Median seconds of ``fn`` over ``reps`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def bench_backbone(name: str, work: Path, reps: int, calib: int) -> dict[str, float]:
    """ms per face for eager/fp32/int8 static/int8 dynamic at batch 1 and 8."""
    encoder = create_encoder(name, 12)
    model = AUModel(encoder, AUProbe(12, encoder.node_dim)).eval()
    ckpt = save_model(work / f"{name}.pt", model, au_codes=BENCHMARK_AUS["bp4d"])
    fp32 = export_onnx(ckpt, work / f"{name}_fp32.onnx", verify=False).path
    int8 = quantize_int8(fp32, work / f"{name}_int8.onnx", random_crops(calib, seed=1))
    dyn8 = quantize_int8(fp32, work / f"{name}_dyn8.onnx", scheme="dynamic")
    wrapper = ExportWrapper(model).eval()
    sessions = {"fp32": _session(fp32), "int8": _session(int8), "dyn8": _session(dyn8)}
    out: dict[str, float] = {}
    for batch in (1, 8):
        crops = random_crops(batch, seed=batch)
        tensor = torch.from_numpy(crops)
        with torch.inference_mode():
            out[f"eager_b{batch}"] = 1e3 * _time(lambda t=tensor: wrapper(t), reps) / batch
        for key, sess in sessions.items():
            out[f"{key}_b{batch}"] = (
                1e3 * _time(lambda s=sess, c=crops: s.run(None, {"images": c}), reps) / batch
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="light backbones only, few repetitions")
    parser.add_argument("--backbones", nargs="*", help="override the backbone list")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(THREADS)
    backbones = args.backbones or (LIGHT if args.quick else FULL)
    reps, calib = (3, 8) if args.quick else (20, 32)
    table = Table(title=f"ms per face on this CPU ({THREADS} threads; median of {reps})")
    cols = (
        "backbone",
        "batch",
        "eager",
        "ORT fp32",
        "int8 static",
        "int8 dynamic",
        "fp32/eager",
        "static/fp32",
        "dynamic/fp32",
        "fastest",
    )
    for col in cols:
        table.add_column(col, justify="left" if col in ("backbone", "fastest") else "right")
    with tempfile.TemporaryDirectory(prefix="aunce-bench-") as tmp:
        for name in backbones:
            console.print(f"[dim]benchmarking {name}...[/]")
            r = bench_backbone(name, Path(tmp), reps, calib)
            for batch in (1, 8):
                e, f = r[f"eager_b{batch}"], r[f"fp32_b{batch}"]
                q, d = r[f"int8_b{batch}"], r[f"dyn8_b{batch}"]
                variants = (("eager", e), ("ORT fp32", f), ("int8 static", q), ("int8 dynamic", d))
                table.add_row(
                    name,
                    str(batch),
                    f"{e:.1f}",
                    f"{f:.1f}",
                    f"{q:.1f}",
                    f"{d:.1f}",
                    f"{f / e:.2f}",
                    f"{q / f:.2f}",
                    f"{d / f:.2f}",
                    min(variants, key=lambda kv: kv[1])[0],
                )
    console.print(table)
    console.print(
        "ratios < 1 mean the second is faster; the runtime and default model use the faster ORT variant."
    )


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
