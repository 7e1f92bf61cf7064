"""Choose the int8 scheme by timing: build each candidate, time it on this machine, keep the faster.

Static QDQ wins on convolution-heavy encoders (ResNet-50), dynamic MatMul/Gemm
quantisation on attention encoders (Swin-B) and, in our runs, on the light
encoders (``bench/bench_export.py``); which one wins depends on the model and the
machine, so it is measured where the model will run.

Example:
    >>> # choice = choose_int8_scheme("model.onnx", "model_int8.onnx", synthau_crops(256))
    >>> # choice.scheme, choice.ms_per_face
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aunce_rt.errors import ModelError
from aunce_rt.export._graph import read_metadata
from aunce_rt.export._int8 import quantize_int8
from aunce_rt.export._verify import ms_per_face

logger = logging.getLogger(__name__)

INT8_SCHEMES: tuple[str, ...] = ("static", "dynamic")


@dataclass(frozen=True)
class SchemeChoice:
    """The int8 scheme kept and the timings that decided it.

    Attributes:
        scheme: "static" or "dynamic".
        path: the int8 graph written.
        ms_per_face: scheme -> median ms per face on this machine's CPU (ONNX Runtime, batch 1).
    """

    scheme: str
    path: Path
    ms_per_face: Mapping[str, float] = field(default_factory=dict)


def choose_int8_scheme(
    fp32_path: str | Path,
    out_path: str | Path,
    crops: np.ndarray | None = None,
    *,
    schemes: Sequence[str] = INT8_SCHEMES,
    activations: str = "u8",
) -> SchemeChoice:
    """Quantise with each scheme, time them here and write the faster one to ``out_path``.

    Args:
        fp32_path: the verified float32 export.
        out_path: where the chosen int8 graph is written.
        crops: calibration crops (N, S, S, 3) uint8 RGB, needed when "static" is a candidate.
        schemes: the candidates, a non-empty subset of ("static", "dynamic").
        activations: static activations, "u8" (CPUs) or "s8" (TensorRT).

    Returns:
        The kept scheme, its path and the timings (empty with a single candidate).
    """
    if not schemes or any(s not in INT8_SCHEMES for s in schemes):
        raise ModelError(f"int8 schemes must be a non-empty subset of {INT8_SCHEMES}; got {tuple(schemes)}")
    out_path = Path(out_path)
    if len(schemes) == 1:
        quantize_int8(fp32_path, out_path, crops, scheme=schemes[0], activations=activations)
        return SchemeChoice(schemes[0], out_path)
    size = read_metadata(fp32_path).input_size
    with tempfile.TemporaryDirectory(prefix="aunce-int8-") as tmp:
        built = {
            name: quantize_int8(
                fp32_path, Path(tmp) / f"int8_{name}.onnx", crops, scheme=name, activations=activations
            )
            for name in schemes
        }
        speeds = dict(zip(built, ms_per_face(list(built.values()), size), strict=True))
        scheme = min(speeds, key=speeds.__getitem__)
        shutil.copyfile(built[scheme], out_path)
    logger.info(
        "int8 auto: %s on this CPU -> %s",
        ", ".join(f"{k} {v:.2f} ms/face" for k, v in speeds.items()),
        scheme,
    )
    return SchemeChoice(scheme, out_path, speeds)
