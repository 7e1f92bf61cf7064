"""An AU intensity head on an exported appearance model's per-AU features (OpenFace's ``AUxx_r``).

An exported CNN (``trace_onnx``: encoder + per-AU probe) computes, for every AU i, a unit-norm
feature ``z_i`` (C channels) and the probe's logit ``<W_i, z_i> + b_i``. This module reads that
feature tensor out of the graph and appends a second per-AU linear map beside the probe:

    intensities[n, i] = clip(<V_i, z[n, i]> + c_i, low, high)      (N, K) on ``intensity_scale``

as the graph's ``"intensities"`` output, with ``intensity_aus`` / ``intensity_scale`` in its
metadata, so the runtime (``AUSession.run_with_intensities``), the CSV's ``AUxx_r`` columns and
everything downstream read it as they read the geometry head's. ``probs`` is untouched. Works on
fp32, fp16-converted and int8 (QDQ) graphs alike: the feature tensor is found by its role (the
first input of the Einsum whose weight is the probe's), not by a position.

Fitting ``V``, ``c`` is ``aunce_rt.pipelines.cnn_intensity``'s job; this module only moves a
fitted head in and out of graphs.

Example:
    >>> # proto = with_features_output(load_model_proto("synthau.onnx"))   # (N, K, C) "features"
    >>> # add_intensity_head(proto, FeatureIntensityHead(v, c)); save_model_proto(proto, "out.onnx")
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from aunce_rt.errors import ModelError
from aunce_rt.export._graph import BATCH_DIM, FEATURES_NAME, read_metadata, set_metadata
from aunce_rt.metadata import INTENSITY_SCALE, OUTPUT_INTENSITIES

PROBE_WEIGHT = "probe.weight"  # the traced AUModel's probe parameter (AUProbe.weight, (K, C))


@dataclass(frozen=True)
class FeatureIntensityHead:
    """One linear regressor per AU on its own feature: ``raw = einsum('nkc,kc->nk', z, weights) + bias``.

    Attributes:
        weights: (K, C) float32, row i for AU i of the model's ``au_codes``.
        bias: (K,) float32.
    """

    weights: np.ndarray
    bias: np.ndarray

    def __post_init__(self) -> None:
        w = np.asarray(self.weights, np.float32)
        b = np.asarray(self.bias, np.float32).reshape(-1)
        if w.ndim != 2 or b.shape != (w.shape[0],):
            raise ValueError(
                f"intensity head weights must be (K, C) and bias (K,); got {w.shape} and {b.shape}"
            )
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "bias", b)

    def raw(self, features: np.ndarray) -> np.ndarray:
        """(N, K, C) per-AU features -> (N, K) unclipped intensities."""
        return np.einsum("nkc,kc->nk", np.asarray(features, np.float32), self.weights) + self.bias

    def predict(self, features: np.ndarray, scale: tuple[float, float] = INTENSITY_SCALE) -> np.ndarray:
        """(N, K, C) -> (N, K) intensities clipped to ``scale``: what the graph's output computes."""
        return np.clip(self.raw(features), scale[0], scale[1])


def feature_tensor(model: onnx.ModelProto) -> str:
    """Name of the (N, K, C) per-AU feature tensor of an exported appearance model.

    A graph exported with features (``has_features``) names it ``"features"``; otherwise it is the
    first input of the probe's Einsum (the node whose other input is the ``probe.weight``
    initialiser, or its dequantised / fp16-cast copy).

    Raises:
        ModelError: the graph has no such tensor (a landmark-geometry model, or not a traced AUModel).
    """
    if any(o.name == FEATURES_NAME for o in model.graph.output):
        return FEATURES_NAME
    for node in model.graph.node:
        if node.op_type == "Einsum" and len(node.input) == 2 and PROBE_WEIGHT in node.input[1]:
            return node.input[0]
    raise ModelError(
        "this model has no per-AU appearance features to read (no Einsum with the probe's weight): "
        "an intensity head on features needs an image model exported by `aunce-rt export` from an "
        "AUModel checkpoint; landmark-geometry models get theirs from `aunce-rt train real-faces`"
    )


