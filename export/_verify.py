"""Check an exported graph against its source: ONNX Runtime vs PyTorch, variant vs float32.

All comparisons are on probabilities (the graph's "probs" output) over uint8
crops; the numbers are logged and returned so the CLI can print them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from aunce_rt.errors import ModelError
from aunce_rt.export._graph import INPUT_NAME, PROBS_NAME

logger = logging.getLogger(__name__)

FP32_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Agreement:
    """How closely one set of probabilities follows a reference.

    Attributes:
        name: what was compared ("random", "real", "labelled").
        n: number of crops.
        max_abs_diff: max |p - p_ref| over crops and AUs.
        mean_abs_diff: mean |p - p_ref|.
        decision_agreement: fraction of (crop, AU) pairs on the same side of 0.5.
    """

    name: str
    n: int
    max_abs_diff: float
    mean_abs_diff: float
    decision_agreement: float

    def __str__(self) -> str:
        return (
            f"{self.name} crops (n={self.n}): max |dp| {self.max_abs_diff:.2e}, mean {self.mean_abs_diff:.2e}, "
            f"same decision {100 * self.decision_agreement:.1f}%"
        )


def compare(name: str, probs: np.ndarray, reference: np.ndarray) -> Agreement:
    """Agreement of ``probs`` (S, K) with ``reference`` (S, K)."""
    if probs.shape != reference.shape:
        raise ModelError(f"{name}: output shape {probs.shape} differs from the reference {reference.shape}")
    diff = np.abs(probs.astype(np.float64) - reference.astype(np.float64))
    same = (probs >= 0.5) == (reference >= 0.5)
    return Agreement(name, len(probs), float(diff.max()), float(diff.mean()), float(same.mean()))


def session(path: str | Path, threads: int = 1) -> ort.InferenceSession:
    """A CPU ONNX Runtime session with ``threads`` intra-op threads; ModelError if it cannot load."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"ONNX Runtime cannot load {path}: {exc}") from None


def run_probs(sess: ort.InferenceSession, crops: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """Probabilities (S, K) float32 of ``sess`` over crops (S, 224, 224, 3) uint8, in batches."""
    out = [
        sess.run([PROBS_NAME], {INPUT_NAME: crops[i : i + batch_size]})[0]
        for i in range(0, len(crops), batch_size)
    ]
    return np.concatenate(out).astype(np.float32)


def agreements(
    reference: Callable[[np.ndarray], np.ndarray],
    sess: ort.InferenceSession,
    crop_sets: Sequence[tuple[str, np.ndarray]],
    tolerance: float | None,
    what: str,
) -> list[Agreement]:
    """Compare ``sess`` with ``reference`` on each named crop set; ModelError above ``tolerance``.

    Args:
        reference: crops (S, 224, 224, 3) uint8 -> probabilities (S, K).
        sess: the ONNX Runtime session under test.
        crop_sets: (name, crops) pairs.
        tolerance: max allowed |dp|, or None to only report.
        what: label for messages, e.g. "ONNX Runtime fp32 vs PyTorch".
    """
    results = []
    for name, crops in crop_sets:
        agreement = compare(name, run_probs(sess, crops), reference(crops))
        logger.info("%s, %s", what, agreement)
        results.append(agreement)
        if tolerance is not None and agreement.max_abs_diff > tolerance:
            raise ModelError(
                f"{what}: {agreement}; expected max |dp| <= {tolerance:g}. The exported graph does not "
                "reproduce the model; report this with the backbone name and torch/onnx versions"
            )
    return results


def ms_per_face(
    paths: Sequence[str | Path],
    size: int,
    *,
    batch: int = 1,
    rounds: int = 5,
    repeats: int = 30,
    threads: int = 2,
) -> list[float]:
    """Median milliseconds per face of each ONNX model on this machine's CPU (ONNX Runtime).

    The models take turns, ``rounds`` times, so a burst of load on the machine slows
    them alike instead of deciding which one looks faster. Each turn opens its own
    session and closes it before the next model runs: an idle session's spinning
    worker threads would otherwise steal the cores from the one being timed.
    """
    import gc
    import time

    crops = np.random.default_rng(0).integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
    times: list[list[float]] = [[] for _ in paths]
    for _ in range(rounds):
        for path, out in zip(paths, times, strict=True):
            sess = session(path, threads)
            for _ in range(3):
                sess.run(None, {INPUT_NAME: crops})
            for _ in range(repeats):
                t0 = time.perf_counter()
                sess.run(None, {INPUT_NAME: crops})
                out.append((time.perf_counter() - t0) * 1e3 / batch)
            del sess
            gc.collect()
    return [float(np.median(t)) for t in times]
