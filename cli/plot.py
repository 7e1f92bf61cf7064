"""`aunce-rt plot`: AU probability (or intensity) timelines of one or more CSVs as a PNG."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from aunce_rt.cli._console import err_console

app = typer.Typer()  # joined to the root in aunce_rt.cli.main


class PlotValue(str, Enum):
    """Which AU columns to draw (``aunce_rt.plotting.VALUES``)."""

    auto = "auto"
    probability = "probability"
    intensity = "intensity"
    occurrence = "occurrence"


@app.command("plot")
def plot(
    csv: list[Path] = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        readable=True,
        help="CSV or JSON Lines files from `aunce-rt detect`, or OpenFace 2.x CSVs.",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="PNG to write."),
    aus: str | None = typer.Option(None, "--aus", help="AUs to show, e.g. '1,2,12' (default: all)."),
    title: str | None = typer.Option(None, "--title", help="Figure title."),
    value: PlotValue = typer.Option(
        PlotValue.auto,
        "--value",
        help="Columns to draw: AUxx_p (probability), AUxx_r (intensity 0-5, drawn / 5), AUxx_c; "
        "auto: the first of these a file has.",
    ),
) -> None:
    """Plot AU timelines per face; several CSVs are overlaid for comparison."""
    from aunce_rt.aus import parse_au_code
    from aunce_rt.plotting import plot_timelines

    codes = [parse_au_code(a) for a in aus.split(",")] if aus else None
    path = plot_timelines(csv, out, aus=codes, title=title, value=value.value)
    err_console.print(f"wrote [bold]{path}[/]")
