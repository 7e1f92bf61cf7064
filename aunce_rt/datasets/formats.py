"""Readers for the label files users already have: the list format and a CSV manifest.

* List format (ME-GraphAU family): a text file of image paths, one per line, and
  a parallel label file with one row of space-separated values per image
  (0/1, and -1 for "unlabelled"). Paths are relative to an image root.
* CSV manifest (custom data): a header with ``path``, ``subject`` and one column
  per AU (``AU01``, ``AU1`` or ``1``), other columns ignored.

Every reader checks what it reads and names the file and line of the first bad
entry: a missing image, a row of the wrong width, a value outside {-1, 0, 1}, an
AU set that does not match the one asked for.

Example:
    >>> idx = read_list("train_img.txt", "train_label.txt", au_codes=(1, 2, 4), root="crops")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aunce_rt.aus import au_label, parse_au_code
from aunce_rt.datasets.index import LABEL_VALUES, AUIndex
from aunce_rt.errors import InputError

DEFAULT_SUBJECT_PATTERN = r"^([^/\\]+)"  # first path component


def subject_of(path: str, pattern: str | None = None, *, where: str = "") -> str:
    """Subject id of an image path: first group of ``pattern`` searched in the path.

    Raises:
        InputError: the pattern does not match (names ``where``, e.g. "file:line").
    """
    m = re.search(pattern or DEFAULT_SUBJECT_PATTERN, path.replace("\\", "/"))
    if not m:
        raise InputError(
            f"{where}: cannot read a subject id from {path!r} with pattern {pattern!r}; "
            "pass a subject pattern whose first group captures the subject"
        )
    return m.group(1) if m.groups() else m.group(0)


def _parse_label(token: str, where: str) -> int:
    try:
        value = float(token)
    except ValueError:
        raise InputError(f"{where}: label {token!r} is not a number; expected -1, 0 or 1") from None
    if value not in LABEL_VALUES:
        raise InputError(f"{where}: label {token!r} is outside {{-1, 0, 1}}; fix the label file")
    return int(value)


def _resolve(root: Path | None, rel: str) -> Path:
    p = Path(rel)
    return p if p.is_absolute() or root is None else root / p


def _check_image(path: Path, where: str) -> None:
    if not path.is_file():
        raise InputError(f"{where}: image {str(path)!r} does not exist; fix the path or the image root")


def read_list(
    images_file: str | Path,
    labels_file: str | Path,
    au_codes: Sequence[int],
    *,
    root: str | Path | None = None,
    subject_pattern: str | None = None,
    check_images: bool = True,
) -> AUIndex:
    """Read the ME-GraphAU list format.

    Args:
        images_file: text file, one image path per line (relative to ``root``).
        labels_file: parallel text file, one row of len(au_codes) values per line.
        au_codes: the AU of each label column, in order.
        root: folder image paths are relative to (default: the images file's folder).
        subject_pattern: regex whose first group is the subject id (default: first path part).
        check_images: raise if an image file is missing.

    Returns:
        AUIndex with absolute-or-root-relative paths resolved against ``root``.
    """
    images_file, labels_file = Path(images_file), Path(labels_file)
    for f in (images_file, labels_file):
        if not f.is_file():
            raise InputError(f"list file {str(f)!r} does not exist")
    root_dir = Path(root) if root is not None else images_file.parent
    img_lines = [ln.strip() for ln in images_file.read_text().splitlines()]
    lab_lines = [ln.strip() for ln in labels_file.read_text().splitlines()]
    # Trailing blank lines are tolerated; blank lines inside are not.
    while img_lines and not img_lines[-1]:
        img_lines.pop()
    while lab_lines and not lab_lines[-1]:
        lab_lines.pop()
    if len(img_lines) != len(lab_lines):
        raise InputError(
            f"{images_file} has {len(img_lines)} lines but {labels_file} has {len(lab_lines)}; "
            "the two list files must be parallel (one label row per image)"
        )
    n = len(au_codes)
    paths, subjects, labels = [], [], np.zeros((len(img_lines), n), dtype=np.int8)
    for i, (img, lab) in enumerate(zip(img_lines, lab_lines, strict=True)):
        where_img, where_lab = f"{images_file}:{i + 1}", f"{labels_file}:{i + 1}"
        if not img:
            raise InputError(f"{where_img}: empty image path")
        tokens = lab.replace(",", " ").split()
        if len(tokens) != n:
            raise InputError(
                f"{where_lab}: {len(tokens)} label values, expected {n} (one per AU "
                f"{', '.join(au_label(c) for c in au_codes)}); fix the row or the config's AU list"
            )
        labels[i] = [_parse_label(t, where_lab) for t in tokens]
        path = _resolve(root_dir, img)
        if check_images:
            _check_image(path, where_img)
        paths.append(str(path))
        subjects.append(subject_of(img, subject_pattern, where=where_img))
    return AUIndex(tuple(paths), labels, tuple(subjects), tuple(au_codes), source=str(images_file))


def write_list(index: AUIndex, images_file: str | Path, labels_file: str | Path, *, root: str | Path) -> None:
    """Write ``index`` in the list format, paths relative to ``root``."""
    root = Path(root)
    rel = [Path(p).relative_to(root).as_posix() if Path(p).is_absolute() else p for p in index.paths]
    Path(images_file).write_text("".join(f"{p}\n" for p in rel))
    Path(labels_file).write_text("".join(" ".join(str(int(v)) for v in row) + "\n" for row in index.labels))


def _au_columns(header: Sequence[str], where: str) -> dict[int, str]:
    cols: dict[int, str] = {}
    for name in header:
        key = name.strip()
        if re.fullmatch(r"(?i)au\d+(_c)?|\d+", key):
            code = parse_au_code(key)
            if code in cols:
                raise InputError(f"{where}: AU{code} appears twice in the header ({cols[code]!r}, {key!r})")
            cols[code] = name
    return cols


def _intensity_columns(header: Sequence[str]) -> dict[int, str]:
    """``AUxx_r`` columns (OpenFace's intensity naming) -> their AU codes."""
    return {parse_au_code(n.strip()[:-2]): n for n in header if re.fullmatch(r"(?i)au\d+_r", n.strip())}


def _intensity(token: str, where: str) -> float:
    token = token.strip()
    if not token:
        return float("nan")
    try:
        value = float(token)
    except ValueError:
        raise InputError(f"{where}: intensity {token!r} is not a number (empty: not coded)") from None
    if not value >= 0:
        raise InputError(f"{where}: intensity {token!r} must be >= 0 (empty: not coded)")
    return value


def read_manifest(
    manifest: str | Path,
    au_codes: Sequence[int] | None = None,
    *,
    root: str | Path | None = None,
    check_images: bool = True,
) -> AUIndex:
    """Read a CSV manifest: ``path, subject, AU01, AU02, ...`` (extra columns ignored).

    Intensity columns ``AU01_r, ...`` (what ``prepare`` writes for an intensity-coded benchmark
    such as DISFA; empty = not coded) become ``AUIndex.intensities`` when every AU has one.

    Args:
        manifest: the CSV file.
        au_codes: AUs the config expects; every one must be a column (extra AU
            columns are dropped). None keeps the manifest's AUs in header order.
        root: folder relative paths are resolved against (default: the manifest's folder).
        check_images: raise if an image file is missing.
    """
    manifest = Path(manifest)
    if not manifest.is_file():
        raise InputError(f"manifest {str(manifest)!r} does not exist")
    root_dir = Path(root) if root is not None else manifest.parent
    with manifest.open(newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        for needed in ("path", "subject"):
            if needed not in header:
                raise InputError(
                    f"{manifest}:1: the header has no {needed!r} column; expected 'path, subject, AU01, ...', "
                    f"got {header}"
                )
        cols = _au_columns(header, f"{manifest}:1")
        if not cols:
            raise InputError(f"{manifest}:1: no AU columns (AU01, AU1 or 1) in the header {header}")
        codes = tuple(au_codes) if au_codes is not None else tuple(cols)
        missing = [c for c in codes if c not in cols]
        if missing:
            raise InputError(
                f"{manifest}:1: the manifest has AUs {sorted(cols)} but the config asks for {list(codes)} "
                f"({', '.join(au_label(c) for c in missing)} missing); fix the config's AU list or the manifest"
            )
        inten_cols = _intensity_columns(header)
        with_inten = all(c in inten_cols for c in codes)
        paths, subjects, rows, inten_rows = [], [], [], []
        for line_no, row in enumerate(reader, start=2):
            where = f"{manifest}:{line_no}"
            if None in row or any(row.get(h) is None for h in header):
                raise InputError(f"{where}: row has {len(row)} fields; the header has {len(header)}")
            path = _resolve(root_dir, row["path"].strip())
            if check_images:
                _check_image(path, where)
            rows.append([_parse_label(row[cols[c]].strip() or "-1", f"{where} ({cols[c]})") for c in codes])
            if with_inten:
                inten_rows.append(
                    [_intensity(row[inten_cols[c]], f"{where} ({inten_cols[c]})") for c in codes]
                )
            paths.append(str(path))
            subjects.append(row["subject"].strip())
    labels = np.array(rows, dtype=np.int8).reshape(len(rows), len(codes))
    inten = np.array(inten_rows, np.float32).reshape(len(rows), len(codes)) if with_inten else None
    return AUIndex(tuple(paths), labels, tuple(subjects), codes, source=str(manifest), intensities=inten)


def write_manifest(index: AUIndex, manifest: str | Path, *, root: str | Path | None = None) -> Path:
    """Write ``index`` as a CSV manifest (paths relative to ``root`` when given; ``AUxx_r`` columns
    after the labels when it has intensities)."""
    manifest = Path(manifest)
    root_dir = Path(root) if root is not None else None
    with manifest.open("w", newline="") as fh:
        w = csv.writer(fh)
        inten = index.intensities
        extra = [f"{au_label(c)}_r" for c in index.au_codes] if inten is not None else []
        w.writerow(["path", "subject", *(au_label(c) for c in index.au_codes), *extra])
        for i, (path, subject, row) in enumerate(zip(index.paths, index.subjects, index.labels, strict=True)):
            p = Path(path)
            if root_dir is not None and p.is_absolute():
                p = p.relative_to(root_dir)
            values = [] if inten is None else ["" if np.isnan(v) else f"{v:g}" for v in inten[i]]
            w.writerow([p.as_posix(), subject, *(int(v) for v in row), *values])
    return manifest
