"""Text sinks: `CSVSink` (OpenFace 2.x columns) and `JSONLSink`, unbuffered whole-frame writes."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import numpy as np

from aunce_rt.aus import au_label, parse_au_code
from aunce_rt.errors import InputError, OutputError
from aunce_rt.results import FaceResult, FrameResult
from aunce_rt.sinks._paths import check_output_path

CSV_BASE_COLUMNS: tuple[str, ...] = (
    "frame",
    "face_id",
    "timestamp",
    "confidence",
    "success",
    "x_min",
    "y_min",
    "x_max",
    "y_max",
)
# OpenFace 2.x's gaze and pose columns, in its order (gaze after ``success``, then pose).
CSV_POSE_COLUMNS: tuple[str, ...] = (
    *(f"gaze_{e}_{a}" for e in (0, 1) for a in "xyz"),
    "gaze_angle_x",
    "gaze_angle_y",
    *(f"pose_T{a}" for a in "xyz"),
    *(f"pose_R{a}" for a in "xyz"),
)
_POSE_FORMATS = ("{:.6f}",) * 6 + ("{:.3f}",) * 2 + ("{:.1f}",) * 3 + ("{:.3f}",) * 3
SINK_FORMATS: dict[str, str] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class _TextSink:
    """A file opened unbuffered at construction; ``_emit`` writes whole records."""

    def __init__(self, path: str | Path) -> None:
        self.path = check_output_path(path)
        try:
            self._file: io.RawIOBase | None = open(self.path, "wb", buffering=0)
        except OSError as exc:
            raise OutputError(
                f"cannot open {str(self.path)!r} for writing ({exc.strerror}); choose another path"
            ) from exc
        self.rows = 0

    def _emit(self, text: str) -> None:
        if self._file is None:
            raise OutputError(f"{str(self.path)!r} is closed; open a new sink to write more")
        data = memoryview(text.encode("utf-8"))
        while data:
            written = self._file.write(data)
            data = data[written or 0 :]

    def close(self) -> None:
        """Sync the file to disk and close it (idempotent)."""
        if self._file is None:
            return
        try:
            os.fsync(self._file.fileno())
        except OSError:  # some file systems (pipes, /dev/stdout) cannot sync
            pass
        self._file.close()
        self._file = None

    def __enter__(self) -> _TextSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_file", None) is not None:
            self.close()


class CSVSink(_TextSink):
    """OpenFace 2.x-style CSV writer; one row per face (see the module docstring).

    Args:
        path: CSV file to create (overwritten if it exists); its folder must exist.
        au_codes: AU codes of the columns, e.g. ``(1, 2, 4)`` or ``("AU01", "AU02")``.
        pose: also write OpenFace's gaze and pose columns (``CSV_POSE_COLUMNS``, after
            ``success`` as OpenFace does): gaze unit vectors and angles (radians), head
            translation (mm, focal length = image width) and rotation (pitch, yaw, roll in
            radians), from `aunce_rt.face_geometry`; zeros on ``success=0`` rows.
        intensity_codes: the AUs whose model has an intensity (``AUDetector.intensity_codes``,
            a subset of ``au_codes``): their ``AUxx_r`` columns (0-5, two decimals, as OpenFace)
            come before the other AU columns, where OpenFace puts them. Empty (a model without
            intensity, the default): no ``AUxx_r`` column at all, the header of older versions.

    Attributes:
        columns: the header, in order.
        rows: rows written so far.

    Example:
        >>> with CSVSink("out.csv", au_codes=(1, 12)) as sink:  # doctest: +SKIP
        ...     sink.write(result)
    """

    def __init__(
        self,
        path: str | Path,
        au_codes: Sequence[int | str],
        pose: bool = False,
        *,
        intensity_codes: Sequence[int | str] = (),
    ) -> None:
        codes = tuple(parse_au_code(c) for c in au_codes)
        if not codes:
            raise InputError("CSVSink needs the model's AU codes; got an empty list")
        if len(set(codes)) != len(codes):
            raise InputError(f"AU codes must be unique; got {codes}")
        inten = {parse_au_code(c) for c in intensity_codes}
        if not inten <= set(codes):
            raise InputError(f"intensity AUs {sorted(inten)} must be among the AU columns {codes}")
        self.au_codes = codes
        self.intensity_codes = tuple(c for c in codes if c in inten)
        self._inten_cols = np.array([codes.index(c) for c in self.intensity_codes], np.intp)
        self.pose = bool(pose)
        self.columns: tuple[str, ...] = (
            *CSV_BASE_COLUMNS[:5],
            *(CSV_POSE_COLUMNS if self.pose else ()),
            *CSV_BASE_COLUMNS[5:],
            *(f"{au_label(c)}_r" for c in self.intensity_codes),
            *(f"{au_label(c)}_p" for c in codes),
            *(f"{au_label(c)}_c" for c in codes),
        )
        self._order: dict[tuple[int, ...], np.ndarray] = {}
        super().__init__(path)
        self._emit(_csv_line([self.columns]))

    def write(self, result: FrameResult) -> None:
        """Append the rows of one frame (one per face, or one ``success=0`` row) and flush."""
        frame = result.index + 1
        stamp = f"{result.timestamp:.3f}"
        if not result.faces:  # as OpenFace: one success=0 row of zeros (integer columns stay integers)
            rows = [[frame, 0, stamp, 0, 0, *([0] * (len(self.columns) - 5))]]
        else:
            rows = [self._face_row(frame, stamp, face, result) for face in result.faces]
        self._emit(_csv_line(rows))
        self.rows += len(rows)

    def _face_row(self, frame: int, stamp: str, face: FaceResult, result: FrameResult) -> list[object]:
        order = self._order.get(face.au_codes)
        if order is None:
            missing = [c for c in self.au_codes if c not in face.au_codes]
            if missing:
                raise InputError(
                    f"face results have AUs {face.au_codes} but the CSV columns need {self.au_codes} "
                    f"(missing {missing}); open the sink with the model's au_codes"
                )
            order = np.array([face.au_codes.index(c) for c in self.au_codes], dtype=np.intp)
            self._order[face.au_codes] = order
        probs = np.asarray(face.probabilities, dtype=np.float64)[order]
        inten = np.asarray(face.intensities, dtype=np.float64)[order][self._inten_cols]
        occ = np.asarray(face.occurrences)[order]
        box = [f"{float(v):.1f}" for v in face.box]
        pose: list[str] = []
        if self.pose:
            values = face.geometry(result.width, result.height).openface_columns()
            pose = [f.format(values[c]) for f, c in zip(_POSE_FORMATS, CSV_POSE_COLUMNS, strict=True)]
        return [
            frame,
            face.face_id,
            stamp,
            f"{float(face.confidence):.3f}",
            1,
            *pose,
            *box,
            *(f"{r:.2f}" if r == r else "" for r in inten),  # NaN (no estimate): an empty field
            *(f"{p:.4f}" for p in probs),
            *(int(bool(o)) for o in occ),
        ]

    def __enter__(self) -> CSVSink:
        return self


class JSONLSink(_TextSink):
    """JSON Lines writer: one ``FrameResult.to_dict()`` per line, flushed per frame.

    Example:
        >>> with JSONLSink("out.jsonl") as sink:  # doctest: +SKIP
        ...     sink.write(result)
    """

    def write(self, result: FrameResult) -> None:
        """Append one frame's record and flush."""
        self._emit(json.dumps(result.to_dict(), separators=(",", ":")) + "\n")
        self.rows += 1

    def __enter__(self) -> JSONLSink:
        return self


