"""The summary of `aunce-rt detect`: running totals per source, one table, one status line."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.markup import escape
from rich.progress import ProgressColumn
from rich.table import Table
from rich.text import Text

from aunce_rt.results import STAGES


@dataclass
class Stats:
    """Running totals of one source, for the summary table."""

    name: str
    frames: int = 0
    faces: int = 0
    success: int = 0
    ms: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    wall_s: float = 0.0
    error: str | None = None
    dropped: int = 0
    live: bool = False

    def add(self, result) -> None:  # result: FrameResult
        self.frames += 1
        self.faces += len(result.faces)
        self.success += int(result.success)
        for key in STAGES:
            self.ms[key] += float(result.timings.get(key, 0.0))


class FPSColumn(ProgressColumn):
    """Frames per second of a progress task."""

    def render(self, task) -> Text:  # task: rich.progress.Task
        return Text(f"{task.speed or 0.0:5.1f} frames/s", style="cyan")


def summary_table(stats: list[Stats], model_line: str, interrupted: bool) -> Table:
    """One column per source, one row per figure: readable in an 80-column terminal or a log."""
    title = "aunce-rt detect" + (" (interrupted)" if interrupted else "")
    table = Table(title=title, caption=f"model: {escape(model_line)}", title_justify="left")
    table.add_column("")
    for s in stats:  # a name such as 'take[1].mp4' is text, not rich markup
        table.add_column(Text(s.name), justify="right", overflow="fold")
    n = [max(s.frames, 1) for s in stats]
    rows: list[tuple[str, list[str]]] = [
        ("frames", [str(s.frames) for s in stats]),
        ("faces found", [str(s.faces) for s in stats]),
        ("frames with a face %", [f"{100.0 * s.success / k:.1f}" for s, k in zip(stats, n, strict=True)]),
        *(
            (f"{stage} ms/frame", [f"{s.ms[stage] / k:.1f}" for s, k in zip(stats, n, strict=True)])
            for stage in STAGES
        ),
        ("frames/s", [f"{s.frames / s.wall_s:.1f}" if s.wall_s > 0 else "-" for s in stats]),
        ("status", ["failed" if s.error else "ok" for s in stats]),
    ]
    if any(s.live for s in stats):
        rows.insert(1, ("frames dropped (live)", [str(s.dropped) if s.live else "-" for s in stats]))
    for label, values in rows:
        table.add_row(label, *values)
    return table


def status_line(stats: list[Stats]) -> str:
    """``"3 succeeded, 1 failed"``: the last line of a run."""
    failed = sum(1 for s in stats if s.error)
    return f"{len(stats) - failed} succeeded, {failed} failed"
