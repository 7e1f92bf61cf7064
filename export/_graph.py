"""Small ONNX graph utilities shared by the exporters: metadata, shapes, checks.

Everything here works on an ``onnx.ModelProto`` and needs neither torch nor a
session, so the fp16, int8 and TensorRT steps all use the same helpers.

Example:
    >>> import onnx
    >>> from aunce_rt.export._graph import set_metadata, read_metadata
    >>> # model = onnx.load("model.onnx"); set_metadata(model, meta); read_metadata(model).au_codes
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import onnx

from aunce_rt.errors import ModelError
from aunce_rt.metadata import METADATA_KEY, REEXPORT_HINT, ModelMetadata, metadata_from_props

logger = logging.getLogger(__name__)

INPUT_NAME = "images"
PROBS_NAME = "probs"
FEATURES_NAME = "features"
BATCH_DIM = "batch"


def load_model_proto(path: str | Path) -> onnx.ModelProto:
    """Load an ONNX file, raising ModelError (not a protobuf error) when it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"ONNX model not found: {path}; pass the path of an exported .onnx file")
    try:
        return onnx.load(str(path))
    except Exception as exc:  # protobuf DecodeError, OSError, ...
        raise ModelError(f"cannot read ONNX model {path} ({exc}); " + REEXPORT_HINT) from None


def save_model_proto(model: onnx.ModelProto, path: str | Path) -> Path:
    """Write ``model`` as one self-contained file (no external data; our models stay < 2 GB)."""
    path = Path(path)
    onnx.save_model(model, str(path), save_as_external_data=False)
    return path


def set_metadata(model: onnx.ModelProto, meta: ModelMetadata) -> onnx.ModelProto:
    """Store ``meta.to_json()`` under ``METADATA_KEY`` in ``model.metadata_props`` (replacing any old entry)."""
    keep = [(p.key, p.value) for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    for key, value in [*keep, (METADATA_KEY, meta.to_json())]:
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    return model


def read_metadata(model: onnx.ModelProto | str | Path, source: str | Path = "ONNX model") -> ModelMetadata:
    """Parse the aunce-rt metadata entry of a graph (or .onnx file); ModelError when it is missing.

    Example:
        >>> # read_metadata("model.onnx").au_codes
    """
    if isinstance(model, (str, Path)):
        source, model = model, load_model_proto(model)
    return metadata_from_props({p.key: p.value for p in model.metadata_props}, source)


def update_metadata(path: str | Path, **changes: Any) -> ModelMetadata:
    """Rewrite fields of an exported graph's metadata in place (e.g. ``metrics=...``); returns the new one.

    Example:
        >>> # update_metadata("model.onnx", metrics={"f1_macro": 0.9}).metrics
    """
    proto = load_model_proto(path)
    meta = dataclasses.replace(read_metadata(proto, path), **changes)
    save_model_proto(set_metadata(proto, meta), path)
    return meta


def output_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    """Output name -> static trailing dims (after the batch axis) of a graph's outputs."""
    return {o.name: tuple(int(d) for d in tensor_dims(o)[1:]) for o in model.graph.output}


def finish_graph(
    model: onnx.ModelProto, path: str | Path, meta: ModelMetadata, shapes: dict[str, Sequence[int]]
) -> Path:
    """Give ``model`` its static output shapes and metadata, check it and write it to ``path``."""
    set_static_output_shapes(model, shapes)
    set_metadata(model, meta)
    check_model(model)
    return save_model_proto(model, path)


def set_static_output_shapes(model: onnx.ModelProto, shapes: dict[str, Sequence[int]]) -> onnx.ModelProto:
    """Give graph outputs a symbolic batch axis and the static trailing dims in ``shapes``.

    The TorchScript exporter names unknown output dims (e.g. ``Sigmoidprobs_dim_1``)
    even when they are constant; consumers (TensorRT, the runtime) want them static.

    Args:
        model: the graph to edit in place.
        shapes: output name -> trailing dims after the batch axis, e.g. {"probs": (12,)}.
    """
    for output in model.graph.output:
        if output.name not in shapes:
            continue
        dims = output.type.tensor_type.shape.dim
        trailing = list(shapes[output.name])
        if len(dims) != len(trailing) + 1:
            raise ModelError(
                f"output {output.name!r} has rank {len(dims)}, expected {len(trailing) + 1} "
                f"(batch + {trailing}); the encoder returned an unexpected shape"
            )
        dims[0].Clear()
        dims[0].dim_param = BATCH_DIM
        for dim, value in zip(dims[1:], trailing, strict=True):
            dim.Clear()
            dim.dim_value = int(value)
    return model


def tensor_dims(value: onnx.ValueInfoProto) -> list[int | str]:
    """Dims of a tensor value info: ints when static, the symbol (or '?') when not."""
    out: list[int | str] = []
    for dim in value.type.tensor_type.shape.dim:
        if dim.HasField("dim_value"):
            out.append(int(dim.dim_value))
        else:
            out.append(dim.dim_param or "?")
    return out


def infer_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Symbolic shape inference (ONNX Runtime's), which resolves Shape->Reshape arithmetic.

    Returns a copy with ``value_info`` filled in; the plain ``onnx.shape_inference``
    leaves the dims of reshaped tensors unknown.
    """
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    try:
        inferred = SymbolicShapeInference.infer_shapes(model, auto_merge=True)
    except Exception as exc:  # the inference raises bare Exceptions on unsupported graphs
        raise ModelError(f"shape inference failed on the exported graph ({exc})") from None
    if inferred is None:
        raise ModelError("shape inference failed on the exported graph (it returned nothing)")
    return inferred


def check_model(model: onnx.ModelProto) -> None:
    """``onnx.checker`` with full type checking, raising ModelError with the checker's message."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ModelError(f"the exported ONNX graph is invalid: {exc}") from None
