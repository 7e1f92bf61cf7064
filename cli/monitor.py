"""`aunce-rt monitor`: driver monitoring (drowsiness, distraction) on a video, camera or stream.

Events (blinks, eye closures, yawns, glances away, state changes; `aunce_rt.driver`)
go to ``--out`` as JSON Lines and alerts are printed as they happen; ``--csv`` also
writes the per-frame AU CSV with OpenFace's gaze and pose columns. Ctrl-C stops a
live run cleanly: every event and row written so far stays in a valid file.
``--save-video`` writes the annotated frames at the source's frame rate (divided by
``--stride``). ``--driver-seat left|right`` monitors only the largest face in that
half of the image (give ``--max-faces 2`` or more so the passenger is seen too).
"""

from __future__ import annotations

import logging
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from aunce_rt.cli._choices import ProviderChoice, SeatChoice
from aunce_rt.cli._console import err_console, out_console

logger = logging.getLogger(__name__)
app = typer.Typer()  # its command joins the root in aunce_rt.cli.main
ALERTS = ("long_eye_closure", "long_glance_away", "drowsiness", "distraction", "face_lost", "face_found")


@app.command()
def monitor(
    source: str = typer.Argument(..., help="A video file, camera index (0) or stream URL."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Event log (.jsonl)."),
    csv: Path | None = typer.Option(
        None, "--csv", help="Also write per-frame AUs with OpenFace pose/gaze (.csv)."
    ),
    model: Path | None = typer.Option(None, "--model", "-m", help="Exported .onnx model or a bundled name."),
    providers: ProviderChoice = typer.Option(ProviderChoice.auto, "--providers", help="Execution providers."),
    max_faces: int = typer.Option(1, "--max-faces", min=1, help="Faces monitored per frame (1: the driver)."),
    stride: int = typer.Option(1, "--stride", min=1, help="Analyse every N-th frame."),
    threads: int | None = typer.Option(None, "--threads", min=0, help="ONNX Runtime intra-op threads."),
    save_video: Path | None = typer.Option(
        None, "--save-video", help="Write a video with pose axes, gaze and the driver's state (.mp4/.avi)."
    ),
    driver_seat: SeatChoice = typer.Option(
        SeatChoice.all,
        "--driver-seat",
        help="Monitor every face, or only the largest in the image's left/right half (the camera's view).",
    ),
) -> None:
    """Monitor a driver: blinks, PERCLOS, long eye closures, yawns and glances away, as events."""
    from aunce_rt.detector import AUDetector
    from aunce_rt.driver import DriverMonitor, EventLog, MonitorConfig, draw_driver
    from aunce_rt.sinks import CSVSink, VideoSink, check_video_path, sink_format
    from aunce_rt.sources import open_source

    if out is not None and sink_format(out) != "jsonl":
        raise typer.BadParameter(
            f"{str(out)!r}: the event log is JSON Lines; name it .jsonl", param_hint="--out"
        )
    if csv is not None and sink_format(csv) != "csv":
        raise typer.BadParameter(f"{str(csv)!r}: name the per-frame table .csv", param_hint="--csv")
    if save_video is not None:
        check_video_path(save_video)
    detector = AUDetector(model, providers=providers.value, max_faces=max_faces, num_threads=threads)
    watcher = DriverMonitor(MonitorConfig(driver_seat=driver_seat.value))
    counts: Counter[str] = Counter()
    frames = 0
    with ExitStack() as stack:
        opened = stack.enter_context(open_source(source, stride=stride))
        fps = opened.fps / opened.stride if opened.fps else None  # None: VideoSink's 30 fps
        log = stack.enter_context(EventLog(out)) if out is not None else None
        table = (
            stack.enter_context(
                CSVSink(csv, detector.au_codes, pose=True, intensity_codes=detector.intensity_codes)
            )
            if csv is not None
            else None
        )
        video = stack.enter_context(VideoSink(save_video, fps=fps)) if save_video is not None else None
        for frame, result in detector.stream_frames(opened, stride=stride):
            frames += 1
            if table is not None:
                table.write(result)
            events = watcher.update(result)
            if video is not None:
                video.write(draw_driver(frame.image, result, watcher.states))
            for event in events:
                counts[event.kind] += 1
                if log is not None:
                    log.write(event)
                if event.kind in ALERTS:
                    what = f"{event.kind} {event.detail}".strip()
                    err_console.print(f"[yellow]{event.time:8.2f} s[/] face {event.face_id}: {escape(what)}")
    summary = Table(title=f"monitor: {escape(source)} ({frames} frames)")
    for column in ("face", "drowsiness", "distraction", "PERCLOS", "blinks/min"):
        summary.add_column(column)
    for state in watcher.states.values():
        summary.add_row(
            str(state.face_id),
            state.drowsiness,
            state.distraction,
            "-" if state.perclos is None else f"{state.perclos:.3f}",
            "-" if state.blinks_per_min is None else f"{state.blinks_per_min:.1f}",
        )
    out_console.print(summary)
    out_console.print("events: " + (", ".join(f"{k} {n}" for k, n in sorted(counts.items())) or "none"))
