"""`aunce-rt adapt VIDEOS... --model model.pt --out adapted.onnx`: a CLP model adapted to your own footage."""

from __future__ import annotations

from pathlib import Path

import typer

from aunce_rt.cli._console import err_console, out_console
from aunce_rt.errors import InputError

app = typer.Typer()  # joined to the root in aunce_rt.cli.main


@app.command("adapt")
def adapt_command(
    videos: list[Path] = typer.Argument(..., help="Face videos, or folders searched recursively for them."),
    model: Path = typer.Option(
        ..., "--model", "-m", dir_okay=False, help="A CLP model checkpoint (model.pt of a `method: clp` run)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="The adapted ONNX model to write."),
    work: Path | None = typer.Option(
        None,
        "--work",
        help="Work folder: track cache, checkpoint, model.pt (default: <out>_adapt/); resumable.",
    ),
    epochs: int = typer.Option(2, "--epochs", min=1, help="Epochs of CLP training over the clips."),
    lr: float | None = typer.Option(None, "--lr", min=0.0, help="Learning rate (default: the model's / 10)."),
    batch_size: int | None = typer.Option(
        None, "--batch-size", min=1, help="Clips per step (default: the model's)."
    ),
    fps: float | None = typer.Option(None, "--fps", min=0.1, help="Track frame rate (default: the model's)."),
    seed: int = typer.Option(0, "--seed", help="Clip sampling, augmentation and eval-clip seed."),
    evaluate: str | None = typer.Option(
        None,
        "--eval",
        help="Score before and after on labelled data: an image folder / labels CSV, or 'synthau' "
        "(a rendered clip of unseen SynthAU people).",
    ),
    eval_people: int = typer.Option(3, "--eval-people", min=1, help="People in the --eval synthau clip."),
    eval_frames: int = typer.Option(120, "--eval-frames", min=1, help="Frames per person of that clip."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out."),
) -> None:
    """Continue CLP's self-supervised training of MODEL's encoder on VIDEOS (unlabelled), keep its
    probe, export the result; with --eval, print F1 and AUC before and after.

    CLP as reconstructed here (spec/CLP.md). Only CLP models can be adapted; the bundled
    default reads landmark geometry and has no image encoder.
    """
    from aunce_rt.cli._progress import epoch_progress
    from aunce_rt.export import export_onnx
    from aunce_rt.training.adapt import adapt_model, read_clp_model

    if out.suffix.lower() != ".onnx":
        raise InputError(f"--out {out}: expected an .onnx file name")
    if out.exists() and not overwrite:
        raise InputError(f"{out} already exists; pass --overwrite or another --out")
    if not out.parent.is_dir():
        raise InputError(f"the folder of --out {out} does not exist; create it first")
    read_clp_model(model)  # refuse a non-CLP model before any video is read
    work = work or out.with_name(f"{out.stem}_adapt")
    with epoch_progress() as callbacks:
        result = adapt_model(
            model, videos, work, epochs=epochs, lr=lr, batch_size=batch_size, fps=fps, seed=seed,
            callbacks=callbacks,
        )  # fmt: skip
    export_onnx(result.model, out)  # its metadata records the base model and the adaptation
    err_console.print(
        f"adapted on {result.tracks} face tracks of {result.identities} identities ({result.clips} clips, "
        f"{result.epochs} epochs, {result.seconds:.0f} s): wrote [bold]{out}[/] (checkpoint {result.model})"
    )
    if evaluate is None:
        return
    from aunce_rt.evaluation.compare import format_comparison, score_models

    before = work / "base.onnx"
    export_onnx(model, before)
    reports = score_models(
        {"before": before, "after": out},
        evaluate,
        work=work / "eval",
        people=eval_people,
        frames_per_person=eval_frames,
        seed=seed,
    )
    out_console.print(format_comparison(reports), highlight=False)
