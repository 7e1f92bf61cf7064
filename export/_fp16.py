"""Convert a float32 ONNX graph to float16, keeping its uint8 input and float32 outputs.

onnxconverter-common is not a dependency, so the conversion is written with the
plain ``onnx`` API:

1. every float32 initializer and ``Constant`` becomes float16 (clipped to the
   float16 range), every ``Cast(to=FLOAT)`` becomes ``Cast(to=FLOAT16)`` (so the
   uint8 input is cast straight to float16 inside the graph);
2. nodes whose op is in ``keep_fp32`` (reductions that square their input and
   would overflow float16) run in float32 between inserted casts;
3. each float32 graph output gets a final ``Cast(to=FLOAT)``, so callers still
   read float32.

Example:
    >>> # fp16 = convert_to_fp16(onnx.load("model.onnx")); onnx.save(fp16, "model_fp16.onnx")
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from aunce_rt.errors import ModelError

logger = logging.getLogger(__name__)

# Ops kept in float32: sums of squares overflow float16 (max 65504) for activations
# above ~256, which would turn an L2-normalised feature into zeros.
DEFAULT_KEEP_FP32: frozenset[str] = frozenset(
    {"ReduceL2", "ReduceSumSquare", "ReduceLogSumExp", "LpNormalization"}
)
_FP16_MAX = float(np.finfo(np.float16).max)


def convert_to_fp16(model: onnx.ModelProto, keep_fp32: Iterable[str] = DEFAULT_KEEP_FP32) -> onnx.ModelProto:
    """Return a float16 copy of ``model`` with the same input and output types.

    Args:
        model: a float32 graph (uint8 or float32 inputs, float32 outputs), no subgraphs.
        keep_fp32: op types to leave in float32, wrapped in casts.

    Returns:
        A new ModelProto; the input is unchanged, float32 outputs stay float32.
    """
    keep = frozenset(keep_fp32)
    for value in model.graph.input:
        if value.type.tensor_type.elem_type == TensorProto.FLOAT:
            raise ModelError(
                f"graph input {value.name!r} is float32; the fp16 conversion expects the uint8 "
                "image input of an aunce-rt export (re-export with export_onnx)"
            )
    for node in model.graph.node:
        if any(
            attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for attr in node.attribute
        ):
            raise ModelError(
                f"fp16 conversion does not handle subgraphs (node {node.name!r}, {node.op_type})"
            )
    # Element types of every tensor in the float32 graph, to know which edges are float.
    typed = onnx.shape_inference.infer_shapes(model)  # element types are all we need here
    elem = {
        v.name: v.type.tensor_type.elem_type
        for v in [*typed.graph.value_info, *typed.graph.input, *typed.graph.output]
        if v.type.HasField("tensor_type")
    }
    elem.update({t.name: t.data_type for t in model.graph.initializer})

    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    del graph.value_info[:]
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT:
            init.CopyFrom(_to_fp16_tensor(init))

    new_nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        _convert_node_attributes(node)
        if node.op_type not in keep:
            new_nodes.append(node)
            continue
        # float32 island: cast float inputs up, run the node, cast float outputs down.
        after: list[onnx.NodeProto] = []
        for i, name in enumerate(node.input):
            if name and elem.get(name) == TensorProto.FLOAT:
                up = f"{name}__to_fp32__{node.name or node.op_type}"
                new_nodes.append(helper.make_node("Cast", [name], [up], to=TensorProto.FLOAT, name=up))
                node.input[i] = up
        for i, name in enumerate(node.output):
            if name and elem.get(name) == TensorProto.FLOAT:
                raw = f"{name}__fp32"
                node.output[i] = raw
                after.append(helper.make_node("Cast", [raw], [name], to=TensorProto.FLOAT16, name=raw))
        new_nodes.extend([node, *after])

    # float32 graph outputs: the converted producer writes <name>__fp16, a Cast restores <name>.
    for output in graph.output:
        if output.type.tensor_type.elem_type != TensorProto.FLOAT:
            continue
        half = f"{output.name}__fp16"
        for node in new_nodes:
            for i, name in enumerate(node.output):
                if name == output.name:
                    node.output[i] = half
            for i, name in enumerate(node.input):
                if name == output.name:
                    node.input[i] = half
        new_nodes.append(helper.make_node("Cast", [half], [output.name], to=TensorProto.FLOAT, name=half))
    del graph.node[:]
    graph.node.extend(new_nodes)
    logger.info("converted graph to float16 (kept in float32: %s)", ", ".join(sorted(keep)) or "none")
    return out


def _to_fp16_tensor(tensor: onnx.TensorProto) -> onnx.TensorProto:
    array = numpy_helper.to_array(tensor).astype(np.float32)
    if array.size and np.abs(array).max() > _FP16_MAX:
        logger.warning("tensor %r has values beyond the float16 range; clipping them", tensor.name)
    half = np.clip(array, -_FP16_MAX, _FP16_MAX).astype(np.float16)
    return numpy_helper.from_array(half, tensor.name)


def _convert_node_attributes(node: onnx.NodeProto) -> None:
    """Switch a node's float32 type attributes and constant values to float16, in place."""
    for attr in node.attribute:
        if node.op_type == "Cast" and attr.name == "to" and attr.i == TensorProto.FLOAT:
            attr.i = TensorProto.FLOAT16
        elif attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == TensorProto.FLOAT:
            attr.t.CopyFrom(_to_fp16_tensor(attr.t))
        elif attr.name == "dtype" and attr.type == onnx.AttributeProto.INT and attr.i == TensorProto.FLOAT:
            attr.i = TensorProto.FLOAT16
    if node.op_type == "Constant":
        for attr in list(node.attribute):
            if attr.name in ("value_float", "value_floats"):
                values = [attr.f] if attr.name == "value_float" else list(attr.floats)
                array = np.asarray(values, dtype=np.float16)
                array = array.reshape(()) if attr.name == "value_float" else array
                node.attribute.remove(attr)
                node.attribute.append(helper.make_attribute("value", numpy_helper.from_array(array)))
