"""Tiny, real ONNX models built with onnx.helper (no torch), for the runtime and CLI tests.

The tiny model has the exported models' interface: input "images" uint8
(N, 224, 224, 3) RGB, normalisation inside the graph with the metadata's
mean/std, then a fixed random projection (mean of 28x28 patches -> 192 values ->
MatMul to 12 -> Sigmoid) to output "probs" (N, 12).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aunce_rt.aus import BENCHMARK_AUS
from aunce_rt.metadata import METADATA_KEY, ModelMetadata

TINY_AUS = BENCHMARK_AUS["bp4d"]


def tiny_metadata(**overrides: object) -> ModelMetadata:
    """Valid metadata for the tiny model (BP4D's 12 AUs, thresholds 0.5)."""
    kwargs: dict = dict(au_codes=TINY_AUS, thresholds=(0.5,) * len(TINY_AUS), backbone="tiny-test")
    kwargs.update(overrides)
    return ModelMetadata(**kwargs)


def tiny_weights(num_aus: int = len(TINY_AUS), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The fixed projection (192, K) and bias (K,) of the tiny model."""
    rng = np.random.default_rng(seed)
    return (
        rng.normal(0, 0.2, (192, num_aus)).astype(np.float32),
        rng.normal(0, 0.1, num_aus).astype(np.float32),
    )


def tiny_reference(crops: np.ndarray, meta: ModelMetadata | None = None) -> np.ndarray:
    """What the tiny model computes, in numpy: crops (N, 224, 224, 3) uint8 -> (N, K)."""
    meta = meta or tiny_metadata()
    w, b = tiny_weights(meta.num_aus)
    x = (crops.astype(np.float32) / 255.0 - np.array(meta.mean, np.float32)) / np.array(meta.std, np.float32)
    x = x.transpose(0, 3, 1, 2).reshape(len(x), 3, 8, 28, 8, 28).mean(axis=(3, 5))  # (N, 3, 8, 8)
    logits = x.reshape(len(x), -1) @ w + b
    return 1.0 / (1.0 + np.exp(-logits))


def write_tiny_model(
    path: Path,
    *,
    metadata: ModelMetadata | None | bool = True,
    input_size: int = 224,
    output_scale: float | None = None,
) -> Path:
    """Write the tiny model; ``metadata=False`` omits the metadata entry.

    ``output_scale`` multiplies the probabilities (e.g. 15 or NaN: a broken model).
    """
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    meta = tiny_metadata() if metadata is True else metadata
    k = meta.num_aus if isinstance(meta, ModelMetadata) else len(TINY_AUS)
    mean = meta.mean if isinstance(meta, ModelMetadata) else tiny_metadata().mean
    std = meta.std if isinstance(meta, ModelMetadata) else tiny_metadata().std
    w, b = tiny_weights(k)
    pool = input_size // 8
    inits = [
        numpy_helper.from_array((np.array(mean, np.float32) * 255).reshape(1, 1, 1, 3), "mean"),
        numpy_helper.from_array((np.array(std, np.float32) * 255).reshape(1, 1, 1, 3), "std"),
        numpy_helper.from_array(w[: 3 * 8 * 8], "w"),
        numpy_helper.from_array(b, "b"),
    ]
    nodes = [
        helper.make_node("Cast", ["images"], ["x"], to=TensorProto.FLOAT),
        helper.make_node("Sub", ["x", "mean"], ["xc"]),
        helper.make_node("Div", ["xc", "std"], ["xn"]),
        helper.make_node("Transpose", ["xn"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node(
            "AveragePool", ["nchw"], ["pooled"], kernel_shape=[pool, pool], strides=[pool, pool]
        ),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "w"], ["mm"]),
        helper.make_node("Add", ["mm", "b"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["probs" if output_scale is None else "sig"]),
    ]
    if output_scale is not None:
        inits.append(numpy_helper.from_array(np.array([output_scale], np.float32), "scale"))
        nodes.append(helper.make_node("Mul", ["sig", "scale"], ["probs"]))
    graph = helper.make_graph(
        nodes,
        "aunce_rt_tiny",
        [helper.make_tensor_value_info("images", TensorProto.UINT8, ["N", input_size, input_size, 3])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", k])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if isinstance(meta, ModelMetadata):
        helper.set_model_props(model, {METADATA_KEY: meta.to_json()})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
