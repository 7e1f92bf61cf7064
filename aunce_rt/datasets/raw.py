"""Readers for the benchmarks' own annotation layouts (as publicly documented).

* BP4D / BP4D+: ``AUCoding/AU_OCC/F001_T1.csv``; header = frame column then AU
  numbers ("0,1,2,...,99" style), one row per frame, values 0/1/9 (9 = not coded).
* DISFA: ``ActionUnit_Labels/SN001/SN001_au1.txt``; lines "frame,intensity" (0-5).
* Aff-Wild2: ``AU_Set/Train_Set/<video>.txt`` (and ``Validation_Set``); header
  "AU1,AU2,...", one row per frame (1-based), -1 = unlabelled.

Each reader returns label records for the protocol's AUs and resolves the frame
images with the protocol's ``raw.images`` template (``{subject}``, ``{session}``,
``{frame}``; frame numbers tried with each ``frame_padding``).

Example:
    >>> idx = read_raw("/data/BP4D", load_protocol("bp4d"))  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aunce_rt.aus import au_label, parse_au_code
from aunce_rt.datasets.index import AUIndex
from aunce_rt.datasets.protocol import Protocol
from aunce_rt.errors import InputError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrameRecord:
    """One annotated frame before its image is located."""

    subject: str
    session: str
    frame: int
    raw: tuple[float, ...]  # raw values in the protocol's AU order
    where: str  # "file:line" of the annotation
    group: str = ""


def _au_header(header: Sequence[str], wanted: Sequence[int], where: str, skip_first: bool) -> list[int]:
    names = list(header[1:] if skip_first else header)
    codes = []
    for name in names:
        try:
            codes.append(parse_au_code(name))
        except InputError:
            codes.append(-1)
    missing = [c for c in wanted if c not in codes]
    if missing:
        raise InputError(
            f"{where}: the header has no column for {', '.join(au_label(c) for c in missing)}; "
            f"expected AU numbers {list(wanted)}, got {names[:20]}"
        )
    offset = 1 if skip_first else 0
    return [codes.index(c) + offset for c in wanted]


def _number(token: str, where: str) -> float:
    try:
        return float(token)
    except ValueError:
        raise InputError(f"{where}: {token!r} is not a number") from None


def read_bp4d_records(raw_dir: Path, protocol: Protocol) -> list[FrameRecord]:
    """BP4D/BP4D+ per-session AU occurrence CSVs -> records (one per frame)."""
    assert protocol.raw is not None
    files = sorted(raw_dir.glob(protocol.raw.labels_glob))
    records = []
    for f in files:
        m = re.fullmatch(r"([A-Za-z]+\d+)_(\w+)", f.stem)
        if not m:
            raise InputError(f"{f}: expected a file name like F001_T1.csv (subject_session)")
        with f.open(newline="") as fh:
            rows = list(csv.reader(fh))
        if not rows:
            raise InputError(f"{f}:1: empty annotation file")
        cols = _au_header(rows[0], protocol.au_codes, f"{f}:1", skip_first=True)
        for line_no, row in enumerate(rows[1:], start=2):
            if not row:
                continue
            where = f"{f}:{line_no}"
            if len(row) != len(rows[0]):
                raise InputError(f"{where}: {len(row)} fields; the header has {len(rows[0])}")
            frame = int(_number(row[0], where))
            records.append(
                FrameRecord(m.group(1), m.group(2), frame, tuple(_number(row[c], where) for c in cols), where)
            )
    return records


def read_disfa_records(raw_dir: Path, protocol: Protocol) -> list[FrameRecord]:
    """DISFA per-subject, per-AU intensity files -> records (frames present in every AU file)."""
    assert protocol.raw is not None
    by_subject: dict[str, dict[int, Path]] = {}
    for f in sorted(raw_dir.glob(protocol.raw.labels_glob)):
        m = re.fullmatch(r"(\w+?)_au(\d+)", f.stem, flags=re.IGNORECASE)
        if not m:
            raise InputError(f"{f}: expected a file name like SN001_au1.txt")
        by_subject.setdefault(m.group(1), {})[int(m.group(2))] = f
    records = []
    for subject, files in sorted(by_subject.items()):
        missing = [c for c in protocol.au_codes if c not in files]
        if missing:
            raise InputError(
                f"{raw_dir}: subject {subject} has no intensity file for "
                f"{', '.join(au_label(c) for c in missing)} (expected {subject}_au<N>.txt)"
            )
        per_au: list[dict[int, tuple[float, str]]] = []
        for code in protocol.au_codes:
            values: dict[int, tuple[float, str]] = {}
            for line_no, line in enumerate(files[code].read_text().splitlines(), start=1):
                if not line.strip():
                    continue
                where = f"{files[code]}:{line_no}"
                parts = line.replace(" ", "").split(",")
                if len(parts) != 2:
                    raise InputError(f"{where}: expected 'frame,intensity', got {line!r}")
                values[int(_number(parts[0], where))] = (_number(parts[1], where), where)
            per_au.append(values)
        frames = sorted(set.intersection(*(set(v) for v in per_au)))
        for frame in frames:
            raw = tuple(v[frame][0] for v in per_au)
            records.append(FrameRecord(subject, "", frame, raw, per_au[0][frame][1]))
    return records


def read_affwild2_records(raw_dir: Path, protocol: Protocol) -> list[FrameRecord]:
    """Aff-Wild2 per-video AU txt files -> records; the set folder gives the group."""
    assert protocol.raw is not None
    records = []
    for f in sorted(raw_dir.glob(protocol.raw.labels_glob)):
        group = "train" if "train" in f.parent.name.lower() else "test"
        lines = f.read_text().splitlines()
        if not lines:
            raise InputError(f"{f}:1: empty annotation file")
        header = lines[0].split(",")
        cols = _au_header(header, protocol.au_codes, f"{f}:1", skip_first=False)
        for line_no, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            where = f"{f}:{line_no}"
            row = line.split(",")
            if len(row) != len(header):
                raise InputError(f"{where}: {len(row)} values; the header has {len(header)}")
            records.append(
                FrameRecord(
                    f.stem, "", line_no - 1, tuple(_number(row[c], where) for c in cols), where, group
                )
            )
    return records


RAW_READERS = {"bp4d": read_bp4d_records, "disfa": read_disfa_records, "affwild2": read_affwild2_records}


def frame_image(raw_dir: Path, protocol: Protocol, rec: FrameRecord) -> Path | None:
    """The first existing image for a record, trying each frame padding; None if none exists."""
    assert protocol.raw is not None
    for pad in protocol.raw.frame_padding:
        frame = f"{rec.frame:0{pad}d}" if pad else str(rec.frame)
        p = raw_dir / protocol.raw.images.format(subject=rec.subject, session=rec.session, frame=frame)
        if p.is_file():
            return p
    return None


def read_raw(raw_dir: str | Path, protocol: Protocol, *, missing: str = "error") -> AUIndex:
    """Read a benchmark's raw annotations into an AUIndex of its frame images.

    Args:
        raw_dir: the benchmark's root folder.
        protocol: its protocol (AU list, label convention, ``raw`` layout).
        missing: what to do with an annotated frame without an image:
            "error" (InputError naming the annotation line) or "skip" (logged).
    """
    raw_dir = Path(raw_dir)
    if protocol.raw is None:
        raise InputError(
            f"protocol {protocol.name!r} has no public raw layout we can read; convert its labels to the "
            "list format or a CSV manifest (path, subject, AU columns)"
        )
    if not raw_dir.is_dir():
        raise InputError(f"raw dataset folder {str(raw_dir)!r} does not exist")
    reader = RAW_READERS[protocol.raw.layout]
    records = reader(raw_dir, protocol)
    if not records:
        raise InputError(
            f"no annotation files match {protocol.raw.labels_glob!r} under {raw_dir}; "
            f"is this the {protocol.name} root folder?"
        )
    paths, keep = [], []
    for i, rec in enumerate(records):
        img = frame_image(raw_dir, protocol, rec)
        if img is None:
            if missing == "error":
                raise InputError(
                    f"{rec.where}: no image for {rec.subject} {rec.session} frame {rec.frame} "
                    f"(looked for {protocol.raw.images!r} under {raw_dir})"
                )
            continue
        paths.append(str(img))
        keep.append(i)
    if len(keep) < len(records):
        logger.warning("%d annotated frames have no image and were skipped", len(records) - len(keep))
    raw = np.array([records[i].raw for i in keep], dtype=np.float64).reshape(
        len(keep), len(protocol.au_codes)
    )
    groups = tuple(records[i].group for i in keep) if any(r.group for r in records) else ()
    return AUIndex(
        tuple(paths),
        protocol.labels.convert(raw),
        tuple(records[i].subject for i in keep),
        protocol.au_codes,
        source=str(raw_dir),
        groups=groups,
        intensities=_intensities(raw, protocol) if protocol.labels.convention == "intensity" else None,
    )


def _intensities(raw: np.ndarray, protocol: Protocol) -> np.ndarray:
    """Raw intensity codes -> (S, N) float32, NaN where the label convention says "not coded"."""
    unknown = protocol.labels.convert(raw) < 0
    return np.where(unknown, np.nan, raw).astype(np.float32)
