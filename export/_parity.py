"""Parity of an exported graph with its reference: PyTorch for fp32, the fp32 graph for a variant.

Example:
    >>> # check_parity("model.onnx", load_source("best.pt"), [("random", random_crops(8))])
    >>> # check_parity("model_int8.onnx", "model.onnx", [("faces", crops)], tolerance=None)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from aunce_rt.export._verify import FP32_TOLERANCE, Agreement, agreements, run_probs, session
from aunce_rt.export._wrapper import ExportWrapper

if TYPE_CHECKING:
    from aunce_rt.models.checkpoint import LoadedModel

logger = logging.getLogger(__name__)

CropSets = Sequence[tuple[str, np.ndarray]]


def check_parity(
    onnx_path: str | Path,
    reference: str | Path | LoadedModel | nn.Module,
    crops: CropSets | np.ndarray,
    *,
    tolerance: float | None = FP32_TOLERANCE,
    what: str | None = None,
) -> tuple[Agreement, ...]:
    """Compare the graph at ``onnx_path`` (ONNX Runtime, CPU) with ``reference`` on aligned crops.

    Args:
        onnx_path: the exported graph under test.
        reference: a ``LoadedModel`` or AUModel (PyTorch, the graph's source), an
            ``ExportWrapper``, or the path of a reference graph (a variant's fp32 graph).
        crops: (name, crops (S, size, size, 3) uint8 RGB) pairs, or one crop array.
        tolerance: max allowed |dp| (ModelError above it), or None to only report.
        what: label of the comparison in logs and errors.

    Returns:
        One :class:`Agreement` per crop set.

    Raises:
        ModelError: a crop set differs by more than ``tolerance``.
    """
    crop_sets: CropSets = [("crops", crops)] if isinstance(crops, np.ndarray) else crops
    if isinstance(reference, (str, Path)):
        ref_session = session(reference)
        run_reference: Callable[[np.ndarray], np.ndarray] = lambda x: run_probs(ref_session, x)  # noqa: E731
        label = what or f"{Path(onnx_path).name} vs {Path(reference).name}"
    else:
        run_reference = torch_probs(reference)
        label = what or "ONNX Runtime vs PyTorch"
    return tuple(agreements(run_reference, session(onnx_path), crop_sets, tolerance, label))


def torch_probs(model: Any, batch_size: int = 8) -> Callable[[np.ndarray], np.ndarray]:
    """crops (S, size, size, 3) uint8 RGB -> probabilities (S, K) of a PyTorch model, on the CPU."""
    if isinstance(model, ExportWrapper):
        wrapper = model.eval()
    else:  # an AUModel, or a LoadedModel holding one in .model
        wrapper = ExportWrapper((model if isinstance(model, nn.Module) else model.model).eval()).eval()

    def run(crops: np.ndarray) -> np.ndarray:
        outs = []
        with torch.no_grad():
            for i in range(0, len(crops), batch_size):
                result = wrapper(torch.from_numpy(np.ascontiguousarray(crops[i : i + batch_size])))
                outs.append((result[0] if isinstance(result, tuple) else result).numpy())
        return np.concatenate(outs)

    return run
