"""`aunce-rt plot`: AU probability timelines of one or more CSVs as a PNG."""

from __future__ import annotations

from pathlib import Path

import typer

from aunce_rt.cli._console import err_console

app = typer.Typer()  # joined to the root in aunce_rt.cli.main


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
) -> None:
    """Plot AU timelines per face; several CSVs are overlaid for comparison."""
    from aunce_rt.aus import parse_au_code
    from aunce_rt.plotting import plot_timelines

    codes = [parse_au_code(a) for a in aus.split(",")] if aus else None
    path = plot_timelines(csv, out, aus=codes, title=title)
    err_console.print(f"wrote [bold]{path}[/]")
