"""The paper's claims on SynthAU (issue 21): a resumable grid of loss x label noise x imbalance x seed.

Each cell trains one encoder on SynthAU with one loss at one label-noise level and
one imbalance setting, from one seed, then fits a linear probe on the frozen encoder
and scores it on unseen, cleanly labelled test people (F1-macro and per-AU F1). The
recipe is the CPU recipe of ``bench/bench_synthau_train.py``: resnet10t from random
init, a supervised WCE warm-up on pooled tokens (stand-in for ImageNet weights), then
the loss under test, bf16 autocast, 56 px inputs.

Cost is shared where it changes nothing: the crops of one (imbalance, seed) are
rendered once (label noise only re-draws the training labels, from SynthAU's own
noise stream); the warm-up of one (imbalance, noise, seed) is run once and every loss
starts from a copy of it. Everything is cached under the study folder, so a stopped
study continues where it stopped:

    out/data/<imbalance>_s<seed>.npz            crops, clean labels, identities
    out/warmup/<imbalance>_n<noise>_s<seed>.pt  the warm-up encoder's weights
    out/cells/<cell key>.json                   one finished cell
    out/results.json                            all finished cells (for the report)

Example:
    >>> spec = load_study("claims_synthau")
    >>> len(spec.cells())
    108
"""

from __future__ import annotations

import copy
import json
import logging
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from aunce_rt.errors import InputError
from aunce_rt.training.config import CONFIG_DIR

logger = logging.getLogger(__name__)

STUDY_DIR = CONFIG_DIR / "studies"
LOSSES = ("aunce", "wce", "wfl")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Recipe(_Strict):
    """The per-cell training budget (see ``bench/bench_synthau_train.py`` for the recipe)."""

    backbone: str = "resnet10t"
    node_dim: int = 128
    input: int = 56
    augment: str = "light"
    train_frames: int = 2000
    test_frames: int = 600
    val_fraction: float = 0.2
    batch: int = 64
    warmup_steps: int = 800
    steps: int = 200
    lr_warmup: float = 1e-3
    wd_warmup: float = 1e-4
    lr: float = 1e-3
    wd: float = 1e-6
    probe_epochs: int = 30
    probe_batch: int = 64
    amp: str = "bf16"
    threads: int = 2


