"""TensorRT pre-flight check (ops allow-list, static shapes, constant TopK) and the missing-TensorRT error."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from aunce_rt.errors import ModelError
from aunce_rt.export import (
    TENSORRT_ONNX_OPS,
    ExportResult,
    build_engine,
    check_tensorrt_compatible,
    tensorrt_problems,
)


def _model(nodes: list, inputs: list, outputs: list, inits: list = ()) -> onnx.ModelProto:  # type: ignore[assignment]
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )


def _info(name: str, dims: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def test_exported_graph_passes(tiny: ExportResult) -> None:
    model = onnx.load(str(tiny.path))
    assert tensorrt_problems(model) == []
    check_tensorrt_compatible(model)
    assert {n.op_type for n in model.graph.node} <= TENSORRT_ONNX_OPS
    assert "TopK" in {n.op_type for n in model.graph.node}  # the graph layer's neighbour selection


def test_unsupported_and_custom_ops_are_reported() -> None:
    model = _model(
        [
            helper.make_node("Unique", ["x"], ["u"]),
            helper.make_node("FusedGemm", ["x", "x"], ["y"], domain="com.microsoft"),
        ],
        [_info("x", ["batch", 4])],
        [_info("y", ["batch", 4])],
    )
    problems = tensorrt_problems(model)
    assert any("Unique" in p and "not supported" in p for p in problems)
    assert any("com.microsoft" in p for p in problems)
    with pytest.raises(ModelError, match="TensorRT"):
        check_tensorrt_compatible(model)


def test_dynamic_non_batch_dims_are_reported() -> None:
    ok = _model(
        [helper.make_node("Relu", ["x"], ["y"])], [_info("x", ["batch", 4])], [_info("y", ["batch", 4])]
    )
    assert tensorrt_problems(ok) == []
    bad = _model(
        [helper.make_node("Relu", ["x"], ["y"])],
        [_info("x", ["batch", "width"])],
        [_info("y", ["batch", "width"])],
    )
    problems = tensorrt_problems(bad)
    assert problems and all("dynamic beyond the batch axis" in p for p in problems)


def test_topk_needs_a_constant_k() -> None:
    const_k = numpy_helper.from_array(np.array([2], np.int64), "k")
    nodes = [helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=1)]
    outs = [_info("v", ["batch", 2]), helper.make_tensor_value_info("i", TensorProto.INT64, ["batch", 2])]
    assert tensorrt_problems(_model(nodes, [_info("x", ["batch", 4])], outs, [const_k])) == []
    runtime_k = helper.make_tensor_value_info("k", TensorProto.INT64, [1])
    problems = tensorrt_problems(_model(nodes, [_info("x", ["batch", 4]), runtime_k], outs))
    assert any("TopK" in p and "constant K" in p for p in problems)


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="tensorrt is installed here")
def test_engine_build_without_tensorrt_is_a_clear_error(tiny: ExportResult, tmp_path: Path) -> None:
    with pytest.raises(
        ModelError, match=r"TensorRT not available: .*install tensorrt on a machine with an NVIDIA GPU"
    ):
        build_engine(tiny.path, tmp_path / "m.engine")
    assert not (tmp_path / "m.engine").exists()
