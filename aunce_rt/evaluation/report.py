"""Run reports: per-AU F1, F1-macro, F1-micro and accuracy, mean and std over folds and seeds.

``write_report(run_dir, config, unit_metrics)`` writes ``report.json`` and
``report.md``; every number is labelled with the protocol used to pick the
linear-evaluation epoch ("validation subjects held out from training", or "best
epoch on the test split", which papers often report and which is optimistic).
t-SNE figures live in ``aunce_rt.evaluation.tsne`` (scikit-learn).

Example:
    >>> report = write_report("runs/demo", to_dict(cfg), [json.load(open(f)) for f in files])  # doctest: +SKIP

The run's config is read as plain data (its resolved ``config.yaml``), so this
module needs no training code (and no torch).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aunce_rt.aus import au_label
from aunce_rt.errors import InputError

HEADLINE = ("f1_macro", "f1_micro", "accuracy_mean")


def _mean_std(values: Sequence[float | None]) -> dict[str, float | int | None]:
    v = np.array([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
    if v.size == 0:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0, "n": int(v.size)}


def aggregate(units: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean and std (sample std, ddof=1; 0 for one unit) over units (folds x seeds).

    Args:
        units: per-unit results as ``run_unit`` writes them (``test`` = AUMetrics.to_dict).

    Returns:
        {"f1_macro": {"mean","std","n"}, "f1_micro": ..., "accuracy_mean": ...,
         "per_au": {"AU01": {"f1": {...}, "accuracy": {...}}}, "units": [...], "selection": str}
    """
    if not units:
        raise InputError("no finished split to report; run the experiment first")
    codes = units[0]["au_codes"]
    selections = sorted({u.get("selection", "") for u in units})
    out: dict[str, Any] = {key: _mean_std([u["test"].get(key) for u in units]) for key in HEADLINE}
    out["per_au"] = {
        au_label(c): {
            m: _mean_std([u["test"]["per_au"][au_label(c)].get(m) for u in units]) for m in ("f1", "accuracy")
        }
        for c in codes
    }
    for kind in ("test_static", "test_video_frames"):  # SynthAU test folds with video frames
        if any(kind in u for u in units):
            out[f"{kind}_f1_macro"] = _mean_std([u.get(kind, {}).get("f1_macro") for u in units])
    out["oracle_best_on_test_f1_macro"] = _mean_std([u.get("oracle_best_on_test_f1_macro") for u in units])
    out["seconds_per_epoch"] = _mean_std([u.get("seconds_per_epoch") for u in units])
    out["selection"] = "; ".join(selections)
    out["au_codes"] = list(codes)
    out["units"] = [
        {
            "split": u["split"],
            "seed": u["seed"],
            "f1_macro": u["test"]["f1_macro"],
            "selected_epoch": u.get("selected_epoch"),
        }
        for u in units
    ]
    return out


def _pct(ms: Mapping[str, Any]) -> str:
    if ms.get("mean") is None:
        return "n/a"
    return f"{100 * ms['mean']:.1f} ± {100 * ms['std']:.1f}"


def format_markdown(report: Mapping[str, Any], title: str = "Results") -> str:
    """Markdown of an aggregated report: headline, per-AU table, per-unit list."""
    lines = [
        f"# {title}",
        "",
        f"Epoch selection: **{report['selection']}**. Values are % (mean ± std over "
        f"{report['f1_macro']['n']} split x seed runs).",
        "",
        "| metric | value |",
        "|---|---|",
        f"| F1-macro | {_pct(report['f1_macro'])} |",
        f"| F1-micro | {_pct(report['f1_micro'])} |",
        f"| accuracy (mean over AUs) | {_pct(report['accuracy_mean'])} |",
        f"| F1-macro, best epoch on the test split (optimistic, for comparison only) | "
        f"{_pct(report['oracle_best_on_test_f1_macro'])} |",
    ]
    for kind, label in (("test_static", "static samples"), ("test_video_frames", "video frames")):
        if f"{kind}_f1_macro" in report:
            lines.append(f"| F1-macro, test {label} only | {_pct(report[f'{kind}_f1_macro'])} |")
    lines += [
        "",
        "| AU | F1 | accuracy |",
        "|---|---|---|",
    ]
    for au, m in report["per_au"].items():
        lines.append(f"| {au} | {_pct(m['f1'])} | {_pct(m['accuracy'])} |")
    lines += ["", "| split | seed | F1-macro | selected epoch |", "|---|---|---|---|"]
    for u in report["units"]:
        lines.append(f"| {u['split']} | {u['seed']} | {100 * u['f1_macro']:.1f} | {u['selected_epoch']} |")
    return "\n".join(lines) + "\n"


def write_report(
    run_dir: str | Path, config: Mapping[str, Any], units: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Aggregate ``units`` and write ``report.json`` + ``report.md`` into ``run_dir``.

    Args:
        run_dir: the run folder.
        config: the run's resolved config as plain data (``training.config.to_dict``,
            or its saved config.yaml): its name, ``data.protocol`` and ``loss`` section.
        units: per-unit results as ``run_unit`` writes them.
    """
    run_dir = Path(run_dir)
    name = str(config.get("name", "experiment"))
    protocol = str((config.get("data") or {}).get("protocol", "?"))
    loss = dict(config.get("loss") or {})
    report = aggregate(units)
    report["name"] = name
    report["protocol"] = protocol
    report["loss"] = loss
    (run_dir / "report.json").write_text(json.dumps(report, indent=2))
    title = f"{name}: {protocol}, loss {loss.get('name', '?')}"
    (run_dir / "report.md").write_text(format_markdown(report, title))
    return report


def read_run_config(run_dir: str | Path) -> dict[str, Any]:
    """A run folder's resolved ``config.yaml`` as plain data (PyYAML: ``pip install aunce-rt[train]``)."""
    run_dir = Path(run_dir)
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise InputError(
            f"{run_dir} is not a run folder (no config.yaml); give a folder written by a training run"
        )
    try:
        import yaml
    except ImportError:
        raise InputError(
            "reading a run's config.yaml needs PyYAML; install it with `pip install pyyaml` "
            "(or aunce-rt[train])"
        ) from None
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise InputError(f"{path} holds a {type(data).__name__}, expected a mapping of config keys")
    return data


def report_from_run(run_dir: str | Path) -> dict[str, Any]:
    """Re-aggregate the finished units of a run folder (results/*.json) and rewrite its report."""
    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    units = [json.loads(p.read_text()) for p in sorted((run_dir / "results").glob("*.json"))]
    return write_report(run_dir, config, units)
