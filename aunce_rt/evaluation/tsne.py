"""t-SNE figures of per-AU features (the paper's Fig. 5), on scikit-learn's t-SNE.

``tsne`` is a thin wrapper over :class:`sklearn.manifold.TSNE` (exact method:
these figures show a few hundred points); ``plot_tsne`` draws one panel per
encoder. scikit-learn is part of the ``train`` extra.

Example:
    >>> emb = tsne(features_of_one_au, perplexity=30, seed=0)  # (S, D) -> (S, 2)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from aunce_rt.aus import au_label
from aunce_rt.errors import InputError
from aunce_rt.plotting import save_figure


def tsne(x: np.ndarray, *, perplexity: float = 30.0, iters: int = 1000, seed: int = 0) -> np.ndarray:
    """Exact t-SNE of points (S, D) -> (S, 2) with scikit-learn.

    Args:
        x: (S, D) points, S >= 5.
        perplexity: effective neighbour count; capped at (S - 1) / 3 for small S.
        iters: optimisation iterations (scikit-learn's ``max_iter``, at least 250).
        seed: random state of the initialisation.
    """
    try:
        from sklearn.manifold import TSNE
    except ImportError as exc:  # pragma: no cover - the train extra installs it
        raise InputError("t-SNE needs scikit-learn: pip install 'aunce-rt[train]'") from exc
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if n < 5:
        raise InputError(f"t-SNE needs at least 5 points; got {n}")
    model = TSNE(
        n_components=2,
        perplexity=min(perplexity, (n - 1) / 3),
        max_iter=max(int(iters), 250),
        method="exact",
        init="pca",
        learning_rate="auto",
        random_state=seed,
    )
    return model.fit_transform(x)


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
        ax.set_title(f"{name}: {au_label(au_code)} features (t-SNE)")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out)
