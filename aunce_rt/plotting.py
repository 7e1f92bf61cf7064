"""AU timelines as a PNG: probabilities over time per face, optionally against truth.

Reads any CSV the project writes (``AUxx_p`` probabilities, ``AUxx_c``
occurrences) and OpenFace 2.x CSVs (``AUxx_r`` intensities 0-5, shown divided by
5, and ``AUxx_c``), so several tools can be compared on one figure.

Example:
    >>> from aunce_rt.plotting import plot_timelines  # doctest: +SKIP
    >>> plot_timelines(["aus.csv", "openface.csv"], "aus.png")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aunce_rt.aus import AUS, au_label, au_name, parse_au_code
from aunce_rt.errors import InputError, OutputError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AUSeries:
    """AU time series of one face from one CSV.

    Attributes:
        name: legend label (file stem, and face id when several).
        time: (T,) seconds (or frame numbers when the CSV has no timestamps).
        values: AU code -> (T,) values in [0, 1] (probability, or intensity / 5).
        kind: "probability", "intensity" or "occurrence".
    """

    name: str
    time: np.ndarray
    values: dict[int, np.ndarray]
    kind: str


_GOLDEN = 0.618033988749895


def series_colour(k: int) -> tuple[float, float, float]:
    """RGB in [0, 1] of the ``k``-th plotted series, distinct for every k.

    The first 20 are matplotlib's tab20 (its 10 dark shades, then the 10 light
    ones); after that each k gets its own hue, stepped by the golden ratio so that
    neighbours differ (saturation and value alternate between two levels).
    """
    if k < 20:
        from matplotlib import colormaps

        r, g, b, _ = colormaps["tab20"]((2 * k) % 20 + (k >= 10))
        return (float(r), float(g), float(b))
    import colorsys

    hue = (k * _GOLDEN) % 1.0
    sat, val = (0.75, 0.85) if k % 2 else (0.55, 0.65)
    return colorsys.hsv_to_rgb(hue, sat, val)


VALUES = ("auto", "probability", "intensity", "occurrence")
_SUFFIXES = (("_p", "probability", 1.0), ("_r", "intensity", 5.0), ("_c", "occurrence", 1.0))


def series_from_columns(columns: Mapping[str, np.ndarray], name: str, value: str = "auto") -> list[AUSeries]:
    """Split CSV columns (as ``aunce_rt.sinks.read_au_csv`` returns them) into per-face series.

    ``value`` "auto" chooses the richest column: ``_p`` (probability) over ``_r``
    (intensity, divided by 5) over ``_c`` (occurrence); "probability", "intensity" or
    "occurrence" asks for that one (InputError when the file has none). Rows with
    ``success == 0`` become NaN so gaps show as gaps.
    """
    if value not in VALUES:
        raise InputError(f"value must be one of {list(VALUES)}; got {value!r}")
    suffixes = [t for t in _SUFFIXES if value in ("auto", t[1])]
    kind, chosen = "", {}
    for suffix, k, scale in suffixes:
        cols = {c: v for c, v in columns.items() if c.upper().startswith("AU") and c.endswith(suffix)}
        if cols:
            kind = k
            chosen = {parse_au_code(c): np.asarray(v, dtype=np.float64) / scale for c, v in cols.items()}
            break
    if not chosen:
        wanted = " or ".join(f"AUxx{t[0]}" for t in suffixes)
        hint = (
            " (a model without intensity writes no AUxx_r; plot --value auto)" if value == "intensity" else ""
        )
        raise InputError(
            f"{name}: no AU columns found (expected {wanted} as written by aunce-rt detect or OpenFace 2.x){hint}"
        )
    n = len(next(iter(chosen.values())))
    if n == 0:
        raise InputError(f"{name}: the CSV has a header but no rows; plot a file with at least one frame")
    time = columns.get("timestamp")
    if time is None or np.all(~np.isfinite(np.asarray(time, dtype=np.float64))):
        time = columns.get("frame", np.arange(1, n + 1))
    time = np.asarray(time, dtype=np.float64)
    success = np.asarray(columns.get("success", np.ones(n)), dtype=np.float64)
    face_ids = np.asarray(columns.get("face_id", np.zeros(n)), dtype=np.float64)
    face_ids = np.where(np.isfinite(face_ids), face_ids, 0)
    out = []
    ids = sorted(set(face_ids[success > 0].astype(int).tolist())) or [0]
    for fid in ids:
        rows = (face_ids == fid) | (success <= 0)
        # A frame without faces has one success=0 row: keep it (as NaN) in every face's series.
        values = {}
        for code, v in chosen.items():
            vv = np.where(success[rows] > 0, v[rows], np.nan)
            values[code] = vv
        label = name if len(ids) == 1 else f"{name} face {fid}"
        if kind != "probability":
            label += " (AU_r / 5)" if kind == "intensity" else " (AU_c)"
        out.append(AUSeries(label, time[rows], values, kind))
    return out


def _check_plot_path(out: str | Path, inputs: Sequence[str | Path]) -> Path:
    """``out`` as a Path once it is known writable, of an image format, and not an input."""
    from matplotlib.backend_bases import FigureCanvasBase

    from aunce_rt.sinks import check_not_input, check_output_path

    out = check_output_path(out)
    check_not_input(out, inputs, option="--out")
    if out.suffix.lower().lstrip(".") not in FigureCanvasBase.get_supported_filetypes():
        raise OutputError(
            f"cannot plot to {str(out)!r}: "
            + (f"{out.suffix!r} is not an image format" if out.suffix else "the name has no suffix")
            + "; name the output .png (or .pdf, .svg, .jpg)"
        )
    return out


def plot_timelines(
    csv_paths: Sequence[str | Path],
    out: str | Path,
    *,
    truth: Mapping[int, np.ndarray] | None = None,
    truth_time: np.ndarray | None = None,
    aus: Sequence[int] | None = None,
    title: str | None = None,
    value: str = "auto",
) -> Path:
    """Draw AU timelines of one or more CSVs into one PNG.

    Args:
        csv_paths: CSVs or JSON Lines written by ``aunce-rt detect``, or OpenFace 2.x CSVs.
        out: PNG path to write.
        truth: optional AU code -> (T,) 0/1 ground truth, shaded behind the curves.
        truth_time: (T,) times of ``truth`` (defaults to the first series' time).
        aus: AU codes to show (default: union of the AUs in the CSVs, sorted).
        title: figure title.
        value: which columns to draw: "auto" (``_p``, else ``_r`` / 5, else ``_c``),
            "probability", "intensity" (``AUxx_r`` on 0-5, drawn divided by 5) or "occurrence".

    Returns:
        The PNG path.

    Raises:
        InputError: a file is missing, not a results file (e.g. a video), or
            lacks one of ``aus``.
        OutputError: the PNG's folder does not exist.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from aunce_rt.sinks import read_au_table

    if not csv_paths:
        raise InputError("no CSV given to plot; pass at least one file written by `aunce-rt detect`")
    out = _check_plot_path(out, csv_paths)
    series: list[AUSeries] = []
    for p in csv_paths:
        path = Path(p)
        if not path.is_file():
            raise InputError(f"{path}: no such CSV file; pass a CSV written by `aunce-rt detect` or OpenFace")
        series.extend(series_from_columns(read_au_table(path), path.stem, value))
    present = {c for s in series for c in s.values}
    missing = [au_label(c) for c in (aus or ()) if c not in present]
    if missing:
        names = ", ".join(str(Path(p)) for p in csv_paths)
        raise InputError(
            f"{', '.join(missing)} not in {names}; its AUs are {' '.join(au_label(c) for c in sorted(present))}, "
            "choose --aus among them"
        )
    codes = sorted(aus or present)

    fig, axes = plt.subplots(len(codes), 1, figsize=(11, 0.72 * len(codes) + 1.2), sharex=True, squeeze=False)
    for row, code in enumerate(codes):
        ax = axes[row, 0]
        if truth is not None and code in truth:
            t = truth_time if truth_time is not None else series[0].time
            ax.fill_between(t, 0, np.asarray(truth[code], float), step="mid", color="0.85", lw=0)
        for k, s in enumerate(series):
            if code in s.values:
                ax.plot(s.time, s.values[code], color=series_colour(k), lw=1.2, label=s.name)
        ax.axhline(0.5, color="0.6", lw=0.6, ls="--")
        ax.set_ylim(-0.05, 1.05)
        ax.set_yticks([])
        ax.set_ylabel(au_label(code), rotation=0, ha="right", va="center", fontsize=9)
        ax.text(
            1.005,
            0.5,
            au_name(code) if code in AUS else "",
            transform=ax.transAxes,
            fontsize=7,
            va="center",
            color="0.35",
        )
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[-1, 0].set_xlabel("time (s)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if truth is not None:
        from matplotlib.patches import Patch

        handles.append(Patch(color="0.85", label="truth (AU present)"))
        labels.append("truth (AU present)")
    fig.legend(handles, labels, loc="upper right", ncol=min(4, len(labels)), fontsize=8, frameon=False)
    default_title = (
        "AU intensities over time (AU_r / 5; dashed: 2.5)"
        if value == "intensity"
        else "AU probabilities over time (dashed: 0.5)"
    )
    fig.suptitle(title or default_title, x=0.01, ha="left", fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.93, 0.97))
    save_figure(fig, out)
    logger.info("wrote %s", out)
    return out


def save_figure(fig: object, out: str | Path, *, dpi: int = 110) -> Path:
    """Write a matplotlib figure to ``out`` (its folder created) and close it."""
    import matplotlib.pyplot as plt

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return out
