"""`aunce-rt demo`: detect AUs on a rendered clip of unseen SynthAU people and score it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from aunce_rt.cli._choices import ProviderChoice
from aunce_rt.cli._console import err_console

app = typer.Typer()  # joined to the root in aunce_rt.cli.main


@app.command("demo")
def demo(
    out: Path = typer.Option(Path("aunce_demo"), "--out", "-o", help="Folder for the outputs."),
    model: Path | None = typer.Option(
        None, "--model", help="ONNX model or a bundled name: default, synthau (default: default)."
    ),
    people: int = typer.Option(3, "--people", min=1, help="How many unseen people in the clip."),
    frames: int = typer.Option(120, "--frames", min=10, help="Frames per person."),
    seed: int = typer.Option(0, "--seed", help="Seed of the clip."),
    providers: ProviderChoice = typer.Option(ProviderChoice.auto, "--providers", help="Execution providers."),
) -> None:
    """Render a clip of unseen SynthAU people, detect AUs, write CSV/video/PNG and print F1 per AU."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from aunce_rt.detector import default_model_path
    from aunce_rt.evaluation.runtime_eval import evaluate_clip, make_dir, render_people_clip
    from aunce_rt.session import AUModelSession

    # Validate the inputs before spending seconds on rendering.
    session = AUModelSession(model if model is not None else default_model_path(), providers="cpu")
    make_dir(out)
    with err_console.status(f"rendering {people} unseen SynthAU people x {frames} frames ..."):
        clip = render_people_clip(out / "clip.mp4", people=people, frames_per_person=frames, seed=seed)
    total = len(clip.labels)
    with Progress(
        TextColumn("detecting"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} frames"),
        TimeRemainingColumn(),
        console=err_console,
    ) as bar:
        task = bar.add_task("detect", total=total)
        report = evaluate_clip(
            clip,
            out,
            model=model,
            providers=providers.value,
            on_frame=lambda n: bar.update(task, completed=n),
        )

    m = report.metrics
    console = Console()
    console.print(f1_table(m, clip.labels, clip.au_codes))
    from aunce_rt.evaluation.metrics import au_metrics

    trivial = au_metrics(np.ones_like(clip.labels, dtype=np.float32), clip.labels).f1_macro
    console.print(
        f"reference: predicting every AU present scores F1-macro {trivial:.3f} on this clip; "
        f"the model {'beats' if m.f1_macro > trivial + 0.02 else 'does NOT clearly beat'} it"
    )
    console.print(
        f"F1-micro {m.f1_micro:.3f} | face found in {report.detection_rate:.1%} of {report.frames} frames "
        f"| {report.fps:.0f} frames/s end to end (render excluded)"
    )
    console.print(f"model: {report.model}")
    if session.uses_landmarks and not session.uses_images:
        console.print(
            "note: this model reads landmark geometry and is made for REAL faces (its real-face figures: "
            "README model card); rendered SynthAU faces are its weak side. "
            "`aunce-rt demo --model synthau` runs the SynthAU-trained CNN, which knows rendered faces "
            "and not real ones."
        )
    for label, path in (
        ("clip", clip.video),
        ("CSV", report.csv),
        ("annotated video", report.video),
        ("plot", report.plot),
    ):
        if path is not None:
            console.print(f"{label:>16}: {path}")


def f1_table(m: Any, labels: np.ndarray, au_codes: Sequence[int]) -> Table:
    """F1 per AU against the truth, and F1-macro over all AUs and over the AUs the clip shows.

    An AU that never occurs in the clip has no F1 to speak of (0 by convention, as
    in the all-AU mean); the table says so instead of printing a bare 0.
    """
    from aunce_rt.aus import au_name

    table = Table(title="F1 per AU against the renderer's truth (threshold from the model)")
    for col in ("AU", "name", "F1", "accuracy", "true rate"):
        table.add_column(col, justify="right" if col != "name" else "left")
    present = np.asarray(m.support) > 0
    for j, code in enumerate(au_codes):
        table.add_row(
            f"AU{code:02d}",
            au_name(code),
            f"{m.f1[j]:.3f}" if present[j] else "0 (absent)",
            f"{m.accuracy[j]:.3f}",
            f"{labels[:, j].mean():.2f}",
        )
    table.add_row(
        "mean",
        f"F1-macro, all {len(present)} AUs",
        f"{m.f1_macro:.3f}",
        f"{m.accuracy_mean:.3f}",
        "",
        style="bold",
    )
    if present.any() and not present.all():
        table.add_row(
            "mean",
            f"F1-macro, the {int(present.sum())} AUs in this clip",
            f"{m.f1[present].mean():.3f}",
            "",
            "",
        )
    return table
