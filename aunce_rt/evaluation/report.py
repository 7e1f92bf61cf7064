"""Run reports: per-AU F1, F1-macro, F1-micro and accuracy, mean and std over folds and seeds.

``write_report(run_dir, config, unit_metrics)`` writes ``report.json`` and
``report.md``; every number is labelled with the protocol used to pick the
linear-evaluation epoch ("validation subjects held out from training", or "best
epoch on the test split", which papers often report and which is optimistic).
``tsne`` is a small exact t-SNE (van der Maaten & Hinton, 2008) in numpy for a
few hundred points (scikit-learn is not a dependency).

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


def _joint_p(dist2: np.ndarray, perplexity: float) -> np.ndarray:
    """Symmetric affinities P (S, S) with per-point bandwidths found by bisection on the entropy."""
    n = dist2.shape[0]
    target = math.log(perplexity)
    p = np.zeros((n, n))
    for i in range(n):
        d = np.delete(dist2[i], i)
        lo, hi, beta = 0.0, np.inf, 1.0
        for _ in range(64):
            w = np.exp(-(d - d.min()) * beta)
            s = w.sum()
            h = math.log(s) + beta * float((d - d.min()) @ w) / s  # entropy of row i
            if abs(h - target) < 1e-5:
                break
            if h > target:
                lo, beta = beta, beta * 2 if hi == np.inf else (beta + hi) / 2
            else:
                hi, beta = beta, (beta + lo) / 2
        p[i, np.arange(n) != i] = w / s
    p = (p + p.T) / (2 * n)
    return np.maximum(p, 1e-12)


def tsne(x: np.ndarray, *, perplexity: float = 30.0, iters: int = 1000, seed: int = 0) -> np.ndarray:
    """Exact t-SNE of points (S, D) -> (S, 2); O(S^2) memory, meant for a few hundred points.

    Gradient descent with momentum (0.5 for 20 iterations, then 0.8), early exaggeration 12 for the
    first 100 iterations, learning rate max(S / 48, 50), gains as in the reference implementation.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if n < 5:
        raise InputError(f"t-SNE needs at least 5 points; got {n}")
    perplexity = min(perplexity, (n - 1) / 3)
    sq = (x**2).sum(1)
    p = _joint_p(np.maximum(sq[:, None] + sq[None] - 2 * x @ x.T, 0), perplexity)
    rng = np.random.default_rng(seed)
    y = rng.normal(0, 1e-4, (n, 2))
    vel, gains = np.zeros_like(y), np.ones_like(y)
    lr = max(n / 12.0 / 4.0, 50.0)  # scikit-learn's 'auto' rate (Belkina et al., 2019)
    for it in range(iters):
        pe = p * (12.0 if it < 100 else 1.0)
        sy = (y**2).sum(1)
        num = 1.0 / (1.0 + np.maximum(sy[:, None] + sy[None] - 2 * y @ y.T, 0))
        np.fill_diagonal(num, 0.0)
        q = np.maximum(num / num.sum(), 1e-12)
        pq = (pe - q) * num  # (S, S)
        grad = 4.0 * ((np.diag(pq.sum(1)) - pq) @ y)
        gains = np.where(np.sign(grad) != np.sign(vel), gains + 0.2, gains * 0.8).clip(0.01)
        vel = (0.5 if it < 20 else 0.8) * vel - lr * gains * grad
        y = y + vel
        y -= y.mean(0)
    return y


def plot_tsne(
    features: Mapping[str, np.ndarray],
    labels: np.ndarray,
    au_index: int,
    au_code: int,
    out: str | Path,
    *,
    max_points: int = 300,
    seed: int = 0,
) -> Path:
    """Side-by-side t-SNE of one AU's features for several encoders (paper Fig. 5) as a PNG.

    Args:
        features: encoder name -> per-AU features (S, N, C) of the same frames.
        labels: (S, N) labels of those frames (-1 frames are dropped).
        au_index: column of the AU to show; au_code its FACS code (titles).
        out: PNG path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y = np.asarray(labels)[:, au_index]
    keep = np.flatnonzero(y >= 0)
    rng = np.random.default_rng(seed)
    if keep.size > max_points:
        keep = np.sort(rng.choice(keep, max_points, replace=False))
    fig, axes = plt.subplots(1, len(features), figsize=(4.5 * len(features), 4.2), squeeze=False)
    for ax, (name, f) in zip(axes[0], features.items(), strict=True):
        emb = tsne(np.asarray(f)[keep, au_index], seed=seed)
        for value, colour, text in ((0, "tab:blue", "absent"), (1, "tab:red", "present")):
            m = y[keep] == value
            ax.scatter(emb[m, 0], emb[m, 1], s=8, c=colour, label=text, alpha=0.7)
        ax.set_title(f"{name}: {au_label(au_code)} features (exact t-SNE)")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
