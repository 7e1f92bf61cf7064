"""Experiment grids for the paper's tables, as data (``training/configs/experiments/*.yaml``).

A grid names a set of variants; each variant is a list of config overrides
(dotted keys) applied on top of a base config, optionally with its own base
(``_config: bp4d``). ``run_grid`` runs every variant into its own run folder
under one grid folder (resumable like any run) and collects one table row per
variant: F1-macro/micro and accuracy (mean ± std over folds and seeds), the
epoch-selection protocol, and the training cost (seconds per epoch, frames/s).

Grids: main (Tables 1-4), losses (Tables 8-9), ablation (Table 10), probs
(Table 11), beta (Fig. 6), cross (Table 7). ``tsne_figure`` draws Fig. 5.

Example:
    >>> grid = load_grid("ablation")
    >>> [v.name for v in grid.variants]
    ['baseline', '+PS', '+NS']
"""

from __future__ import annotations

import csv
import difflib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aunce_rt.errors import InputError
from aunce_rt.training.callbacks import TrainCallbacks
from aunce_rt.training.config import CONFIG_DIR, ExperimentConfig, load_config

logger = logging.getLogger(__name__)

GRID_DIR = CONFIG_DIR / "experiments"


@dataclass(frozen=True)
class Variant:
    """One row of a grid: a name, an optional base config, and ``key=value`` overrides."""

    name: str
    config: str | None
    overrides: tuple[str, ...]


@dataclass(frozen=True)
class Grid:
    """A paper table as a list of variants."""

    name: str
    table: str
    description: str
    variants: tuple[Variant, ...]


def list_grids() -> list[str]:
    """Names of the bundled grids."""
    return sorted(p.stem for p in GRID_DIR.glob("*.yaml"))


def _value_text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list | dict | bool) or value is None else str(value)


