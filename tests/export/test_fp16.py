"""convert_to_fp16 on hand-built graphs: boundary types, float32 islands, overflow safety."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from aunce_rt.errors import ModelError
from aunce_rt.export._fp16 import convert_to_fp16


def _graph(scale: float) -> onnx.ModelProto:
    """uint8 (N, 4) -> float * scale -> x / ||x||_2 -> float32 (N, 4), plus a Constant-node offset."""
    nodes = [
        helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["xf", "scale"], ["xs"]),
        helper.make_node("Constant", [], ["offset"], value_float=1.0),
        helper.make_node("Add", ["xs", "offset"], ["xo"]),
        helper.make_node("ReduceL2", ["xo"], ["norm"], axes=[1], keepdims=1),
        helper.make_node("Div", ["xo", "norm"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(np.array(scale, np.float32), "scale")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def test_boundaries_stay_uint8_in_float32_out() -> None:
    half = convert_to_fp16(_graph(0.5))
    onnx.checker.check_model(half, full_check=True)
    assert half.graph.input[0].type.tensor_type.elem_type == TensorProto.UINT8
    assert half.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert {t.name: t.data_type for t in half.graph.initializer}["scale"] == TensorProto.FLOAT16
    x = np.arange(8, dtype=np.uint8).reshape(2, 4) * 20
    out = _run(half, x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, _run(_graph(0.5), x), atol=2e-3)


def test_keep_fp32_prevents_overflow() -> None:
    # (255 * 100)^2 * 4 ~ 2.6e9 overflows float16 (max 65504) inside ReduceL2
    x = np.full((1, 4), 255, np.uint8)
    reference = _run(_graph(100.0), x)
    np.testing.assert_allclose(reference, 0.5, atol=1e-6)
    kept = _run(convert_to_fp16(_graph(100.0)), x)
    np.testing.assert_allclose(kept, 0.5, atol=1e-3)
    # ORT's CPU provider has no float16 ReduceL2 and silently computes it in float32, so
    # the overflow only shows on GPUs; check the graph itself: the island is float32.
    for keep, want in (((), TensorProto.FLOAT16), (("ReduceL2",), TensorProto.FLOAT)):
        half = convert_to_fp16(_graph(100.0), keep_fp32=keep)
        inferred = onnx.shape_inference.infer_shapes(half)
        types = {v.name: v.type.tensor_type.elem_type for v in inferred.graph.value_info}
        (reduce,) = [n for n in half.graph.node if n.op_type == "ReduceL2"]
        assert types[reduce.input[0]] == want and types[reduce.output[0]] == want


def test_float_input_is_refused() -> None:
    model = _graph(1.0)
    model.graph.input[0].type.tensor_type.elem_type = TensorProto.FLOAT
    model.graph.node[0].attribute[0].i = TensorProto.FLOAT
    with pytest.raises(ModelError, match="uint8"):
        convert_to_fp16(model)
