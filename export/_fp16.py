"""float16 variants with ONNX Runtime's own converter, keeping the uint8 input and float32 outputs.

The conversion is ``onnxruntime.transformers.float16.convert_float_to_float16``
with ``keep_io_types=True`` (float32 outputs stay float32 behind a final Cast;
our input is uint8 and is cast straight to float16 inside the graph). Two things
are added around it:

1. ``Constant`` nodes written with ``value_float(s)`` attributes get a ``value``
   tensor first (the converter only rewrites tensor-valued constants);
2. the op block list is :data:`DEFAULT_KEEP_FP32`: reductions that square their
   input overflow float16 (max 65504) for activations above ~256, which would turn
   an L2-normalised feature into zeros; the converter runs them in float32 between
   casts. ONNX Runtime's own default list (``DEFAULT_OP_BLOCK_LIST``: ai.onnx.ml ops,
   none of which we emit, plus TopK, Range, CumSum, Min, Max, ...) is not used: on
   the tiny test model (``aunce_rt.export.testing``) keeping the graph layer's TopK
   in float32 moved the probabilities by up to 0.14 from fp32 (random crops, seed 3),
   against 3.6e-4 with TopK in float16, the precision the rest of the graph runs in.
3. the result is sorted topologically (the converter appends its casts at the end
   of the node list).

Example:
    >>> # fp16 = convert_to_fp16(onnx.load("model.onnx")); onnx.save(fp16, "model_fp16.onnx")
    >>> # to_fp16("model_fp32.onnx", "model_fp16.onnx")
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from aunce_rt.errors import ModelError
from aunce_rt.export._graph import finish_graph, load_model_proto, output_shapes, read_metadata

logger = logging.getLogger(__name__)

DEFAULT_KEEP_FP32: frozenset[str] = frozenset(
    {"ReduceL2", "ReduceSumSquare", "ReduceLogSumExp", "LpNormalization"}
)


def convert_to_fp16(model: onnx.ModelProto, keep_fp32: Iterable[str] = DEFAULT_KEEP_FP32) -> onnx.ModelProto:
    """Return a float16 copy of ``model`` with the same input and output types.

    Args:
        model: a float32 graph with uint8 inputs and float32 outputs (an aunce-rt export).
        keep_fp32: op types run in float32 between casts (the converter's ``op_block_list``).

    Returns:
        A new ModelProto; the input is unchanged, float32 outputs stay float32.

    Raises:
        ModelError: a float32 graph input (not an aunce-rt export), or the converter failed.
    """
    try:
        from onnxruntime.transformers.float16 import convert_float_to_float16
        from onnxruntime.transformers.onnx_model import OnnxModel
    except ImportError as exc:
        raise ModelError(
            f"fp16 export needs onnxruntime's transformers tools ({exc}); "
            "install onnxruntime >= 1.16 (pip install -U onnxruntime)"
        ) from None
    for value in model.graph.input:
        if value.type.tensor_type.elem_type == TensorProto.FLOAT:
            raise ModelError(
                f"graph input {value.name!r} is float32; the fp16 conversion expects the uint8 "
                "image input of an aunce-rt export (re-export with export_onnx)"
            )
    source = onnx.ModelProto()
    source.CopyFrom(model)
    _constants_as_tensors(source)
    keep = sorted(set(keep_fp32))
    try:
        half = convert_float_to_float16(source, keep_io_types=True, op_block_list=keep)
    except Exception as exc:  # the converter raises bare ValueErrors/Exceptions
        raise ModelError(f"float16 conversion failed: {exc}") from None
    wrapped = OnnxModel(half)
    wrapped.topological_sort(is_deterministic=True)
    logger.info("converted graph to float16 (kept in float32: %s)", ", ".join(keep) or "none")
    return wrapped.model


def to_fp16(
    fp32_path: str | Path, out_path: str | Path, *, keep_fp32: Iterable[str] = DEFAULT_KEEP_FP32
) -> Path:
    """Write the float16 variant of an exported float32 graph, self-describing (precision "fp16").

    Args:
        fp32_path: a float32 aunce-rt export (``trace_onnx``).
        out_path: where to write the fp16 graph.
        keep_fp32: op types kept in float32 (see :func:`convert_to_fp16`).

    Returns:
        ``out_path``.

    Example:
        >>> # to_fp16("model.onnx", "model_fp16.onnx")
    """
    source = load_model_proto(fp32_path)
    meta = dataclasses.replace(read_metadata(source, fp32_path), precision="fp16")
    return finish_graph(convert_to_fp16(source, keep_fp32), out_path, meta, output_shapes(source))


def _constants_as_tensors(model: onnx.ModelProto) -> None:
    """Rewrite ``Constant(value_float[s]=...)`` as ``Constant(value=<float32 tensor>)``, in place."""
    for node in model.graph.node:
        if node.op_type != "Constant":
            continue
        for attr in list(node.attribute):
            if attr.name in ("value_float", "value_floats"):
                scalar = attr.name == "value_float"
                array = np.asarray(attr.f if scalar else list(attr.floats), dtype=np.float32)
                node.attribute.remove(attr)
                node.attribute.append(helper.make_attribute("value", numpy_helper.from_array(array)))
