"""Sinks: write `FrameResult`s to CSV (OpenFace 2.x style) or JSON Lines, frames to video.

The CSV has OpenFace 2.x's column names and order, so tools that read OpenFace
output read ours::

    frame, face_id, timestamp, confidence, success, x_min, y_min, x_max, y_max,
    AU01_p, AU02_p, ..., AU01_c, AU02_c, ...

``frame`` is 1-based (``FrameResult.index + 1``), ``timestamp`` is in seconds with 3
decimals, ``AUxx_p`` is the probability (4 decimals) and ``AUxx_c`` the occurrence
(0/1). There is one row per face; a frame without a face gives one row with
``face_id`` 0, ``confidence`` 0, ``success`` 0 and empty box and AU fields.

Every ``write`` sends the whole frame's rows to the operating system in one
unbuffered write, so the file is valid CSV at every moment and a killed process
keeps every row written before it died (``close`` also ``fsync``s to disk).

The output folder is checked when a sink is opened, before any work: a missing or
read-only folder raises `OutputError` naming it and the fix.

Example:
    >>> with CSVSink("out.csv", au_codes=(1, 2, 12)) as sink:  # doctest: +SKIP
    ...     for result in detector.stream("video.mp4"):
    ...         sink.write(result)
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from aunce_rt.aus import au_label, parse_au_code
from aunce_rt.errors import InputError, OutputError
from aunce_rt.results import FaceResult, FrameResult

logger = logging.getLogger(__name__)

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
SINK_FORMATS: dict[str, str] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


def check_output_path(path: str | Path) -> Path:
    """Check that ``path`` can be written as a file; return it as a `Path`.

    Raises:
        OutputError: the folder does not exist or is not writable, or ``path`` is a folder.
    """
    path = Path(path).expanduser()
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(
            f"output {str(path)!r} is a folder; pass a file path such as {str(path / 'out.csv')!r}"
        )
    if not folder.is_dir():
        raise OutputError(
            f"output folder {str(folder)!r} does not exist; create it (mkdir -p {folder}) or choose another path"
        )
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OutputError(
            f"cannot write {str(path)!r}: permission denied; choose a writable folder or fix its permissions"
        )
    return path


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

    Attributes:
        columns: the header, in order.
        rows: rows written so far.

    Example:
        >>> with CSVSink("out.csv", au_codes=(1, 12)) as sink:  # doctest: +SKIP
        ...     sink.write(result)
    """

    def __init__(self, path: str | Path, au_codes: Sequence[int | str]) -> None:
        codes = tuple(parse_au_code(c) for c in au_codes)
        if not codes:
            raise InputError("CSVSink needs the model's AU codes; got an empty list")
        if len(set(codes)) != len(codes):
            raise InputError(f"AU codes must be unique; got {codes}")
        self.au_codes = codes
        self.columns: tuple[str, ...] = (
            *CSV_BASE_COLUMNS,
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
        if not result.faces:
            empty = [""] * (4 + 2 * len(self.au_codes))
            rows = [[frame, 0, stamp, 0, 0, *empty]]
        else:
            rows = [self._face_row(frame, stamp, face) for face in result.faces]
        self._emit(_csv_line(rows))
        self.rows += len(rows)

    def _face_row(self, frame: int, stamp: str, face: FaceResult) -> list[object]:
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
        occ = np.asarray(face.occurrences)[order]
        box = [f"{float(v):.1f}" for v in face.box]
        return [
            frame,
            face.face_id,
            stamp,
            f"{float(face.confidence):.3f}",
            1,
            *box,
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
) -> CSVSink | JSONLSink:
    """Open a CSV or JSON Lines sink.

    Args:
        path: output file; its folder must exist.
        fmt: ``"csv"`` or ``"jsonl"``; None infers it from the suffix (``.csv``,
            ``.jsonl``, ``.ndjson``, ``.json``).
        au_codes: the model's AU codes (needed for CSV columns).

    Raises:
        InputError: unknown format, or CSV without ``au_codes``.
        OutputError: the path cannot be written.

    Example:
        >>> sink = open_sink("out.csv", None, au_codes=(1, 12))  # doctest: +SKIP
    """
    if fmt is None:
        fmt = SINK_FORMATS.get(Path(path).suffix.lower())
        if fmt is None:
            raise InputError(
                f"cannot tell the output format of {str(path)!r} from its suffix; name it .csv or .jsonl, "
                "or pass the format explicitly"
            )
    fmt = fmt.lower()
    if fmt == "csv":
        if au_codes is None:
            raise InputError("a CSV sink needs the model's AU codes (au_codes)")
        return CSVSink(path, au_codes)
    if fmt in ("jsonl", "json", "ndjson"):
        return JSONLSink(path)
    raise InputError(f"unknown output format {fmt!r}; expected 'csv' or 'jsonl'")


class VideoSink:
    """Annotated-video writer (``cv2.VideoWriter``; mp4v, or MJPG for .avi).

    Args:
        path: video file to create; its folder must exist.
        fps: frame rate; None or <= 0 writes 30 fps (e.g. for image folders).
        size: ``(width, height)``; None takes the first frame's size. Frames of
            another size are resized (with one logged warning).

    Example:
        >>> with VideoSink("annotated.mp4", fps=30) as out:  # doctest: +SKIP
        ...     out.write(draw_overlay(frame.image, result))
    """

    def __init__(
        self, path: str | Path, fps: float | None = None, size: tuple[int, int] | None = None
    ) -> None:
        self.path = check_output_path(path)
        if fps is None or not math.isfinite(fps) or fps <= 0:
            fps = 30.0
        self.fps = float(fps)
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.frames = 0
        self._writer: cv2.VideoWriter | None = None
        self._warned = False
        if self.size is not None:
            self._open(self.size)

    def _open(self, size: tuple[int, int]) -> None:
        fourcc = "MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"
        writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*fourcc), self.fps, size)
        if not writer.isOpened():
            writer.release()
            raise OutputError(
                f"cannot open a video writer for {str(self.path)!r} ({fourcc}, {size[0]}x{size[1]}); "
                "use a .mp4 or .avi name in a writable folder"
            )
        self._writer = writer
        self.size = size

    def write(self, image_bgr: np.ndarray) -> None:
        """Append one ``(H, W, 3)`` uint8 BGR frame."""
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
            raise InputError(
                f"VideoSink.write expects (H, W, 3) uint8 BGR; got {image_bgr.shape} {image_bgr.dtype}"
            )
        h, w = image_bgr.shape[:2]
        if self._writer is None:
            self._open(self.size or (w, h))
        assert self.size is not None and self._writer is not None
        if (w, h) != self.size:
            if not self._warned:
                logger.warning("%s: frames of %dx%d resized to %dx%d", self.path, w, h, *self.size)
                self._warned = True
            image_bgr = cv2.resize(image_bgr, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(image_bgr)
        self.frames += 1

    def close(self) -> None:
        """Finish the file (idempotent)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> VideoSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


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
        InputError: the file is missing, empty or ragged.

    Example:
        >>> cols = read_au_csv("openface.csv")  # doctest: +SKIP
        >>> cols["AU12_r"].shape
        (288,)
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"CSV {str(path)!r} does not exist; check the path")
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
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


def _csv_line(rows: Sequence[Sequence[object]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()
