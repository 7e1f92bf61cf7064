"""Verdicts on the paper's claims from the claims study's cells (torch-free).

A difference between two loss variants in one condition (imbalance, noise) is
*called* only when it exceeds twice the seed std: ``|mean_a - mean_b| > 2 *
max(std_a, std_b)``, stds over seeds (sample std, ddof=1), at least 2 seeds each.
Over the conditions a claim is tested in, with W conditions called in the claim's
favour and L against it (C conditions measured):

- confirmed: L == 0 and W >= C / 2 (in favour in at least half, never against);
- refuted: L > 0 and W == 0 (against somewhere, in favour nowhere);
- inconclusive: anything else (mixed, or too few differences called).

A claim with several comparisons (claim 1: AUNCE vs WCE and vs WFL) is confirmed
when every comparison is, refuted when any is.

Example:
    >>> a, b = Stat(0.60, 0.01, 3), Stat(0.50, 0.02, 3)
    >>> compare(a, b).call
    1
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from aunce_rt.training.claims_study import CellResult

CONFIRMED, REFUTED, INCONCLUSIVE = "confirmed", "refuted", "inconclusive"
Condition = tuple[str, float]  # (imbalance, noise)


@dataclass(frozen=True)
class Stat:
    """Mean and sample std over seeds of one metric in one (loss, condition); ``n`` seeds."""

    mean: float
    std: float
    n: int


@dataclass(frozen=True)
class Comparison:
    """``a`` minus ``b`` in one condition: the difference, the 2-std bar, and the call (+1, -1 or 0)."""

    condition: Condition
    diff: float
    bar: float
    call: int


@dataclass(frozen=True)
class ClaimDef:
    """A claim: ``better`` should beat each of ``worse`` on ``metric`` in the conditions ``where`` keeps."""

    key: str
    text: str
    better: str
    worse: tuple[str, ...]
    metric: str  # "f1_macro", "minority_f1" or "retained" (F1 at this noise minus F1 at 0, per seed)
    where: str  # "all", "noisy" (noise > 0) or "harsh" (imbalance setting named harsh)


@dataclass(frozen=True)
class ClaimVerdict:
    """A claim's verdict, the reason in words, and the comparisons behind it."""

    claim: ClaimDef
    verdict: str
    reason: str
    comparisons: dict[str, list[Comparison]]


CLAIMS = (
    ClaimDef("1", "AUNCE beats weighted cross-entropy (WCE) and focal loss (WFL)", "AUNCE", ("WCE", "WFL"),
             "f1_macro", "all"),
    ClaimDef("2", "positive sampling (PS) protects against noisy labels: AUNCE loses less F1 to label noise "
             "than AUNCE without PS", "AUNCE", ("AUNCE -PS",), "retained", "noisy"),
    ClaimDef("3", "negative re-weighting (NS) helps minority AUs under class imbalance", "AUNCE",
             ("AUNCE -NS",), "minority_f1", "harsh"),
    ClaimDef("4", "the centroid positive carries much of the gain", "AUNCE", ("AUNCE -centroid",),
             "f1_macro", "all"),
)  # fmt: skip


def metric_values(
    results: Iterable[CellResult], metric: str
) -> dict[tuple[str, str, float], dict[int, float]]:
    """(loss, imbalance, noise) -> {seed: value}; "retained" is F1 minus the same seed's F1 at noise 0."""
    base = {(r.loss, r.imbalance, r.noise, r.seed): r.f1_macro for r in results}
    out: dict[tuple[str, str, float], dict[int, float]] = defaultdict(dict)
    for r in results:
        if metric == "retained":
            clean = base.get((r.loss, r.imbalance, 0.0, r.seed))
            if r.noise == 0 or clean is None:
                continue
            value = r.f1_macro - clean
        else:
            value = float(getattr(r, metric))
        out[(r.loss, r.imbalance, r.noise)][r.seed] = value
    return dict(out)


def stats(results: Iterable[CellResult], metric: str) -> dict[tuple[str, str, float], Stat]:
    """(loss, imbalance, noise) -> mean and sample std over seeds of ``metric``."""
    out = {}
    for key, by_seed in metric_values(results, metric).items():
        v = np.asarray(list(by_seed.values()), dtype=float)
        out[key] = Stat(float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else math.nan, len(v))
    return out


def compare(a: Stat, b: Stat, condition: Condition = ("", 0.0)) -> Comparison:
    """Call ``a - b`` when it exceeds twice the larger seed std (needs >= 2 seeds on both sides)."""
    diff = a.mean - b.mean
    bar = 2 * max(a.std, b.std) if min(a.n, b.n) >= 2 else math.nan
    call = 0 if math.isnan(bar) or abs(diff) <= bar else (1 if diff > 0 else -1)
    return Comparison(condition, diff, bar, call)


def tally(comparisons: list[Comparison]) -> tuple[str, str]:
    """The verdict of one comparison over its conditions, and why (see the module doc)."""
    c = len(comparisons)
    wins = sum(x.call > 0 for x in comparisons)
    losses = sum(x.call < 0 for x in comparisons)
    why = f"ahead by > 2 std in {wins} of {c} conditions, behind by > 2 std in {losses}"
    uncallable = sum(math.isnan(x.bar) for x in comparisons)
    if uncallable:
        why += f" ({uncallable} with fewer than 2 seeds: no call possible)"
    if c == 0:
        return INCONCLUSIVE, "no condition measured yet"
    if losses == 0 and wins >= c / 2:
        return CONFIRMED, why
    if losses > 0 and wins == 0:
        return REFUTED, why
    return INCONCLUSIVE, why


def _kept(claim: ClaimDef, imbalance: str, noise: float) -> bool:
    return claim.where == "all" or (claim.where == "noisy" and noise > 0) or (
        claim.where == "harsh" and imbalance == "harsh"
    )  # fmt: skip


def judge(claim: ClaimDef, results: list[CellResult]) -> ClaimVerdict:
    """The verdict on one claim from the finished cells."""
    st = stats(results, claim.metric)
    conditions = sorted({(i, n) for (_, i, n) in st if _kept(claim, i, n)})
    comps: dict[str, list[Comparison]] = {}
    for worse in claim.worse:
        comps[worse] = [
            compare(st[(claim.better, i, n)], st[(worse, i, n)], (i, n))
            for i, n in conditions
            if (claim.better, i, n) in st and (worse, i, n) in st
        ]
    parts = {w: tally(c) for w, c in comps.items()}
    verdicts = {v for v, _ in parts.values()}
    verdict = REFUTED if REFUTED in verdicts else CONFIRMED if verdicts == {CONFIRMED} else INCONCLUSIVE
    reason = "; ".join(f"{claim.better} vs {w}: {v}, {why}" for w, (v, why) in parts.items())
    return ClaimVerdict(claim, verdict, reason, comps)


def judge_all(results: list[CellResult]) -> list[ClaimVerdict]:
    """Verdicts on every claim in ``CLAIMS``."""
    return [judge(c, results) for c in CLAIMS]
