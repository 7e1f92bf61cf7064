"""`aunce-rt export`: a trained checkpoint -> one self-describing ONNX model (+ fp16/int8, TensorRT)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from aunce_rt.errors import InputError

app = typer.Typer()  # joined to the root in aunce_rt.cli.main
console = Console(stderr=True)


class Int8Scheme(str, Enum):
    """How an int8 graph is quantised (``aunce_rt.export``)."""

    auto = "auto"
    static = "static"
    dynamic = "dynamic"


@app.command("export")
def export_command(
    checkpoint: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="Checkpoint (.pt from training) or, with --from-megraph, a ME-GraphAU .pth.",
    ),
    out: Path = typer.Option(
        Path("model.onnx"), "--out", "-o", help="ONNX file to write (its folder must exist)."
    ),
    fp16: bool = typer.Option(False, "--fp16", help="float16 graph (uint8 in, float32 out); for GPUs."),
    int8: bool = typer.Option(
        False, "--int8", help="int8 graph (static: calibrated on --calib or SynthAU; see --int8-scheme)."
    ),
    int8_scheme: Int8Scheme = typer.Option(
        Int8Scheme.auto,
        "--int8-scheme",
        help="static (calibrated QDQ), dynamic (int8 MatMul/Gemm weights, no calibration) or "
        "auto (build both, keep the faster on this machine; --tensorrt: static).",
    ),
    calib: Path | None = typer.Option(
        None, "--calib", help="Folder of aligned face crops for int8 calibration."
    ),
    features: bool = typer.Option(False, "--features", help="Add the per-AU 'features' (N, K, C) output."),
    tensorrt: bool = typer.Option(
        False, "--tensorrt", help="Also build a TensorRT engine (needs tensorrt + GPU)."
    ),
    labelled: Path | None = typer.Option(
        None, "--labelled", help="Folder with images.txt + labels.txt: report F1 of fp32 and the variant."
    ),
    real_crops: Path | None = typer.Option(
        None, "--real-crops", help="Folder of aligned crops to verify on."
    ),
    from_megraph: str | None = typer.Option(
        None,
        "--from-megraph",
        metavar="BACKBONE",
        help="CHECKPOINT is a ME-GraphAU stage-1 .pth with this backbone.",
    ),
    benchmark: str | None = typer.Option(
        None, "--benchmark", help="AU list of a --from-megraph model (default: by AU count)."
    ),
    opset: int = typer.Option(17, "--opset", min=13, max=20, help="ONNX opset."),
    image_size: int | None = typer.Option(
        None,
        "--image-size",
        min=32,
        help="Side of the input crops (default: the size the checkpoint was trained at, else 224).",
    ),
    verify: bool = typer.Option(True, "--verify/--no-verify", help="Compare ONNX Runtime with PyTorch."),
) -> None:
    """Export CHECKPOINT to an ONNX graph from aligned uint8 face crops to per-AU probabilities."""
    if fp16 and int8:
        raise InputError("--fp16 and --int8 are exclusive; export one variant per file")
    if int8_scheme is not Int8Scheme.auto and not int8:
        raise InputError("--int8-scheme is only used with --int8; add --int8 or drop --int8-scheme")
    if calib is not None and not int8:
        raise InputError("--calib is only used with --int8; add --int8 or drop --calib")
    precision = "fp16" if fp16 else "int8" if int8 else "fp32"

    from aunce_rt.pipelines import export_and_evaluate  # imports torch when it runs

    source: object = checkpoint
    if from_megraph is not None:
        from aunce_rt.export import load_megraph_checkpoint

        source = load_megraph_checkpoint(checkpoint, from_megraph, benchmark=benchmark)
    with console.status(f"exporting {checkpoint.name} ({precision})..."):
        done = export_and_evaluate(
            source,
            out,
            labelled=labelled,
            precision=precision,
            calib_dir=calib,
            with_features=features,
            opset=opset,
            verify=verify,
            real_crops=real_crops,
            tensorrt=tensorrt,
            int8_scheme=int8_scheme.value,
            input_size=image_size,
        )
    _summary(done.export, done.f1_macro)


def _summary(result, f1_macro) -> None:  # type: ignore[no-untyped-def]  (ExportResult; torch-free signature)
    meta = result.metadata
    table = Table(title=f"exported {result.path}", show_header=True, header_style="bold")
    table.add_column("check")
    table.add_column("result")
    table.add_row(
        "model",
        f"{meta.backbone}, {meta.num_aus} AUs ({' '.join(meta.au_labels)}), {meta.precision}"
        + (f" ({result.int8_scheme})" if result.int8_scheme else ""),
    )
    table.add_row(
        "outputs", "probs (N, K)" + (f", features (N, K, {meta.node_dim})" if meta.has_features else "")
    )
    for agreement in result.parity:
        table.add_row("ORT fp32 vs PyTorch", str(agreement))
    for agreement in result.variant_agreement:
        table.add_row(f"{result.precision} vs fp32", str(agreement))
    for precision, f1 in f1_macro.items():
        table.add_row(f"F1-macro {precision}", f"{100 * f1:.1f}%")
    if result.engine_path is not None:
        table.add_row("TensorRT engine", str(result.engine_path))
    table.add_row("licence", meta.licence_note)
    console.print(table)
    typer.echo(f"next: aunce-rt detect video.mp4 --model {result.path} --out aus.csv")
