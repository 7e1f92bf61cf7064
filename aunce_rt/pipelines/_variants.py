"""Evaluate exported variants on labelled crops and choose one: the pipeline's single place for both.

Export writes and verifies graphs; how good a variant is (F1 at the model's
thresholds on labelled crops, speed on this machine) and which variant to keep
are decided here, for the recipe and for ``aunce-rt export --labelled``.

Example:
    >>> fp32 = Variant("fp32", None, 5.0, 0.80, ())
    >>> int8 = Variant("int8", None, 3.0, 0.795, ())
    >>> choose_variant([fp32, int8]).precision
    'int8'
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from aunce_rt.errors import InputError

log = logging.getLogger(__name__)

F1_TOLERANCE = 0.01  # a faster variant may cost at most one point of F1-macro to be chosen


@dataclass(frozen=True)
class Variant:
    """One exported variant: its file, speed and accuracy on labelled crops.

    Attributes:
        precision: "fp32", "fp16" or "int8".
        path: the .onnx file.
        ms_per_face: median ms per face on this machine's CPU (NaN when not timed).
        f1_macro: F1-macro at the model's thresholds.
        f1: per-AU F1, in the model's AU order.
        max_abs_diff_vs_fp32: max |p - p_fp32| over the crops and AUs.
    """

    precision: str
    path: Path | None
    ms_per_face: float
    f1_macro: float
    f1: tuple[float, ...]
    max_abs_diff_vs_fp32: float = 0.0


def choose_variant(variants: Sequence[Variant], tolerance: float = F1_TOLERANCE) -> Variant:
    """The fastest variant whose F1-macro is within ``tolerance`` of fp32's.

    Raises:
        InputError: no fp32 variant to compare with.
    """
    base = next((v for v in variants if v.precision == "fp32"), None)
    if base is None:
        got = ", ".join(v.precision for v in variants) or "none"
        raise InputError(f"choosing a variant needs the fp32 one as reference; got {got}")
    ok = [v for v in variants if v.f1_macro >= base.f1_macro - tolerance]
    return min(ok, key=lambda v: v.ms_per_face)


def measure_variants(
    paths: Mapping[str, str | Path],
    crops: np.ndarray,
    labels: np.ndarray,
    *,
    timed: bool = True,
) -> tuple[Variant, ...]:
    """F1 (at each model's thresholds), speed and distance to fp32 of exported variants.

    Args:
        paths: precision -> .onnx file; "fp32" must be one of them.
        crops: (S, size, size, 3) uint8 RGB aligned crops.
        labels: (S, K) in {-1, 0, 1} (-1: unknown), in the models' AU order.
        timed: time the variants on this machine's CPU (``aunce_rt.export.ms_per_face``).

    Returns:
        One :class:`Variant` per path, in the order given.
    """
    from aunce_rt.evaluation.metrics import au_metrics
    from aunce_rt.session import AUModelSession

    if "fp32" not in paths:
        raise InputError(f"measuring variants needs the fp32 graph as reference; got {', '.join(paths)}")
    probs: dict[str, np.ndarray] = {}
    variants = []
    for precision in ["fp32", *(p for p in paths if p != "fp32")]:
        session = AUModelSession(paths[precision], providers="cpu")
        probs[precision] = session.run(crops)
        m = au_metrics(probs[precision], labels, np.asarray(session.metadata.thresholds))
        diff = float(np.abs(probs[precision] - probs["fp32"]).max()) if len(crops) else 0.0
        variants.append(
            Variant(
                precision,
                Path(paths[precision]),
                float("nan"),
                float(m.f1_macro),
                tuple(map(float, m.f1)),
                diff,
            )
        )
    by_precision = {v.precision: v for v in variants}
    ordered = [by_precision[p] for p in paths]
    if timed:
        from aunce_rt.export import ms_per_face  # the timer export's int8 scheme choice uses

        speeds = ms_per_face([v.path for v in ordered], session.input_size)
        ordered = [replace(v, ms_per_face=ms) for v, ms in zip(ordered, speeds, strict=True)]
    for v in ordered:
        log.info("%s: %.2f ms/face, F1-macro %.3f", v.precision, v.ms_per_face, v.f1_macro)
    return tuple(ordered)
