"""Benchmark protocols as data: AU lists, folds and label conventions from YAML.

Each file in ``training/data/protocols/`` describes one benchmark or
cross-dataset protocol. ``Protocol.splits`` turns an ``AUIndex`` (or two, for
cross-dataset protocols) into train/test splits and checks that no subject is
in both.

Example:
    >>> p = load_protocol("bp4d")
    >>> p.kind, len(p.folds), p.au_codes[:3]
    ('folds', 3, (1, 2, 4))
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aunce_rt.datasets.index import AUIndex
from aunce_rt.errors import InputError

PROTOCOL_DIR = Path(__file__).resolve().parent / "protocols"
KINDS = ("folds", "train_test", "cross")


@dataclass(frozen=True)
class LabelConvention:
    """How a benchmark's raw values become {-1, 0, 1}.

    Attributes:
        convention: "occurrence" (raw 0/1) or "intensity" (raw 0-5).
        present_threshold: intensity at or above which an AU is present.
        unknown_values: raw values meaning "not coded" (read as -1).
    """

    convention: str = "occurrence"
    present_threshold: float = 1.0
    unknown_values: tuple[float, ...] = ()

    def convert(self, raw: np.ndarray) -> np.ndarray:
        """Raw values (any shape) -> int8 labels in {-1, 0, 1}; negative raw values are -1."""
        raw = np.asarray(raw, dtype=np.float64)
        unknown = np.isin(raw, self.unknown_values) | (raw < 0) | np.isnan(raw)
        if self.convention == "intensity":
            out = (raw >= self.present_threshold).astype(np.int8)
        else:
            out = (raw > 0).astype(np.int8)
        out[unknown] = -1
        return out


@dataclass(frozen=True)
class RawLayout:
    """Where a benchmark's raw annotations and frames are (relative to RAW_DIR)."""

    layout: str
    labels_glob: str
    images: str
    frame_padding: tuple[int, ...] = (0,)


@dataclass(frozen=True)
class Split:
    """One train/test split of a protocol (``name`` e.g. "fold1")."""

    name: str
    train: AUIndex
    test: AUIndex


@dataclass(frozen=True)
class Protocol:
    """A benchmark protocol loaded from YAML (see ``training/data/protocols``)."""

    name: str
    au_codes: tuple[int, ...]
    kind: str
    description: str = ""
    folds: tuple[tuple[str, ...], ...] | str = ()
    train_subjects: tuple[str, ...] | str | None = None
    test_subjects: tuple[str, ...] | str | None = None
    train_dataset: str = ""
    test_dataset: str = ""
    labels: LabelConvention = field(default_factory=LabelConvention)
    subject_pattern: str | None = None
    top_k: int = 4
    num_positives: int = 12
    raw: RawLayout | None = None
    source: str = ""

    @property
    def num_folds(self) -> int:
        return 3 if self.folds == "modulo" else len(self.folds)

    def split_names(self) -> tuple[str, ...]:
        """Names of the splits ``splits`` returns: fold1..foldK or ("test",)."""
        if self.kind == "folds":
            return tuple(f"fold{i + 1}" for i in range(self.num_folds))
        return ("test",)

    def fold_subjects(self, subjects: Sequence[str]) -> tuple[tuple[str, ...], ...]:
        """The subjects of each fold (``folds: modulo`` assigns by the id's number mod 3)."""
        if self.folds == "modulo":
            out: list[list[str]] = [[], [], []]
            for s in sorted(set(subjects)):
                digits = re.findall(r"\d+", s)
                if not digits:
                    raise InputError(f"{self.source}: subject {s!r} has no number for the modulo fold rule")
                out[int(digits[-1]) % 3].append(s)
            return tuple(tuple(f) for f in out)
        return tuple(self.folds)  # type: ignore[arg-type]

    def splits(
        self,
        index: AUIndex,
        test_index: AUIndex | None = None,
        *,
        train_subjects: Sequence[str] | None = None,
        test_subjects: Sequence[str] | None = None,
    ) -> list[Split]:
        """Split ``index`` by this protocol.

        Args:
            index: all frames of the (training) dataset.
            test_index: the test dataset, for ``cross`` protocols or when the
                train and test sets come as separate files.
            train_subjects / test_subjects: override the YAML's subject lists
                (GFT's official lists must be supplied this way).

        Returns:
            One split per fold (``folds``) or one "test" split; labels reduced
            to the protocol's AUs. InputError when a subject is in no fold, or
            in both train and test.
        """
        index = index.select_aus(self.au_codes)
        if test_index is not None:
            test_index = test_index.select_aus(self.au_codes)
            if self.kind != "cross":
                _check_disjoint(index, test_index, self.name)
            return [Split("test", index, test_index)]
        if self.kind == "cross":
            raise InputError(
                f"protocol {self.name!r} trains on {self.train_dataset} and tests on {self.test_dataset}: "
                "give both datasets (the test set as a second index)"
            )
        if self.kind == "folds":
            folds = self.fold_subjects(index.subjects)
            known = {s for f in folds for s in f}
            unknown = sorted(set(index.subjects) - known)
            if unknown:
                raise InputError(
                    f"subjects {unknown[:5]} of {index.source or 'the index'} are in no fold of protocol "
                    f"{self.name!r} ({self.source}); fix the subject pattern or the protocol's fold lists"
                )
            out = []
            for i, fold in enumerate(folds):
                test = index.select_subjects(fold)
                train = index.select_subjects(s for j, f in enumerate(folds) if j != i for s in f)
                _check_disjoint(train, test, self.name)
                out.append(Split(f"fold{i + 1}", train, test))
            return out
        # train_test
        if self.train_subjects == "from_layout" and train_subjects is None:
            if not index.groups:
                raise InputError(
                    f"protocol {self.name!r} takes its split from the annotation layout (train/validation "
                    "folders); read the raw layout, or give the test set as a separate list/manifest"
                )
            train = index.take(np.array([g == "train" for g in index.groups]))
            test = index.take(np.array([g != "train" for g in index.groups]))
        else:
            tr = train_subjects if train_subjects is not None else self.train_subjects
            te = test_subjects if test_subjects is not None else self.test_subjects
            if not isinstance(tr, Sequence) or not isinstance(te, Sequence) or isinstance(tr, str):
                raise InputError(
                    f"protocol {self.name!r} needs the official train/test subject lists, which are not "
                    f"shipped ({self.source}); supply them with --set data.train_subjects=FILE "
                    "--set data.test_subjects=FILE (one subject id per line)"
                )
            train, test = index.select_subjects(tr), index.select_subjects(te)
        _check_disjoint(train, test, self.name)
        return [Split("test", train, test)]


