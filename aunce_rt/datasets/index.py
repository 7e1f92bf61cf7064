"""The index of a labelled AU dataset: image paths, labels, subjects, AU codes.

Every reader (list format, CSV manifest, raw benchmark layouts) returns an
``AUIndex``; the protocol splits it; the one dataset class reads it. Labels use a
single convention everywhere: 1 present, 0 absent, -1 unknown (masked).

Example:
    >>> import numpy as np
    >>> idx = AUIndex(paths=("a.png", "b.png"), labels=np.array([[1, 0], [0, -1]]),
    ...               subjects=("s1", "s2"), au_codes=(1, 2))
    >>> idx.select_subjects(["s2"]).paths
    ('b.png',)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from aunce_rt.aus import au_label
from aunce_rt.errors import InputError

LABEL_VALUES = (-1, 0, 1)


@dataclass(frozen=True)
class AUIndex:
    """Frames of one dataset with their AU labels.

    Attributes:
        paths: S image paths (str), absolute or relative to the reader's root.
        labels: (S, N) int8 in {-1, 0, 1}; column i is AU ``au_codes[i]``.
        subjects: S subject ids (the unit of subject-exclusive splits).
        au_codes: N FACS codes, in column order.
        source: where the index came from (a file name), for error messages.
        groups: optional per-frame group (e.g. a benchmark's own train/test set).
        intensities: optional (S, N) float32 AU intensities on the benchmark's scale
            (DISFA's 0-5), NaN where not coded; None when the source has no intensity.
    """

    paths: tuple[str, ...]
    labels: np.ndarray
    subjects: tuple[str, ...]
    au_codes: tuple[int, ...]
    source: str = ""
    groups: tuple[str, ...] = field(default=())
    intensities: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels)
        if labels.ndim != 2:
            raise InputError(f"{self.source or 'index'}: labels must be (S, N); got shape {labels.shape}")
        object.__setattr__(self, "paths", tuple(str(p) for p in self.paths))
        object.__setattr__(self, "subjects", tuple(str(s) for s in self.subjects))
        object.__setattr__(self, "au_codes", tuple(int(c) for c in self.au_codes))
        object.__setattr__(self, "groups", tuple(str(g) for g in self.groups))
        s, n = labels.shape
        if len(self.paths) != s or len(self.subjects) != s:
            raise InputError(
                f"{self.source or 'index'}: {len(self.paths)} paths, {len(self.subjects)} subjects "
                f"and {s} label rows; they must be equal"
            )
        if self.groups and len(self.groups) != s:
            raise InputError(f"{self.source or 'index'}: {len(self.groups)} groups for {s} frames")
        if n != len(self.au_codes):
            raise InputError(
                f"{self.source or 'index'}: {n} label columns for {len(self.au_codes)} AUs {self.au_codes}"
            )
        bad = ~np.isin(labels, LABEL_VALUES)
        if bad.any():
            row, col = (int(v) for v in np.argwhere(bad)[0])
            raise InputError(
                f"{self.source or 'index'}: label {labels[row, col]!r} for {au_label(self.au_codes[col])} "
                f"of {self.paths[row]} is outside {{-1, 0, 1}}"
            )
        labels = labels.astype(np.int8)
        labels.setflags(write=False)
        object.__setattr__(self, "labels", labels)
        if self.intensities is not None:
            inten = np.array(self.intensities, dtype=np.float32)  # a copy: made read-only below
            if inten.shape != labels.shape:
                raise InputError(
                    f"{self.source or 'index'}: intensities {inten.shape} must match the labels {labels.shape}"
                )
            if (inten[np.isfinite(inten)] < 0).any() or np.isinf(inten).any():
                raise InputError(f"{self.source or 'index'}: intensities must be >= 0 (NaN: not coded)")
            inten.setflags(write=False)
            object.__setattr__(self, "intensities", inten)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def num_aus(self) -> int:
        return len(self.au_codes)

    @property
    def subject_set(self) -> tuple[str, ...]:
        """Distinct subjects in first-appearance order."""
        return tuple(dict.fromkeys(self.subjects))

    def take(self, rows: np.ndarray | Sequence[int]) -> AUIndex:
        """The frames at ``rows`` (indices or a boolean mask)."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        return AUIndex(
            paths=tuple(self.paths[i] for i in rows),
            labels=self.labels[rows],
            subjects=tuple(self.subjects[i] for i in rows),
            au_codes=self.au_codes,
            source=self.source,
            groups=tuple(self.groups[i] for i in rows) if self.groups else (),
            intensities=None if self.intensities is None else self.intensities[rows],
        )

    def select_subjects(self, subjects: Iterable[str]) -> AUIndex:
        """The frames whose subject is in ``subjects``."""
        wanted = set(subjects)
        return self.take(np.array([s in wanted for s in self.subjects], dtype=bool))

    def select_aus(self, au_codes: Sequence[int]) -> AUIndex:
        """Keep (and reorder) the label columns of ``au_codes``; InputError if one is missing."""
        missing = [c for c in au_codes if c not in self.au_codes]
        if missing:
            raise InputError(
                f"{self.source or 'index'} has AUs {list(self.au_codes)}; the config asks for "
                f"{list(au_codes)}, of which {missing} are missing. Fix the config's AU list or the labels."
            )
        cols = [self.au_codes.index(c) for c in au_codes]
        return AUIndex(
            paths=self.paths,
            labels=self.labels[:, cols],
            subjects=self.subjects,
            au_codes=tuple(au_codes),
            source=self.source,
            groups=self.groups,
            intensities=None if self.intensities is None else self.intensities[:, cols],
        )

    def occurrence(self) -> np.ndarray:
        """(N,) occurrence rate of each AU over labelled (non -1) frames; NaN if none labelled."""
        known = self.labels >= 0
        count = known.sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, (self.labels == 1).sum(0) / np.maximum(count, 1), np.nan)