class StudySpec(_Strict):
    """The grid: loss variants x noise x imbalance settings x seeds, and the recipe."""

    name: str
    losses: dict[str, dict[str, Any]]
    noise: tuple[float, ...]
    imbalance: dict[str, dict[int, float]]
    minority_aus: tuple[int, ...]
    seeds: tuple[int, ...]
    recipe: Recipe = Recipe()
    # Imbalance settings run at fewer noise levels than ``noise`` (default: every level).
    noise_by_imbalance: dict[str, tuple[float, ...]] = {}

    @field_validator("losses")
    @classmethod
    def _check_losses(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, spec in value.items():
            if spec.get("loss") not in LOSSES:
                raise ValueError(f"loss variant {name!r} needs loss: one of {', '.join(LOSSES)}; got {spec}")
        return value

    @field_validator("noise")
    @classmethod
    def _check_noise(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(not 0 <= n < 0.5 for n in value):
            raise ValueError(f"noise levels must be flip rates in [0, 0.5); got {value}")
        return value

    @model_validator(mode="after")
    def _check_noise_by_imbalance(self) -> StudySpec:
        for imb, levels in self.noise_by_imbalance.items():
            if imb not in self.imbalance or not levels or not set(levels) <= set(self.noise):
                raise ValueError(
                    f"noise_by_imbalance[{imb!r}] = {list(levels)} needs an imbalance setting "
                    f"({', '.join(self.imbalance)}) and a non-empty subset of noise {list(self.noise)}"
                )
        return self

    def noise_for(self, imbalance: str) -> tuple[float, ...]:
        """The noise levels run for one imbalance setting."""
        return tuple(self.noise_by_imbalance.get(imbalance, self.noise))

    def conditions(self) -> list[tuple[str, float]]:
        """Every (imbalance, noise) condition of the grid."""
        return [(imb, noise) for imb in self.imbalance for noise in self.noise_for(imb)]

    def cells(self) -> list[Cell]:
        """Every cell, grouped so that cells sharing data and a warm-up are adjacent."""
        return [
            Cell(imb, noise, seed, loss)
            for imb in self.imbalance
            for seed in self.seeds
            for noise in self.noise_for(imb)
            for loss in self.losses
        ]

    def results_compatible(self, other: StudySpec) -> bool:
        """Whether finished cells of ``other`` are cells of this study: same recipe, losses and
        imbalance definitions (the grid's levels and seeds may be cut or extended)."""
        shared = set(self.imbalance) & set(other.imbalance)
        return (
            self.recipe == other.recipe
            and self.losses == other.losses
            and self.minority_aus == other.minority_aus
            and all(self.imbalance[k] == other.imbalance[k] for k in shared)
        )


@dataclass(frozen=True)
class Cell:
    """One run of the grid."""

    imbalance: str
    noise: float
    seed: int
    loss: str

    @property
    def key(self) -> str:
        """A file-name-safe unique key."""
        slug = re.sub(r"[^A-Za-z0-9]+", "_", self.loss).strip("_")
        return f"{self.imbalance}_n{round(100 * self.noise):02d}_s{self.seed}_{slug}"


@dataclass(frozen=True)
class CellResult:
    """A finished cell: test F1-macro and per-AU F1 (clean test people), and its cost."""

    imbalance: str
    noise: float
    seed: int
    loss: str
    f1_macro: float
    f1_per_au: dict[str, float]
    minority_f1: float
    selected_epoch: int
    flipped: float
    seconds: float
    warmup_seconds: float


@dataclass(frozen=True)
class StudyProgress:
    """What ``run_study`` did: cells finished in all, run now, and the total cell count."""

    finished: int
    ran_now: int
    total: int
    seconds: float


def load_study(name_or_path: str | Path) -> StudySpec:
    """Load a study by name ("claims_synthau") or from a YAML file."""
    import yaml

    path = Path(name_or_path)
    if not path.is_file():
        path = STUDY_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in STUDY_DIR.glob("*.yaml"))
        raise InputError(f"unknown study {str(name_or_path)!r}; known: {', '.join(known)} (or a YAML path)")
    try:
        return StudySpec(**(yaml.safe_load(path.read_text()) or {}))
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from exc


def read_results(out: str | Path, spec: StudySpec | None = None) -> list[CellResult]:
    """The finished cells stored under a study folder (``out/cells/*.json``), in key order;
    with ``spec``, only the cells of its grid."""
    keys = None if spec is None else {c.key for c in spec.cells()}
    return [
        CellResult(**json.loads(p.read_text()))
        for p in sorted((Path(out) / "cells").glob("*.json"))
        if keys is None or p.stem in keys
    ]


def results_from_file(path: str | Path) -> list[CellResult]:
    """The cells stored in a results file (``results.json``, as ``write_results`` writes it)."""
    return [CellResult(**row) for row in json.loads(Path(path).read_text())]


def write_results(out: str | Path, spec: StudySpec | None = None) -> Path:
    """Collect every finished cell (of ``spec``'s grid, if given) into ``out/results.json``."""
    path = Path(out) / "results.json"
    path.write_text(json.dumps([asdict(r) for r in read_results(out, spec)], indent=1))
    return path


def run_study(
    spec: StudySpec, out: str | Path, *, max_cells: int | None = None, max_seconds: float | None = None
) -> StudyProgress:
    """Run the study's unfinished cells into ``out`` (stops after ``max_cells``/``max_seconds``)."""
    import torch

    from aunce_rt.training.claims_cell import GroupData, load_group_data, run_cell, warm_up

    out = Path(out)
    for sub in ("data", "warmup", "cells"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    lock = _lock(out)  # noqa: F841 (held until this function returns)
    stored = out / "study.json"
    if stored.is_file() and not StudySpec.model_validate_json(stored.read_text()).results_compatible(spec):
        raise InputError(
            f"{out} holds cells of a different study spec ({stored}: recipe, losses or imbalance "
            "differ); pass another output folder or delete it to start over"
        )
    stored.write_text(spec.model_dump_json(indent=1))
    torch.set_num_threads(spec.recipe.threads)
    start, ran = time.perf_counter(), 0
    cells = spec.cells()
    data: tuple[tuple[str, int], GroupData] | None = None
    for group in _groups(cells):
        todo = [c for c in group if not (out / "cells" / f"{c.key}.json").is_file()]
        if not todo:
            continue
        first = todo[0]
        if data is None or data[0] != (first.imbalance, first.seed):
            data = ((first.imbalance, first.seed), load_group_data(spec, first.imbalance, first.seed, out))
        warm, warm_secs = warm_up(spec, data[1], first.noise, first.seed, out)
        for cell in todo:
            if (max_cells is not None and ran >= max_cells) or (
                max_seconds is not None and time.perf_counter() - start > max_seconds
            ):
                write_results(out, spec)
                return StudyProgress(
                    len(read_results(out, spec)), ran, len(cells), time.perf_counter() - start
                )
            result = run_cell(spec, data[1], cell, copy.deepcopy(warm), warm_secs)
            (out / "cells" / f"{cell.key}.json").write_text(json.dumps(asdict(result), indent=1))
            ran += 1
            logger.info(
                "cell %s: F1 %.1f, minority F1 %.1f (%.0f s; %d/%d done)",
                cell.key,
                100 * result.f1_macro,
                100 * result.minority_f1,
                result.seconds,
                len(read_results(out, spec)),
                len(cells),
            )
        write_results(out, spec)
    write_results(out, spec)
    return StudyProgress(len(read_results(out, spec)), ran, len(cells), time.perf_counter() - start)


def _lock(out: Path) -> Any:
    """An exclusive lock on ``out/run.lock`` (POSIX), so two runners never share a study folder."""
    import os

    fh = (out / "run.lock").open("a+")
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        return fh
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        raise InputError(
            f"another study run holds {out} (pid {fh.read().strip() or '?'}); wait for it, or stop it first"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()
    return fh


def _groups(cells: list[Cell]) -> list[list[Cell]]:
    """Consecutive cells sharing (imbalance, noise, seed): one warm-up each."""
    groups: list[list[Cell]] = []
    for c in cells:
        if groups and (groups[-1][0].imbalance, groups[-1][0].noise, groups[-1][0].seed) == (
            c.imbalance,
            c.noise,
            c.seed,
        ):
            groups[-1].append(c)
        else:
            groups.append([c])
    return groups
