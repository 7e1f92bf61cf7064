"""`read_au_csv`: read an AU CSV (ours, OpenFace 2.x, py-feat) back into numpy columns."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from aunce_rt.errors import InputError


def read_au_csv(path: str | Path) -> dict[str, np.ndarray]:
    """Read an AU CSV (ours, OpenFace 2.x, py-feat) into columns.

    Header names are stripped (OpenFace writes ``" AU01_r"``). Columns whose values
    all parse as numbers become float64 arrays (empty fields are NaN); others stay
    arrays of str.

    Args:
        path: CSV file.

    Returns:
        Column name -> ``(R,)`` array, in file order, R = number of data rows.

    Raises:
        InputError: the file is missing, empty, ragged or not text (a video, an image).

    Example:
        >>> cols = read_au_csv("openface.csv")  # doctest: +SKIP
        >>> cols["AU12_r"].shape
        (288,)
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"CSV {str(path)!r} does not exist; check the path")
    text = read_text(path, "CSV")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InputError(f"CSV {str(path)!r} is empty; expected a header row and data rows")
    header = [name.strip() for name in rows[0]]
    data = [row for row in rows[1:] if row]
    for i, row in enumerate(data):
        if len(row) != len(header):
            raise InputError(
                f"CSV {str(path)!r}: row {i + 2} has {len(row)} fields but the header has {len(header)}; "
                "the file is damaged"
            )
    columns: dict[str, np.ndarray] = {}
    for j, name in enumerate(header):
        values = [row[j].strip() for row in data]
        columns[name] = _column(values)
    return columns


def _column(values: list[str]) -> np.ndarray:
    try:
        return np.array([float(v) if v else math.nan for v in values], dtype=np.float64)
    except ValueError:
        return np.array(values, dtype=str)


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of ``path``; InputError naming it when it is binary (a video, an image)."""
    data = path.read_bytes()
    try:
        if b"\x00" in data[:4096]:
            raise UnicodeDecodeError("utf-8", data[:1], 0, 1, "NUL byte")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(
            f"{str(path)!r} is a binary file (a video or an image?), not a {what} file; pass the .csv or "
            "the .jsonl that `aunce-rt detect` wrote (e.g. `aunce-rt detect video.mp4 --out aus.csv`), "
            "or an OpenFace CSV"
        ) from None
