"""Export trained aunce-rt models to self-describing ONNX graphs (fp32, fp16, int8) and TensorRT.

Example:
    >>> from export import export_onnx
    >>> # result = export_onnx("best.pt", "model.onnx"); print(result.metadata.au_labels)
"""

from __future__ import annotations

from aunce_rt.export._export import PRECISIONS, ExportResult, export_onnx
from aunce_rt.export._tensorrt import (
    TENSORRT_ONNX_OPS,
    build_engine,
    check_tensorrt_compatible,
    tensorrt_problems,
)
from aunce_rt.export._verify import Agreement

__all__ = [
    "PRECISIONS",
    "TENSORRT_ONNX_OPS",
    "Agreement",
    "ExportResult",
    "build_engine",
    "check_tensorrt_compatible",
    "export_onnx",
    "tensorrt_problems",
]
