"""`aunce-rt eval images DIR`: score a model on a folder of labelled images."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from aunce_rt.cli._choices import ProviderChoice
from aunce_rt.cli._console import err_console, out_console

eval_app = typer.Typer(help="Score a model on labelled data.", no_args_is_help=True)


@eval_app.command("images")
def images(
    labels: Path = typer.Argument(
        ..., exists=True, help="A labels CSV (image column + AUxx 0/1 columns), or a folder with labels.csv."
    ),
    model: Path | None = typer.Option(
        None, "--model", "-m", help="ONNX model or a bundled name: default, synthau (default: default)."
    ),
    image_column: str = typer.Option("image", "--image-column", help="CSV column of image paths."),
    grey: bool = typer.Option(False, "--grey", help="Read the images as grey (then 3-channel)."),
    upscale: float = typer.Option(1.0, "--upscale", min=0.1, help="Resize factor (cubic) before detection."),
    border: float = typer.Option(
        0.0, "--border", min=0.0, max=2.0, help="Replicated border on each edge, as a fraction of the side."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Folder for eval_images.json and eval_images.png (not written if omitted)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing report files in --out."),
    landmarks: str = typer.Option("facemesh", "--landmarks", help="'facemesh' or a MediaPipe .task file."),
    providers: ProviderChoice = typer.Option(ProviderChoice.auto, "--providers", help="Execution providers."),
) -> None:
    """AUC, F1 at the model's thresholds, oracle F1, base rate and faces found, per AU.

    CK+-style aligned crops: --grey --upscale 4 --border 0.25 (tight crops need a border for the
    face detector).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from aunce_rt.detector import AUDetector
    from aunce_rt.errors import InputError
    from aunce_rt.evaluation.images import ImagePrep, evaluate_images, plot_image_eval, read_labelled_images

    files = None
    if out is not None:
        files = (out / "eval_images.json", out / "eval_images.png")
        existing = [str(f) for f in files if f.exists()]
        if existing and not overwrite:
            raise InputError(f"{', '.join(existing)} already exist; pass --overwrite or another --out")
    data = read_labelled_images(labels, image_column=image_column)
    detector = AUDetector(model, providers=providers.value, landmarks=landmarks, max_faces=4)
    columns = (TextColumn("images"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("images", total=len(data.paths))
        report = evaluate_images(
            detector,
            data,
            ImagePrep(grey=grey, upscale=upscale, border=border),
            on_image=lambda done, _total: progress.update(task, completed=done),
        )
    out_console.print(report.format_table(), highlight=False)
    if files is not None:
        out.mkdir(parents=True, exist_ok=True)
        summary = {"model": str(model or "bundled default"), **report.to_dict()}
        files[0].write_text(json.dumps(summary, indent=2) + "\n")
        plot_image_eval({Path(model).stem if model else "bundled": report}, files[1])
        err_console.print(f"wrote [bold]{files[0]}[/] and [bold]{files[1]}[/]")
