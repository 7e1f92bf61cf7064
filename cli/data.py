"""`aunce-rt data`: synthetic training data (SynthAU image sets and clips)."""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

data_app = typer.Typer(help="Generate synthetic AU data (SynthAU).", no_args_is_help=True)
console = Console(stderr=True)


class Split(str, Enum):
    train = "train"
    test = "test"


@data_app.command("synth")
def synth(
    out: Path = typer.Option(..., "--out", help="Output folder (created)."),
    n: int = typer.Option(5000, "--n", min=1, help="Number of samples."),
    seed: int = typer.Option(0, "--seed", help="Dataset seed (same seed -> same images)."),
    split: Split = typer.Option(Split.train, "--split", help="Identity split (disjoint people)."),
    noise: float = typer.Option(0.0, "--noise", min=0.0, max=1.0, help="Label flip rate for labels.txt."),
    frames: bool = typer.Option(False, "--frames", help="Also write full frames and landmarks (.npy)."),
    workers: int = typer.Option(0, "--workers", min=0, help="Processes (0 = number of CPU cores)."),
    rate_scale: float = typer.Option(1.0, "--rate-scale", min=0.01, help="Multiply BP4D's AU rates."),
    balanced: bool = typer.Option(False, "--balanced", help="Draw every AU with rate 0.5."),
) -> None:
    """Write aligned 256x256 SynthAU crops with their labels (images.txt / labels.txt / manifest.csv)."""
    from aunce_rt.synthau import write_dataset

    procs = workers or max(1, min(os.cpu_count() or 1, 8))
    columns = (TextColumn("[bold]synth"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("synth", total=n)
        root = write_dataset(
            out, n, seed, split.value, noise, frames=frames, workers=procs,
            progress=lambda k: bar.advance(task, k), rate_scale=rate_scale, balanced=balanced,
        )  # fmt: skip
    console.print(
        f"[green]wrote[/] {n} samples to {root} (images.txt, labels.txt, labels_clean.txt, manifest.csv)"
    )


@data_app.command("clip")
def clip(
    out: Path = typer.Option(..., "--out", help="Output video (.mp4)."),
    frames: int = typer.Option(150, "--frames", min=1, help="Number of frames."),
    seed: int = typer.Option(0, "--seed", help="Clip seed."),
    identity: int = typer.Option(
        1_000_000, "--identity", min=0, help="Identity id (test ids start at 1000000)."
    ),
    fps: float = typer.Option(30.0, "--fps", min=1.0, help="Frame rate."),
    width: int = typer.Option(640, "--width", min=64),
    height: int = typer.Option(480, "--height", min=64),
) -> None:
    """Write a clip of one person changing expression, plus <name>.truth.csv (per-frame AU truth)."""
    from aunce_rt.synthau import render_clip

    with console.status(f"rendering {frames} frames"):
        truth = render_clip(out, identity, frames, fps, seed, (width, height))
    console.print(f"[green]wrote[/] {truth.path} and {truth.truth_path}")
