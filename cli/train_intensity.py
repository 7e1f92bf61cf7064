"""`aunce-rt train intensity`: give an exported image model an ``AUxx_r`` output fitted on SynthAU truth.

Registered on ``train_app`` by ``cli/main.py``; thin over ``aunce_rt.pipelines.cnn_intensity``.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from aunce_rt.cli.train import out_console


def intensity_cmd(
    model: str = typer.Argument(..., help="Image model (.onnx from `aunce-rt export`, or 'synthau')."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the model with its intensity output."),
    data: Path | None = typer.Option(
        None,
        "--data",
        help="Prepared intensity-coded benchmark (manifest with AUxx_r columns, e.g. DISFA) instead of SynthAU.",
    ),
    renders: int = typer.Option(4000, "--renders", help="SynthAU training renders."),
    heldout: int = typer.Option(
        1000, "--heldout", help="SynthAU held-out renders (even people choose, odd report)."
    ),
    seed: int = typer.Option(0, "--seed", help="SynthAU seed (with --data: the subject split's)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out."),
) -> None:
    """Add AU intensities (AUxx_r, 0-5) to an image model: a ridge head on its per-AU features.

    Fitted on SynthAU truth, or on a prepared intensity-coded benchmark (--data).
    """
    from aunce_rt.pipelines.cnn_intensity import fit_cnn_intensity
    from aunce_rt.session import bundled_model

    res = fit_cnn_intensity(
        bundled_model(model) or Path(model),
        out,
        data=data,
        renders=renders,
        heldout=heldout,
        seed=seed,
        overwrite=overwrite,
    )
    where = "held-out SynthAU people" if data is None else f"held-out subjects of {data.name}"
    table = Table(title=f"intensity on {where} (alpha {res.alpha:g}, {res.seconds:.0f} s)")
    for col in ("AU", "ICC(3,1)", "r", "MAE"):
        table.add_column(col, justify="right" if col != "AU" else "left")
    for au, m in res.heldout["per_au"].items():
        table.add_row(au, f"{m['icc']:.3f}", f"{m['pearson']:.3f}", f"{m['mae']:.3f}")
    table.add_row(
        "mean",
        f"{res.heldout['mean_icc']:.3f}",
        f"{res.heldout['mean_pearson']:.3f}",
        f"{res.heldout['mean_mae']:.3f}",
    )
    out_console.print(table)
    out_console.print(
        f"model: {res.path} (its AUxx_r: aunce-rt detect VIDEO --model {res.path} --out aus.csv)"
    )