def load_grid(name_or_path: str | Path) -> Grid:
    """Load a grid by name ("ablation") or from a YAML file."""
    import yaml

    path = Path(name_or_path)
    if not path.is_file():
        path = GRID_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        close = difflib.get_close_matches(str(name_or_path), list_grids(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(
            f"unknown experiment grid {str(name_or_path)!r}{hint} (known: {', '.join(list_grids())})"
        )
    raw = yaml.safe_load(path.read_text()) or {}
    unknown = set(raw) - {"name", "table", "description", "variants"}
    if unknown:
        raise InputError(
            f"{path}: unknown keys {sorted(unknown)}; expected name, table, description, variants"
        )
    variants = []
    for vname, spec in (raw.get("variants") or {}).items():
        spec = dict(spec or {})
        config = spec.pop("_config", None)
        variants.append(Variant(str(vname), config, tuple(f"{k}={_value_text(v)}" for k, v in spec.items())))
    if not variants:
        raise InputError(f"{path}: a grid needs at least one variant")
    return Grid(
        str(raw.get("name", path.stem)),
        str(raw.get("table", "")),
        str(raw.get("description", "")),
        tuple(variants),
    )


def variant_config(
    grid: Grid, variant: Variant, base: str | Path | None, overrides: tuple[str, ...] = ()
) -> ExperimentConfig:
    """The resolved config of one variant: its own base (or ``base``), its overrides, then ``overrides``.

    A variant with its own ``_config`` (a benchmark) ignores ``base``.
    """
    source = variant.config or base
    if source is None:
        raise InputError(f"grid {grid.name!r} variant {variant.name!r} needs a base config; pass --config")
    slug = re.sub(r"[^A-Za-z0-9_.=-]+", "_", variant.name).strip("_") or "variant"
    return load_config(source, (*variant.overrides, f"name={grid.name}-{slug}", *overrides))


@dataclass(frozen=True)
class GridRow:
    """One variant's results."""

    variant: str
    run_dir: Path
    report: dict[str, Any]
    seconds_per_epoch: float
    frames_per_s: float


def _speed(run_dir: Path) -> tuple[float, float]:
    """Mean pretraining seconds per epoch and frames/s from a run's metrics.csv."""
    secs, fps = [], []
    with (run_dir / "metrics.csv").open(newline="") as fh:
        for r in csv.DictReader(fh):
            if r["stage"] == "pretrain" and r["seconds"]:
                secs.append(float(r["seconds"]))
                fps.append(float(r["frames_per_s"]))
    return (float(np.mean(secs)), float(np.mean(fps))) if secs else (float("nan"), float("nan"))


def run_grid(
    grid: Grid,
    out: str | Path,
    *,
    base: str | Path | None = None,
    overrides: tuple[str, ...] = (),
    resume: bool = False,
    only: tuple[str, ...] = (),
    callbacks: TrainCallbacks | None = None,
) -> list[GridRow]:
    """Run every variant (or those in ``only``) into ``out/<variant>``; write ``out/table.md``/``.json``."""
    from aunce_rt.training.run import run_experiment

    out = Path(out)
    rows = []
    names = [v.name for v in grid.variants]
    for name in only:
        if name not in names:
            raise InputError(f"grid {grid.name!r} has no variant {name!r}; variants: {names}")
    for variant in grid.variants:
        if only and variant.name not in only:
            continue
        cfg = variant_config(grid, variant, base, overrides)
        run_dir = out / cfg.name
        logger.info("grid %s: variant %s -> %s", grid.name, variant.name, run_dir)
        done = (run_dir / "config.yaml").is_file()
        result = run_experiment(cfg, run_dir, resume=resume or done, callbacks=callbacks)
        spe, fps = _speed(run_dir)
        rows.append(GridRow(variant.name, run_dir, result.report, spe, fps))
    (out / "table.md").write_text(format_table(grid, rows))
    (out / "table.json").write_text(json.dumps([_row_dict(r) for r in rows], indent=2))
    return rows


def _row_dict(row: GridRow) -> dict[str, Any]:
    r = row.report
    return {
        "variant": row.variant,
        "run_dir": str(row.run_dir),
        "f1_macro": r["f1_macro"],
        "f1_micro": r["f1_micro"],
        "accuracy_mean": r["accuracy_mean"],
        "selection": r["selection"],
        "seconds_per_epoch": row.seconds_per_epoch,
        "frames_per_s": row.frames_per_s,
    }


def _pct(ms: dict[str, Any]) -> str:
    return "n/a" if ms.get("mean") is None else f"{100 * ms['mean']:.1f} ± {100 * ms['std']:.1f}"


def format_table(grid: Grid, rows: list[GridRow]) -> str:
    """Markdown table of a grid's rows (values in %, mean ± std over folds and seeds)."""
    selections = sorted({r.report["selection"] for r in rows})
    lines = [
        f"## {grid.table or grid.name}",
        "",
        f"{grid.description}. Epoch selection: {'; '.join(selections)}.",
        "",
        "| variant | F1-macro | F1-micro | accuracy | s / epoch | frames / s |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.variant} | {_pct(r.report['f1_macro'])} | {_pct(r.report['f1_micro'])} | "
            f"{_pct(r.report['accuracy_mean'])} | {r.seconds_per_epoch:.2f} | {r.frames_per_s:.1f} |"
        )
    return "\n".join(lines) + "\n"


def tsne_figure(
    models: dict[str, str | Path],
    cfg: ExperimentConfig,
    out: str | Path,
    *,
    au_code: int | None = None,
    max_points: int = 300,
    cache_dir: str | Path | None = None,
) -> Path:
    """Paper Fig. 5: t-SNE of one AU's features from several trained models on the same test frames.

    Args:
        models: display name -> model checkpoint (e.g. the model.pt of an AUNCE and a WCE run).
        cfg: the config whose data (first split) provides the frames.
        out: the PNG to write.
        au_code: the AU to show (default: the protocol's first AU).
        max_points: frames drawn (exact t-SNE is O(S^2)).
    """
    from aunce_rt.evaluation.tsne import plot_tsne
    from aunce_rt.models import load_model
    from aunce_rt.training.data.benchmarks import build_splits
    from aunce_rt.training.data.dataset import AUDataset
    from aunce_rt.training.features import extract_features

    protocol, splits = build_splits(
        cfg.data, cache_dir=cache_dir or Path(out).parent / "cache", seed=cfg.seed
    )
    test = splits[0].test
    if len(test) > max_points:
        test = test.take(
            np.sort(np.random.default_rng(cfg.seed).choice(len(test), max_points, replace=False))
        )
    code = protocol.au_codes[0] if au_code is None else int(au_code)
    if code not in protocol.au_codes:
        raise InputError(f"AU{code} is not among the protocol's AUs {list(protocol.au_codes)}")
    feats = {}
    for name, path in models.items():
        loaded = load_model(path)
        fs = extract_features(
            loaded.model.encoder,
            AUDataset(test, cfg.data.crop_size),
            image_size=cfg.data.image_size,
            resize=cfg.data.crop_size,
        )
        feats[name] = fs.features.numpy()
    return plot_tsne(feats, test.labels, protocol.au_codes.index(code), code, out, max_points=max_points)
