"""The batch manifest: one `ManifestRow` per video in ``out_dir/manifest.csv``, rewritten atomically."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from aunce_rt.errors import OutputError

MANIFEST_NAME = "manifest.csv"
OK, FAILED = "ok", "failed"


@dataclass(frozen=True)
class ManifestRow:
    """One video of a batch.

    Attributes:
        source: the video's absolute path.
        output: its result file, relative to the batch's output folder ("" when failed).
        status: ``"ok"`` or ``"failed"``.
        frames: frames analysed (one CSV ``frame`` value / one JSON line each).
        rows: rows in the result file (CSV: one per face, or one per frame without a face).
        faces: distinct face track ids seen (faces found).
        seconds: wall time of the video, in seconds.
        fps: ``frames / seconds``.
        model: the model file name.
        error: one line saying why the video failed ("" when ok).
        reused: True when a finished output of an earlier run was verified and kept
            (not stored in the manifest file).
    """

    source: str
    output: str
    status: str
    frames: int = 0
    rows: int = 0
    faces: int = 0
    seconds: float = 0.0
    fps: float = 0.0
    model: str = ""
    error: str = ""
    reused: bool = False

    def __post_init__(self) -> None:
        if self.status not in (OK, FAILED):
            raise ValueError(f"status must be {OK!r} or {FAILED!r}; got {self.status!r}")


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ManifestRow) if f.name != "reused")


@dataclass(frozen=True)
class Manifest:
    """What `batch_detect` returns: the manifest's path and its rows, in source order."""

    path: Path
    rows: tuple[ManifestRow, ...]

    @property
    def ok(self) -> tuple[ManifestRow, ...]:
        """Rows of the videos that finished."""
        return tuple(r for r in self.rows if r.status == OK)

    @property
    def failed(self) -> tuple[ManifestRow, ...]:
        """Rows of the videos that failed (with their error)."""
        return tuple(r for r in self.rows if r.status == FAILED)

    @property
    def reused(self) -> tuple[ManifestRow, ...]:
        """Rows finished by an earlier run and verified, not redone."""
        return tuple(r for r in self.rows if r.reused)


def read_manifest(path: Path) -> dict[str, ManifestRow]:
    """The rows of an existing manifest by source ({} if none; unreadable rows are ignored)."""
    if not path.is_file():
        return {}
    rows: dict[str, ManifestRow] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    for record in csv.DictReader(io.StringIO(text)):
        try:
            row = ManifestRow(
                source=record["source"],
                output=record["output"],
                status=record["status"],
                frames=int(record["frames"]),
                rows=int(record["rows"]),
                faces=int(record["faces"]),
                seconds=float(record["seconds"]),
                fps=float(record["fps"]),
                model=record["model"],
                error=record["error"],
            )
        except (KeyError, TypeError, ValueError):
            continue
        rows[row.source] = row
    return rows


def write_manifest(path: Path, rows: Iterable[ManifestRow]) -> None:
    """Write the manifest to a temporary file, sync it and rename it over ``path`` (atomic)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        record = asdict(row)
        record["seconds"] = f"{row.seconds:.3f}"
        record["fps"] = f"{row.fps:.2f}"
        writer.writerow([record[c] for c in COLUMNS])
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(buffer.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(
            f"cannot write the manifest {str(path)!r} ({exc.strerror}); check the folder"
        ) from exc


def verify_output(row: ManifestRow, out_dir: Path) -> str:
    """Why the output of a finished row cannot be trusted ("" when it is complete).

    The file must exist, parse to the end (CSV: every row as wide as the header;
    JSON Lines: every line a JSON object) and hold exactly the rows and frames recorded.
    """
    if row.status != OK or not row.output:
        return "not finished"
    path = out_dir / row.output
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return f"unreadable ({exc})"
    if text and not text.endswith("\n"):
        return "truncated (no final newline)"
    if path.suffix.lower() == ".csv":
        records = list(csv.reader(io.StringIO(text)))
        if not records:
            return "empty"
        header, body = records[0], records[1:]
        if header[:1] != ["frame"] or any(len(r) != len(header) for r in body):
            return "malformed rows"
        frames = len({r[0] for r in body})
        count = len(body)
    else:
        try:
            lines = [json.loads(line) for line in text.splitlines()]
        except ValueError:
            return "malformed JSON line"
        frames = count = len(lines)
    if count != row.rows or frames != row.frames:
        return f"{count} rows / {frames} frames, the manifest records {row.rows} / {row.frames}"
    return ""


def mark_reused(row: ManifestRow) -> ManifestRow:
    """The same row, flagged as kept from an earlier run."""
    return replace(row, reused=True)
