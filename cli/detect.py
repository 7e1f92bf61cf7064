"""`aunce-rt detect`, `aunce-rt webcam` and `aunce-rt info`: the runtime commands.

``detect`` with several sources writes one output file per source, named
``<out stem>_<NN>_<source stem><out suffix>`` next to ``--out`` (NN = the source's
position, 00, 01, ...; the CSV keeps the
OpenFace column set; JSON Lines records also carry the source name). With a
single source, ``--out`` is used as given.

Every source is checked before the first frame. A source that cannot be read
(a typo, a corrupt file) or an unreadable image in a folder does not stop the
others: it is reported in the summary with its error, every row written so far is
kept, and the exit code is 1 when anything failed. ``--fail-fast`` stops at the
first failure instead (still keeping the rows written before it).

Ctrl-C or SIGTERM stops the run: every row written so far stays in a valid
file, the annotated video is finalised (playable), the summary is printed and
the exit code is 130 (Ctrl-C) or 143 (SIGTERM).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from contextlib import closing
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from aunce_rt.cli._choices import OutputFormat, ProviderChoice
from aunce_rt.cli._console import err_console, out_console
from aunce_rt.cli._options import (
    MAX_FACES_OPTION,
    MODEL_OPTION,
    PROVIDERS_OPTION,
    STRIDE_OPTION,
    THRESHOLD_OPTION,
)
from aunce_rt.cli._outputs import plan_outputs
from aunce_rt.cli._signals import EXIT_TERMINATED, exit_code
from aunce_rt.cli._summary import FPSColumn, Stats, status_line, summary_table
from aunce_rt.errors import AunceError, InputError

logger = logging.getLogger(__name__)
app = typer.Typer()  # its commands join the root in aunce_rt.cli.main
WINDOW = "aunce-rt"


@app.command()
def detect(
    sources: list[str] = typer.Argument(
        ..., help="Videos, images, folders, glob patterns, camera indices or stream URLs."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output file (.csv or .jsonl)."),
    fmt: OutputFormat | None = typer.Option(
        None, "--format", "-f", help="Output format (default: from --out)."
    ),
    model: Path | None = MODEL_OPTION,
    providers: ProviderChoice = PROVIDERS_OPTION,
    max_faces: int = MAX_FACES_OPTION,
    stride: int = STRIDE_OPTION,
    threshold: float | None = THRESHOLD_OPTION,
    save_video: Path | None = typer.Option(
        None, "--save-video", help="Write an annotated video (.mp4/.avi)."
    ),
    smooth: float | None = typer.Option(
        None, "--smooth", min=0.0, max=1.0, help="Causal EMA factor alpha per face (e.g. 0.5; 1 = off)."
    ),
    show_landmarks: bool = typer.Option(False, "--show-landmarks", help="Draw landmarks in --save-video."),
    landmarks: str = typer.Option("facemesh", "--landmarks", help="'facemesh' or a MediaPipe .task file."),
    threads: int | None = typer.Option(None, "--threads", min=0, help="ONNX Runtime intra-op threads."),
    live: bool = typer.Option(
        False,
        "--live",
        help="Treat every source as live: drop frames when analysis falls behind (default: only for "
        "cameras and rtsp/rtmp/udp/srt streams; a URL to a video file is decoded frame by frame).",
    ),
    fail_fast: bool = typer.Option(
        False, "--fail-fast", help="Stop at the first source or image that fails (default: report it, go on)."
    ),
) -> None:
    """Detect AUs in videos, images, folders or streams and write one row per face and frame."""
    from aunce_rt.detector import AUDetector

    # fail before any work: a missing or read-only folder, an unknown suffix, an output that is an input
    outs, videos = plan_outputs(sources, out, fmt.value if fmt else None, save_video)
    problems = validate_sources(sources, stride)
    if problems and (fail_fast or len(sources) == 1):  # nothing else to run: one line, as before
        raise InputError(next(iter(problems.values())))
    detector = AUDetector(
        model,
        providers=providers.value,
        max_faces=max_faces,
        thresholds=threshold,
        smoothing=smooth,
        landmarks=landmarks,
        num_threads=threads,
    )
    stats: list[Stats] = []
    interrupted = 0  # the exit code when stopped by Ctrl-C (130) or SIGTERM (143)
    failure: InputError | None = None
    try:
        for i, (source, out_path, video_path) in enumerate(zip(sources, outs, videos, strict=True)):
            stats.append(Stats(name=Path(source).name or source, error=problems.get(i)))
            if stats[-1].error:
                continue
            try:
                _run_source(
                    detector,
                    source,
                    out_path,
                    fmt,
                    video_path,
                    stride,
                    show_landmarks,
                    stats[-1],
                    fail_fast=fail_fast,
                    live=live,
                )
            except InputError as exc:  # this source fails; the others still run (not with --fail-fast)
                stats[-1].error = str(exc)
                if fail_fast or (len(sources) == 1 and stats[-1].frames == 0):
                    failure = exc
                    break
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (aunce_rt.cli._signals)
        interrupted = exit_code(exc)
    finally:
        detector.close()
    if failure is not None and not any(s.frames for s in stats):
        raise failure  # nothing was processed: one line, no table
    err_console.print(summary_table(stats, detector.describe(), bool(interrupted)))
    if interrupted:
        what = "terminated" if interrupted == EXIT_TERMINATED else "interrupted"
        err_console.print(f"[yellow]{what}: every row and video frame written so far is kept[/]")
        raise typer.Exit(interrupted)
    if failure is not None:
        raise failure
    for s in stats:
        if s.error:
            err_console.print(
                f"[bold red]failed:[/] {escape(s.name)}: {escape(s.error)}", highlight=False, soft_wrap=True
            )
    written = ", ".join(str(p) for p in outs if p.exists())
    if written:
        err_console.print(f"wrote {written}")
    err_console.print(status_line(stats))
    if any(s.error for s in stats):
        raise typer.Exit(1)


def validate_sources(sources: list[str], stride: int) -> dict[int, str]:
    """Open (and close) every file source before the first frame; position -> error message.

    Cameras and stream URLs are opened once, when their turn comes.
    """
    from urllib.parse import urlsplit

    from aunce_rt.sources import STREAM_SCHEMES, open_source

    problems: dict[int, str] = {}
    for i, source in enumerate(sources):
        text = source.strip()
        if (text.isdigit() and not Path(text).exists()) or urlsplit(text).scheme.lower() in STREAM_SCHEMES:
            continue
        try:
            open_source(source, stride=stride).close()
        except InputError as exc:
            problems[i] = str(exc)
    return problems


def _run_source(
    detector,  # AUDetector
    source: str,
    out_path: Path,
    fmt: OutputFormat | None,
    video_path: Path | None,
    stride: int,
    show_landmarks: bool,
    stats: Stats,
    *,
    fail_fast: bool,
    live: bool,
) -> None:
    """Stream one source into its sink (and annotated video); KeyboardInterrupt propagates.

    Raises:
        InputError: the source cannot be read (its rows so far are kept), or some
            of its images could not be read (with ``fail_fast``: at the first one).
    """
    from aunce_rt.frame_loop import process
    from aunce_rt.sinks import open_sink
    from aunce_rt.sources import open_source

    src = open_source(
        source, stride=stride, skip_unreadable=not fail_fast, drop_frames=True if live else None
    )
    stats.live = src.drops_frames
    sink = None
    start = time.perf_counter()
    try:
        sink = open_sink(
            out_path, fmt.value if fmt else None, detector.au_codes, intensity_codes=detector.intensity_codes
        )
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), FPSColumn()]
        with Progress(*columns, TimeRemainingColumn(), console=err_console, transient=True) as progress:
            task = progress.add_task(src.name[-40:], total=src.frame_count)
            loop = process(
                src, detector, [sink], video=video_path, stride=stride, show_landmarks=show_landmarks
            )
            with closing(loop) as results:
                for result in results:
                    stats.add(result)
                    progress.advance(task)
    finally:
        stats.wall_s = time.perf_counter() - start
        stats.dropped = src.dropped
        src.close()
        if sink is not None:
            sink.close()
    if src.errors:
        more = f" (and {len(src.errors) - 1} more)" if len(src.errors) > 1 else ""
        raise InputError(f"{len(src.errors)} unreadable image(s) skipped: {src.errors[0]}{more}")


def _require_display() -> None:
    """Raise a one-line AunceError when no window can be opened (no display or no GUI)."""
    import cv2

    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise AunceError(
            "no display available ($DISPLAY is not set), so no window can be opened; run on a desktop "
            "session, or record without a window: `aunce-rt detect 0 --out aus.csv`"
        )
    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
    except cv2.error as exc:
        raise AunceError(
            f"OpenCV cannot open a window ({str(exc).strip().splitlines()[-1]}); install an OpenCV with GUI "
            "support (opencv-contrib-python, not -headless) or use `aunce-rt detect 0 --out aus.csv`"
        ) from None


@app.command()
def webcam(
    camera: int = typer.Option(0, "--camera", "-c", min=0, help="Camera index."),
    model: Path | None = MODEL_OPTION,
    providers: ProviderChoice = PROVIDERS_OPTION,
    out: Path | None = typer.Option(None, "--out", "-o", help="Also write results (.csv or .jsonl)."),
    max_faces: int = MAX_FACES_OPTION,
    smooth: float | None = typer.Option(
        0.5, "--smooth", min=0.0, max=1.0, help="Causal EMA factor (1 = off)."
    ),
    show_landmarks: bool = typer.Option(False, "--show-landmarks", help="Draw landmarks."),
) -> None:
    """Live AU detection from a camera in a window; press q to quit."""
    import cv2

    from aunce_rt.detector import AUDetector
    from aunce_rt.frame_loop import process
    from aunce_rt.overlay import draw_overlay
    from aunce_rt.sinks import open_sink
    from aunce_rt.sources import open_source

    _require_display()
    try:
        detector = AUDetector(model, providers=providers.value, max_faces=max_faces, smoothing=smooth)
        frames, start = 0, time.perf_counter()

        def show(frame, result) -> None:  # (Frame, FrameResult)
            fps = (frames + 1) / max(time.perf_counter() - start, 1e-6)
            cv2.imshow(WINDOW, draw_overlay(frame.image, result, fps=fps, show_landmarks=show_landmarks))

        try:
            src = open_source(camera)
            try:
                sinks = (
                    [open_sink(out, None, detector.au_codes, intensity_codes=detector.intensity_codes)]
                    if out is not None
                    else []
                )
            except BaseException:
                src.close()
                raise
            err_console.print(f"{detector.describe()}; press q in the window to quit")
            start = time.perf_counter()
            with closing(process(src, detector, sinks, on_frame=show)) as results:
                for _ in results:
                    frames += 1
                    if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                        break
                    if cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
                        break
        finally:
            detector.close()
        err_console.print(
            f"{frames} frames at {frames / max(time.perf_counter() - start, 1e-6):.1f} frames/s"
        )
    finally:
        cv2.destroyAllWindows()


@app.command()
def info(
    model: Path | None = typer.Argument(
        None, help="Exported .onnx model or a bundled name: default, synthau (default: default)."
    ),
    providers: ProviderChoice = PROVIDERS_OPTION,
) -> None:
    """Print a model's metadata (AUs, thresholds, input, provenance, metrics) and providers."""
    import json

    from aunce_rt.detector import default_model_path
    from aunce_rt.providers import available_providers
    from aunce_rt.session import AUModelSession

    model = model or default_model_path()
    session = AUModelSession(model, providers.value)
    meta = session.metadata
    out_console.print(f"[bold]{model}[/]  aunce-rt {meta.project_version}, format {meta.format_version}")
    table = Table(
        "AU", "name", "threshold", "intensity", title=f"{meta.num_aus} action units", title_justify="left"
    )
    scale = "{:g}-{:g}".format(*meta.intensity_scale)
    for code, label, name, thr in zip(
        meta.au_codes, meta.au_labels, meta.au_names, meta.thresholds, strict=True
    ):
        table.add_row(label, name, f"{thr:.3f}", scale if code in meta.intensity_aus else "-")
    out_console.print(table)
    inputs = []
    if meta.uses_images:
        inputs.append(
            f"images {meta.input_dtype} {meta.input_layout} (N, {meta.input_size}, {meta.input_size}, 3) "
            f"{meta.color_order}, crop {meta.crop_size}, template {meta.template_id}"
        )
    if meta.uses_landmarks:
        inputs.append(f"landmarks float32 (N, 478, 3), geometry {meta.geometry} (aunce_rt.geometry)")
    rows = {
        "input": "; ".join(inputs),
        "normalisation": f"mean {meta.mean}, std {meta.std} (inside the graph)" if meta.uses_images else "-",
        "encoder": meta.encoder
        + (f" / {meta.backbone or '?'} (node dim {meta.node_dim or '?'})" if meta.uses_images else ""),
        "precision": meta.precision,
        "features output": str(meta.has_features),
        "intensity output": (
            f"{len(meta.intensity_aus)} AUs on {scale} (AUxx_r)"
            if meta.has_intensity
            else "none (no AUxx_r columns)"
        ),
        "exported": f"{meta.export_date or '?'} (git {meta.git_revision or '?'})",
        "training": json.dumps(meta.training, sort_keys=True) if meta.training else "-",
        "metrics": json.dumps(meta.metrics, sort_keys=True) if meta.metrics else "-",
        "licence": meta.licence_note or "-",
        "providers available": ", ".join(available_providers()),
        "providers selected": ", ".join(session.providers),
    }
    for key, value in rows.items():
        out_console.print(f"[bold]{key}:[/] {value}", highlight=False, soft_wrap=True)
