"""Calibration of AU probabilities: reliability curves and the expected calibration error.

Example:
    >>> import numpy as np
    >>> round(reliability(np.array([[0.1], [0.9]]), np.array([[0], [1]]))["ece"], 3)
    0.1
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Reliability of probabilities pooled over AUs: per bin mean prediction, observed rate, count; ECE.

    Args:
        probs: (S, K) predicted probabilities.
        labels: (S, K) in {0, 1} (-1 ignored).
    """
    p, y = np.asarray(probs, np.float64).ravel(), np.asarray(labels).ravel()
    keep = y >= 0
    p, y = p[keep], y[keep]
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            rows.append(
                {
                    "bin": [float(edges[b]), float(edges[b + 1])],
                    "mean_p": float(p[m].mean()),
                    "observed": float(y[m].mean()),
                    "count": int(m.sum()),
                }
            )
            ece += m.mean() * abs(p[m].mean() - y[m].mean())
    return {"bins": rows, "ece": float(ece)}


def plot_reliability(curves: dict[str, dict[str, Any]], out: Path) -> Path:
    """A reliability diagram (observed rate vs mean predicted probability) per named curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from aunce_rt.plotting import save_figure

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="calibrated")
    for name, curve in curves.items():
        xs = [r["mean_p"] for r in curve["bins"]]
        ys = [r["observed"] for r in curve["bins"]]
        ax.plot(xs, ys, marker="o", label=f"{name} (ECE {curve['ece']:.3f})")
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed AU rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out)
