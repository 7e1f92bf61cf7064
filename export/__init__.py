"""Export trained aunce-rt models to self-describing ONNX graphs (fp32, fp16, int8) and TensorRT.

Small steps, each one job, composed by :func:`export_onnx` (``aunce-rt export``):

- :func:`trace_onnx`: checkpoint -> float32 graph with its metadata;
- :func:`check_parity`: a graph vs PyTorch (or a variant vs its fp32 graph);
- :func:`to_fp16`: ONNX Runtime's float16 converter, uint8 in / float32 out kept;
- :func:`quantize_int8`: static (calibrated QDQ) or dynamic int8;
- :func:`choose_int8_scheme`: both int8 schemes timed here, the faster kept;
- :func:`build_engine`: a TensorRT engine.

Example:
    >>> from aunce_rt.export import export_onnx
    >>> # result = export_onnx("best.pt", "model.onnx"); print(result.metadata.au_labels)
    >>> # fp32 = trace_onnx("best.pt", "model.onnx"); check_parity(fp32, load_source("best.pt"), crops)
"""

from __future__ import annotations

from aunce_rt.export._crops import folder_crops, labelled_crops, random_crops, synthau_crops, to_input_crop
from aunce_rt.export._export import PRECISIONS, ExportResult, export_onnx
from aunce_rt.export._fp16 import convert_to_fp16, to_fp16
from aunce_rt.export._graph import read_metadata, update_metadata
from aunce_rt.export._int8 import quantize_int8
from aunce_rt.export._megraph import load_megraph_checkpoint
from aunce_rt.export._parity import check_parity
from aunce_rt.export._scheme import SchemeChoice, choose_int8_scheme
from aunce_rt.export._tensorrt import (
    TENSORRT_ONNX_OPS,
    build_engine,
    check_tensorrt_compatible,
    tensorrt_problems,
)
from aunce_rt.export._trace import load_source, trace_onnx, trained_input_size
from aunce_rt.export._verify import Agreement, ms_per_face

__all__ = [
    "PRECISIONS",
    "TENSORRT_ONNX_OPS",
    "Agreement",
    "ExportResult",
    "SchemeChoice",
    "build_engine",
    "check_parity",
    "check_tensorrt_compatible",
    "choose_int8_scheme",
    "convert_to_fp16",
    "export_onnx",
    "folder_crops",
    "labelled_crops",
    "load_megraph_checkpoint",
    "load_source",
    "ms_per_face",
    "quantize_int8",
    "random_crops",
    "read_metadata",
    "synthau_crops",
    "tensorrt_problems",
    "to_fp16",
    "to_input_crop",
    "trace_onnx",
    "trained_input_size",
    "update_metadata",
]
