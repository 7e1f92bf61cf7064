"""t-SNE (scikit-learn) keeps separated clusters apart."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from aunce_rt.errors import InputError
from aunce_rt.evaluation.tsne import tsne


def test_tsne_keeps_clusters_apart() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (40, 10)), rng.normal(8, 1, (40, 10))])
    y = tsne(x, perplexity=10, iters=300, seed=0)
    assert y.shape == (80, 2)
    truth = np.repeat([0, 1], 40)
    d = ((y[:, None] - y[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (truth[d.argmin(1)] == truth).mean() == 1.0  # every nearest neighbour in its own cluster
    centre_gap = np.linalg.norm(y[truth == 0].mean(0) - y[truth == 1].mean(0))
    assert centre_gap > 2 * max(y[truth == 0].std(0).max(), y[truth == 1].std(0).max())


def test_tsne_is_reproducible_and_refuses_too_few_points() -> None:
    x = np.random.default_rng(1).normal(size=(30, 4))
    np.testing.assert_allclose(tsne(x, seed=3, iters=250), tsne(x, seed=3, iters=250))
    with pytest.raises(InputError, match="at least 5 points"):
        tsne(x[:4])
