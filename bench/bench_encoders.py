"""PyTorch eager CPU latency of the AU encoders (+ probe), per face, at 224 px.

Usage:
    .venv/bin/python bench/bench_encoders.py [--threads 2] [--repeats 10] [--backbones resnet50 ...]

Prints one row per backbone: parameters, node width, ms/face at batch 1 and at
batch 8 (median over repeats, after warm-up). Export's benchmark compares with ONNX.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from rich.console import Console
from rich.table import Table

from aunce_rt.models import AUModel, AUProbe, create_encoder

DEFAULT_BACKBONES = [
    "mobilenetv3_small_100",
    "mobilenetv3_large_100",
    "efficientnet_b0",
    "resnet18",
    "resnet50",
    "swin_base_patch4_window7_224",
]


def time_model(model: AUModel, batch: int, repeats: int, warmup: int) -> float:
    """Median milliseconds per face of ``model`` on a (batch, 3, 224, 224) input."""
    x = torch.randn(batch, 3, 224, 224)
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            start = time.perf_counter()
            model(x)
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1000.0 / batch)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=DEFAULT_BACKBONES)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--num-aus", type=int, default=12)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    table = Table(
        title=f"AU encoder + probe, PyTorch {torch.__version__} eager, CPU, {args.threads} threads, 224 px"
    )
    for column in ("backbone", "params (M)", "node dim", "ms/face b=1", "ms/face b=8"):
        table.add_column(column, justify="left" if column == "backbone" else "right")
    console = Console()
    for name in args.backbones:
        torch.manual_seed(0)
        encoder = create_encoder(name, args.num_aus)
        model = AUModel(encoder, AUProbe(encoder.num_aus, encoder.node_dim)).eval()
        params = sum(p.numel() for p in model.parameters()) / 1e6
        b1 = time_model(model, 1, args.repeats, args.warmup)
        b8 = time_model(model, 8, max(2, args.repeats // 2), 1)
        table.add_row(name, f"{params:.2f}", str(encoder.node_dim), f"{b1:.1f}", f"{b8:.1f}")
        console.log(f"{name}: {b1:.1f} ms/face (b=1), {b8:.1f} ms/face (b=8)")
    console.print(table)


if __name__ == "__main__":
    main()
