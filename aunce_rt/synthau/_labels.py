"""AU labels: occurrences with BP4D's rates and co-occurrences, graded intensities, label noise.

Occurrences come from a Gaussian copula: a latent normal vector with a correlation
matrix that links AU pairs which co-occur in spontaneous behaviour (1-2, 6-12,
17-24, 6-7, 10-12, 12-14, 23-24), thresholded per AU so that each marginal rate is
exactly the requested one (BP4D's by default).

Intensity is continuous in [0, 1]. An AU is present when its intensity is at least
``PRESENCE_THRESHOLD`` = 0.25, the analogue of FACS intensity B or more (the
occurrence criterion of BP4D/DISFA). Present AUs get intensities in [0.25, 1];
absent ones are 0 or a trace (A level, below 0.15).
"""

from __future__ import annotations

from collections.abc import Mapping
from statistics import NormalDist

import numpy as np

from aunce_rt.aus import BP4D_RATES

PRESENCE_THRESHOLD = 0.25
TRACE_MAX = 0.15

# Latent correlations of co-occurring AU pairs.
CO_OCCURRENCE: dict[tuple[int, int], float] = {
    (1, 2): 0.85,
    (6, 12): 0.75,
    (17, 24): 0.7,
    (6, 7): 0.45,
    (10, 12): 0.4,
    (12, 14): 0.3,
    (23, 24): 0.35,
    (1, 4): -0.2,
}


def _correlation(codes: tuple[int, ...]) -> np.ndarray:
    k = len(codes)
    c = np.eye(k)
    pos = {code: i for i, code in enumerate(codes)}
    for (a, b), r in CO_OCCURRENCE.items():
        if a in pos and b in pos:
            c[pos[a], pos[b]] = c[pos[b], pos[a]] = r
    w, v = np.linalg.eigh(c)  # keep it positive definite
    c = v @ np.diag(np.maximum(w, 1e-3)) @ v.T
    d = np.sqrt(np.diag(c))
    return c / np.outer(d, d)


def au_rates(
    codes: tuple[int, ...],
    rate_scale: float = 1.0,
    balanced: bool = False,
    overrides: Mapping[int, float] | None = None,
) -> np.ndarray:
    """Occurrence rate (K,) of each AU: BP4D's, scaled by ``rate_scale``, or 0.5 when ``balanced``.

    ``overrides`` (AU code -> rate in (0, 1)) then replaces the rate of the AUs it names,
    e.g. ``{2: 0.05, 15: 0.05}`` makes two AUs rare (a harsher imbalance than BP4D's).
    """
    missing = [c for c in codes if c not in BP4D_RATES]
    if missing:
        raise ValueError(f"SynthAU has no rate for AU {missing}; supported: {sorted(BP4D_RATES)}")
    if rate_scale <= 0:
        raise ValueError(f"rate_scale must be > 0; got {rate_scale}")
    extra = sorted(set(overrides or {}) - set(codes))
    if extra:
        raise ValueError(f"rate overrides name AUs {extra} outside the labelled AUs {list(codes)}; drop them")
    bad = {c: r for c, r in (overrides or {}).items() if not 0.0 < float(r) < 1.0}
    if bad:
        raise ValueError(f"rate overrides must be rates in (0, 1); got {bad}")
    if balanced:
        rates = np.full(len(codes), 0.5)
    else:
        rates = np.clip(np.array([BP4D_RATES[c] for c in codes]) * rate_scale, 0.01, 0.99)
    for code, rate in (overrides or {}).items():
        rates[codes.index(code)] = float(rate)
    return rates


def sample_occurrences(
    rng: np.random.Generator, n: int, codes: tuple[int, ...], rates: np.ndarray
) -> np.ndarray:
    """Occurrences (n, K) int8 in {0, 1} with the given marginal rates and the copula's co-occurrences."""
    chol = np.linalg.cholesky(_correlation(codes))
    z = rng.standard_normal((n, len(codes))) @ chol.T
    cut = np.array([NormalDist().inv_cdf(float(r)) for r in rates])
    return (z < cut).astype(np.int8)


def sample_intensities(
    rng: np.random.Generator, occurrences: np.ndarray, trace_max: float = TRACE_MAX
) -> np.ndarray:
    """Intensities (n, K) float32 consistent with ``occurrences``: >= threshold iff present.

    30% of absent AUs show a trace, uniform in [0, ``trace_max``). The default keeps a
    gap below the threshold; a ``trace_max`` up to the threshold fills it, as video
    does when an AU passes through its onset (the same random draws either way).
    """
    if not 0.0 <= trace_max <= PRESENCE_THRESHOLD:
        raise ValueError(f"trace_max must be in [0, {PRESENCE_THRESHOLD}] (below presence); got {trace_max}")
    occ = np.asarray(occurrences, dtype=bool)
    present = PRESENCE_THRESHOLD + (1.0 - PRESENCE_THRESHOLD) * rng.beta(1.6, 1.4, occ.shape)
    trace = np.where(rng.random(occ.shape) < 0.3, rng.uniform(0.0, trace_max, occ.shape), 0.0)
    return np.where(occ, present, trace).astype(np.float32)


def flip_labels(rng: np.random.Generator, labels: np.ndarray, noise: float) -> np.ndarray:
    """Noisy copy of ``labels`` (n, K): each entry flipped independently with probability ``noise``."""
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be a flip rate in [0, 1]; got {noise}")
    flips = rng.random(np.shape(labels)) < noise
    return np.where(flips, 1 - np.asarray(labels), labels).astype(np.int8)
