"""`aunce-rt batch`: resumable AU detection over many videos (`aunce_rt.batch.batch_detect`).

One result file per video under ``--out`` (mirroring the input tree), and
``--out/manifest.csv`` with one row per video. Rerunning the same command skips the
videos whose output is verified complete and redoes the rest; a video that fails is
recorded with its error and the others go on (exit code 1 when any failed).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from aunce_rt.cli._choices import EngineChoice, OutputFormat, ProviderChoice
from aunce_rt.cli._console import err_console
from aunce_rt.cli._options import (
    MAX_FACES_OPTION,
    MODEL_OPTION,
    PROVIDERS_OPTION,
    STRIDE_OPTION,
    THRESHOLD_OPTION,
)

logger = logging.getLogger(__name__)
app = typer.Typer()  # joins the root in aunce_rt.cli.main


@app.command()
def batch(
    sources: list[str] = typer.Argument(
        ..., help="Videos, folders (recursive), glob patterns, or .txt/.csv lists of them."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (results and manifest.csv)."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Parallel workers, one detector each."),
    engine: EngineChoice = typer.Option(
        EngineChoice.local,
        "--engine",
        help="local: a process pool; ray: a Ray cluster (pip install aunce-rt[ray]).",
    ),
    address: str | None = typer.Option(
        None, "--address", help="Ray cluster to join: auto or ray://head:10001 (default: a local Ray)."
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.csv, "--format", "-f", help="Result format."),
    save_video: bool = typer.Option(False, "--save-video", help="Also write an annotated .mp4 per video."),
    model: Path | None = MODEL_OPTION,
    providers: ProviderChoice = PROVIDERS_OPTION,
    max_faces: int = MAX_FACES_OPTION,
    stride: int = STRIDE_OPTION,
    threshold: float | None = THRESHOLD_OPTION,
    threads: int | None = typer.Option(
        None, "--threads", min=1, help="ONNX Runtime threads per worker (default: cores / workers)."
    ),
) -> None:
    """Detect AUs in many videos, one result file each; rerun the same command to resume."""
    from aunce_rt.batch import batch_detect

    if address is not None and engine is not EngineChoice.ray:
        raise typer.BadParameter("--address is for --engine ray", param_hint="--address")
    counts = {"done": 0, "failed": 0, "frames": 0}
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeRemainingColumn(),
    ]
    start = time.perf_counter()
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("videos", total=None, status="")

        def on_start(to_run: int, kept: int) -> None:
            progress.update(task, total=to_run)
            if kept:
                err_console.print(f"resuming: {kept} video(s) already done and verified, {to_run} to run")

        def on_result(row) -> None:  # row: ManifestRow
            if row.reused:
                return
            counts["failed" if row.status == "failed" else "done"] += 1
            counts["frames"] += row.frames
            rate = counts["frames"] / max(time.perf_counter() - start, 1e-6)
            status = f"{counts['done']} done, {counts['failed']} failed, {rate:.1f} frames/s"
            progress.update(task, advance=1, status=status)
            if row.status == "failed":
                progress.console.print(
                    f"[bold red]failed:[/] {escape(row.source)}: {escape(row.error)}",
                    highlight=False,
                    soft_wrap=True,
                )

        manifest = batch_detect(
            sources,
            out,
            engine=engine.value,
            workers=workers,
            fmt=fmt.value,
            save_video=save_video,
            model=model,
            providers=providers.value,
            max_faces=max_faces,
            threshold=threshold,
            stride=stride,
            threads=threads,
            address=address,
            on_start=on_start,
            on_result=on_result,
        )
    wall = time.perf_counter() - start
    err_console.print(_summary(manifest, wall, counts["frames"]))
    err_console.print(f"wrote {manifest.path}")
    if manifest.failed:
        raise typer.Exit(1)


def _summary(manifest, wall: float, frames: int) -> Table:  # manifest: Manifest
    table = Table("videos", "done", "kept", "failed", "frames", "seconds", "frames/s", title="batch")
    ran = [r for r in manifest.rows if not r.reused]
    table.add_row(
        str(len(manifest.rows)),
        str(sum(r.status == "ok" for r in ran)),
        str(len(manifest.reused)),
        str(len(manifest.failed)),
        str(frames),
        f"{wall:.1f}",
        f"{frames / max(wall, 1e-6):.1f}",
    )
    return table