def with_features_output(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` whose per-AU feature tensor is also an output (to extract features with;
    float16 in an fp16 graph)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    name = feature_tensor(out)
    if not any(o.name == name for o in out.graph.output):
        elem = onnx.TensorProto.FLOAT16 if _feature_dtype(out, name) == np.float16 else onnx.TensorProto.FLOAT
        out.graph.output.append(helper.make_tensor_value_info(name, elem, None))
    return out


def add_intensity_head(
    model: onnx.ModelProto,
    head: FeatureIntensityHead,
    *,
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> onnx.ModelProto:
    """Append ``head`` as the ``"intensities"`` output of ``model`` (in place; returned for chaining).

    Args:
        model: an exported appearance model without an intensity output.
        head: the fitted head, one row per AU of the model's ``au_codes`` (all of them).
        training: how the head was made, stored as ``metadata.training["intensity"]``.
        metrics: merged into ``metadata.metrics`` (e.g. held-out intensity figures).

    Raises:
        ModelError: the graph already has an intensity output, has no per-AU features, or the
            head's shape does not match the probe's (K, C).
    """
    meta = read_metadata(model)
    if meta.has_intensity or any(o.name == OUTPUT_INTENSITIES for o in model.graph.output):
        raise ModelError(
            f"this model already has an {OUTPUT_INTENSITIES!r} output (AUs {list(meta.intensity_aus)}); "
            "start from a model without one"
        )
    feats = feature_tensor(model)
    probe = _probe_shape(model)
    if probe is not None and head.weights.shape != probe:
        raise ModelError(
            f"intensity head is {head.weights.shape} but the model's probe is {probe} (K AUs x C channels); "
            "fit the head on this model's features"
        )
    low, high = meta.intensity_scale
    dtype = _feature_dtype(model, feats)
    inits = [
        numpy_helper.from_array(head.weights.astype(dtype), "int_feat_weights"),
        numpy_helper.from_array(head.bias.astype(dtype), "int_feat_bias"),
        numpy_helper.from_array(np.array(low, dtype), "int_feat_low"),
        numpy_helper.from_array(np.array(high, dtype), "int_feat_high"),
    ]
    clipped = OUTPUT_INTENSITIES if dtype == np.float32 else "int_feat_clipped"
    nodes = [
        helper.make_node("Einsum", [feats, "int_feat_weights"], ["int_feat_mm"], equation="nkc,kc->nk"),
        helper.make_node("Add", ["int_feat_mm", "int_feat_bias"], ["int_feat_raw"]),
        helper.make_node("Clip", ["int_feat_raw", "int_feat_low", "int_feat_high"], [clipped]),
    ]
    if dtype != np.float32:  # an fp16 graph: the runtime reads float32 outputs
        nodes.append(helper.make_node("Cast", [clipped], [OUTPUT_INTENSITIES], to=onnx.TensorProto.FLOAT))
    model.graph.initializer.extend(inits)
    model.graph.node.extend(nodes)
    model.graph.output.append(
        helper.make_tensor_value_info(
            OUTPUT_INTENSITIES, onnx.TensorProto.FLOAT, [BATCH_DIM, len(meta.au_codes)]
        )
    )
    new = dataclasses.replace(
        meta,
        intensity_aus=meta.au_codes,
        training={**meta.training, **({"intensity": training} if training else {})},
        metrics={**meta.metrics, **(metrics or {})},
    )
    set_metadata(model, new)
    onnx.checker.check_model(model)
    return model


def _probe_shape(model: onnx.ModelProto) -> tuple[int, int] | None:
    """(K, C) of the probe's weight initialiser, when it is stored under its name."""
    for init in model.graph.initializer:
        if init.name.endswith(PROBE_WEIGHT):
            return tuple(int(d) for d in init.dims)  # type: ignore[return-value]
    return None


def _feature_dtype(model: onnx.ModelProto, name: str) -> type:
    """float16 when the feature tensor is computed in half precision (an fp16 graph), else float32."""
    for init in model.graph.initializer:
        if init.name.endswith(PROBE_WEIGHT) and init.data_type == onnx.TensorProto.FLOAT16:
            return np.float16
    inferred = onnx.shape_inference.infer_shapes(model)
    for value in [*inferred.graph.value_info, *inferred.graph.output]:
        if value.name == name and value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT16:
            return np.float16
    return np.float32
