"""`read_au_table`: read a results file (our CSV or JSON Lines, OpenFace's CSV) into columns."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from aunce_rt.errors import InputError
from aunce_rt.sinks._csv_reader import read_au_csv, read_text


def read_au_table(path: str | Path) -> dict[str, np.ndarray]:
    """Columns of an AU results file, whatever its kind (told by content, not suffix).

    A file whose first non-blank character is ``{`` is read as the JSON Lines of
    `JSONLSink` (`read_au_jsonl`); anything else as a CSV (`read_au_csv`).

    Raises:
        InputError: the file is missing, binary, empty or malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"results file {str(path)!r} does not exist; check the path")
    if read_text(path, "CSV or JSON Lines").lstrip().startswith("{"):
        return read_au_jsonl(path)
    return read_au_csv(path)


def read_au_jsonl(path: str | Path) -> dict[str, np.ndarray]:
    """The JSON Lines of `JSONLSink` as the columns `read_au_csv` gives for our CSV.

    One row per face (``frame``, ``face_id``, ``timestamp``, ``confidence``,
    ``success``, ``AUxx_r`` where the model has intensities, ``AUxx_p``, ``AUxx_c``); a frame without faces gives one
    ``success`` 0 row of NaN AU values.

    Raises:
        InputError: a line is not a JSON object of our records.
    """
    path = Path(path)
    rows: list[dict[str, float]] = []
    codes: dict[str, None] = {}
    rated: dict[str, None] = {}  # AUs with an intensity ("r") somewhere in the file
    for number, line in enumerate(read_text(path, "JSON Lines").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            base = {"frame": float(record["frame"]), "timestamp": float(record["timestamp"])}
            faces = record["faces"]
            if not faces:
                rows.append({**base, "face_id": 0.0, "confidence": 0.0, "success": 0.0})
            for face in faces:
                row = {**base, "face_id": float(face["face_id"]), "confidence": float(face["confidence"])}
                row["success"] = 1.0
                for label, au in face["aus"].items():
                    codes.setdefault(label)
                    row[f"{label}_p"], row[f"{label}_c"] = float(au["p"]), float(au["c"])
                    if "r" in au:
                        rated.setdefault(label)
                        row[f"{label}_r"] = float(au["r"])
                rows.append(row)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(
                f"{str(path)!r} line {number} is not an `aunce-rt detect` JSON Lines record ({exc!s:.80}); "
                "pass a .jsonl or .csv file written by `aunce-rt detect`"
            ) from None
    if not rows:
        raise InputError(f"{str(path)!r} holds no records; expected the JSON Lines of `aunce-rt detect`")
    names = ["frame", "face_id", "timestamp", "confidence", "success"]
    names += [f"{c}_r" for c in codes if c in rated] + [f"{c}_p" for c in codes] + [f"{c}_c" for c in codes]
    return {n: np.array([r.get(n, math.nan) for r in rows], dtype=np.float64) for n in names}