def open_sink(
    path: str | Path,
    fmt: str | None = None,
    au_codes: Sequence[int | str] | None = None,
    pose: bool = False,
    *,
    intensity_codes: Sequence[int | str] = (),
) -> CSVSink | JSONLSink:
    """Open a CSV or JSON Lines sink.

    Args:
        path: output file; its folder must exist.
        fmt: ``"csv"`` or ``"jsonl"``; None infers it from the suffix (``.csv``,
            ``.jsonl``, ``.ndjson``). A ``.json`` name is refused: JSON Lines is not
            the one JSON document ``json.load`` expects.
        au_codes: the model's AU codes (needed for CSV columns).
        pose: CSV only: add OpenFace's gaze and pose columns (see `CSVSink`).
        intensity_codes: the AUs with an intensity (CSV ``AUxx_r`` columns; see `CSVSink`).

    Raises:
        InputError: unknown format, or CSV without ``au_codes``.
        OutputError: the path cannot be written, or is a ``.json`` file.

    Example:
        >>> sink = open_sink("out.csv", None, au_codes=(1, 12))  # doctest: +SKIP
    """
    fmt = sink_format(path, fmt)
    if fmt == "csv":
        if au_codes is None:
            raise InputError("a CSV sink needs the model's AU codes (au_codes)")
        return CSVSink(path, au_codes, pose=pose, intensity_codes=intensity_codes)
    return JSONLSink(path)


def sink_format(path: str | Path, fmt: str | None = None) -> str:
    """``"csv"`` or ``"jsonl"``: ``fmt``, or the one ``path``'s suffix names.

    Raises:
        InputError: ``fmt`` is unknown, or None and the suffix names no format.
        OutputError: ``path`` ends in ``.json`` (JSON Lines goes to ``.jsonl``).
    """
    path = Path(path)
    if path.suffix.lower() == ".json":
        raise OutputError(
            f"{str(path)!r}: aunce-rt writes JSON Lines (one JSON object per frame, which json.load "
            f"rejects); name it {str(path.with_suffix('.jsonl'))!r} (read it with "
            "pandas.read_json(path, lines=True)) or use .csv"
        )
    if fmt is None:
        fmt = SINK_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise InputError(
                f"cannot tell the output format of {str(path)!r} from its suffix; name it .csv or .jsonl, "
                "or pass the format explicitly (--format csv|jsonl)"
            )
    fmt = fmt.lower()
    if fmt in ("ndjson", "json"):
        fmt = "jsonl"
    if fmt not in ("csv", "jsonl"):
        raise InputError(f"unknown output format {fmt!r}; expected 'csv' or 'jsonl'")
    return fmt


def _csv_line(rows: Sequence[Sequence[object]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()