def _check_disjoint(train: AUIndex, test: AUIndex, name: str) -> None:
    both = sorted(set(train.subjects) & set(test.subjects))
    if both:
        raise InputError(f"protocol {name!r}: subjects {both[:5]} are in both the train and the test split")


def holdout_subjects(index: AUIndex, fraction: float, seed: int) -> tuple[AUIndex, AUIndex]:
    """Split off a validation set of whole subjects (for epoch selection).

    Args:
        index: training frames.
        fraction: share of subjects to hold out (at least one subject, at most all but one).
        seed: seed of the subject draw.

    Returns:
        (train, validation), subject-exclusive.
    """
    subjects = sorted(index.subject_set)
    if len(subjects) < 2:
        raise InputError(f"cannot hold out a validation subject from {len(subjects)} subject(s)")
    k = min(max(1, round(fraction * len(subjects))), len(subjects) - 1)
    rng = np.random.default_rng(seed)
    val = set(rng.choice(subjects, size=k, replace=False).tolist())
    return index.select_subjects(s for s in subjects if s not in val), index.select_subjects(val)


def list_protocols() -> list[str]:
    """Names of the bundled protocols."""
    return sorted(p.stem for p in PROTOCOL_DIR.glob("*.yaml"))


def _tuple_or(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return value


def load_protocol(name_or_path: str | Path) -> Protocol:
    """Load a bundled protocol by name ("bp4d", "BP4D+", ...) or a YAML file path."""
    import yaml

    path = Path(name_or_path)
    if not path.suffix:
        key = str(name_or_path).lower().replace("+", "_plus").replace("-", "_")
        path = PROTOCOL_DIR / f"{key}.yaml"
        if not path.is_file():
            close = difflib.get_close_matches(key, list_protocols(), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(
                f"unknown protocol {name_or_path!r}{hint} (known: {', '.join(list_protocols())})"
            )
    if not path.is_file():
        raise InputError(f"protocol file {str(path)!r} does not exist")
    raw = yaml.safe_load(path.read_text()) or {}
    known = {f for f in Protocol.__dataclass_fields__ if f != "source"}
    unknown = set(raw) - known
    if unknown:
        key = sorted(unknown)[0]
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(f"{path}: unknown key {key!r}{hint}")
    if raw.get("kind") not in KINDS:
        raise InputError(f"{path}: kind must be one of {KINDS}; got {raw.get('kind')!r}")
    labels = raw.pop("labels", None) or {}
    labels = LabelConvention(
        convention=labels.get("convention", "occurrence"),
        present_threshold=float(labels.get("present_threshold", 1)),
        unknown_values=tuple(float(v) for v in labels.get("unknown_values", ())),
    )
    rawl = raw.pop("raw", None)
    layout = None
    if rawl:
        layout = RawLayout(
            layout=rawl["layout"],
            labels_glob=rawl["labels_glob"],
            images=rawl["images"],
            frame_padding=tuple(int(v) for v in rawl.get("frame_padding", (0,))),
        )
    folds = raw.pop("folds", ())
    if isinstance(folds, list):
        folds = tuple(tuple(str(s) for s in f) for f in folds)
        seen: dict[str, int] = {}
        for i, f in enumerate(folds):
            for s in f:
                if s in seen:
                    raise InputError(f"{path}: subject {s} is in fold {seen[s] + 1} and fold {i + 1}")
                seen[s] = i
    return Protocol(
        name=str(raw.pop("name", path.stem)),
        au_codes=tuple(int(c) for c in raw.pop("au_codes")),
        kind=raw.pop("kind"),
        folds=folds,
        train_subjects=_tuple_or(raw.pop("train_subjects", None)),
        test_subjects=_tuple_or(raw.pop("test_subjects", None)),
        labels=labels,
        raw=layout,
        source=str(path),
        **raw,
    )


def read_subject_list(path: str | Path) -> tuple[str, ...]:
    """Subject ids from a text file, one per line (blank lines and '#' comments ignored)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"subject list {str(path)!r} does not exist; give one subject id per line")
    ids = [ln.split("#")[0].strip() for ln in path.read_text().splitlines()]
    return tuple(i for i in ids if i)
