"""Trace a trained model to one self-describing float32 ONNX graph.

Exporter choice: torch 2.14's default ``torch.onnx.export(dynamo=True)`` traces
with ``torch.export`` and converts via onnxscript. On our encoder it takes ~20x
longer, emits opset 18 (its down-conversion to 17 fails on the Reduce ops'
``axes`` inputs) and writes the weights as external data by default. The
TorchScript exporter (``dynamo=False``, still shipped, deprecated) produces a
single-file opset-17 graph with a symbolic batch axis and static everything else
(the graph layer's ``topk`` K is a Python int, so it is a constant), which is what
ONNX Runtime and TensorRT want; we use it and silence its deprecation warning.

Example:
    >>> # path = trace_onnx(load_source("run/best.pt"), "model.onnx")
    >>> # read_metadata(path).au_codes
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from aunce_rt.align import INPUT_SIZE
from aunce_rt.errors import InputError, ModelError
from aunce_rt.export._crops import random_crops
from aunce_rt.export._graph import FEATURES_NAME, INPUT_NAME, PROBS_NAME, finish_graph, load_model_proto
from aunce_rt.export._metadata import build_metadata
from aunce_rt.export._wrapper import ExportWrapper

if TYPE_CHECKING:
    from aunce_rt.models.checkpoint import LoadedModel

logger = logging.getLogger(__name__)

DEFAULT_OPSET = 17
MIN_INPUT_SIZE = 32


def trained_input_size(extra: Mapping[str, Any], override: int | None = None) -> int:
    """The crop side a model is exported at: ``override``, else the side it was trained at.

    The trained side is ``extra["input_size"]`` (recipes, re-exports) or the training
    config's ``extra["config"]["data"]["image_size"]`` (training runs); 224 when
    the checkpoint records neither.

    Raises:
        InputError: the side is below 32 px or not an integer.
    """
    config = extra.get("config")
    data = config.get("data") if isinstance(config, Mapping) else None
    trained = extra.get("input_size") or (data.get("image_size") if isinstance(data, Mapping) else None)
    size = override if override is not None else trained if trained is not None else INPUT_SIZE
    if (
        isinstance(size, bool)
        or not isinstance(size, int | float)
        or int(size) != size
        or size < MIN_INPUT_SIZE
    ):
        raise InputError(
            f"input size {size!r} cannot be exported; pass an integer side of at least {MIN_INPUT_SIZE} px "
            "(--image-size), e.g. the size the model was trained at"
        )
    return int(size)


def load_source(source: str | Path | LoadedModel) -> LoadedModel:
    """A checkpoint path (``aunce_rt.models.save_model`` format) or a ``LoadedModel``, loaded on the CPU."""
    if not isinstance(source, (str, Path)):
        return source
    from aunce_rt.models.checkpoint import load_model

    return load_model(source, map_location="cpu")


def trace_onnx(
    source: str | Path | LoadedModel,
    out: str | Path,
    *,
    input_size: int | None = None,
    opset: int = DEFAULT_OPSET,
    with_features: bool = False,
    metadata_extra: Mapping[str, Any] | None = None,
) -> Path:
    """Trace a model to a float32 ONNX graph (uint8 crops in, probabilities out) with its metadata.

    Args:
        source: a checkpoint path or a ``LoadedModel``.
        out: the .onnx file to write.
        input_size: side of the input crops; None: the side the checkpoint was trained
            at (:func:`trained_input_size`), else 224.
        opset: ONNX opset (17 suits ONNX Runtime and TensorRT 8.6+/10).
        with_features: add the "features" (N, K, C) output.
        metadata_extra: keys overriding the checkpoint's ``extra`` (dataset, metrics, ...).

    Returns:
        ``out``: one file with a symbolic batch axis, static output shapes and the
        aunce-rt metadata (precision "fp32"). It is not compared with PyTorch here:
        that is :func:`aunce_rt.export.check_parity`.

    Raises:
        ModelError: the exporter failed, or the model's AU count disagrees with its checkpoint.
    """
    loaded = load_source(source)
    extra = {**dict(loaded.extra), **dict(metadata_extra or {})}
    size = trained_input_size(extra, input_size)
    wrapper = ExportWrapper(loaded.model.eval(), with_features).eval()
    out = Path(out)
    k, c = _torch_export(wrapper, out, opset, size)
    if k != len(loaded.au_codes):
        raise ModelError(
            f"the model outputs {k} AUs but its checkpoint lists {len(loaded.au_codes)} AU codes; "
            "the checkpoint is inconsistent, re-save it with aunce_rt.models.checkpoint.save_model"
        )
    meta = build_metadata(
        au_codes=loaded.au_codes,
        thresholds=loaded.thresholds,
        encoder_config=loaded.encoder_config,
        node_dim=int(getattr(getattr(loaded.model, "encoder", None), "node_dim", c)),
        extra=extra,
        precision="fp32",
        has_features=with_features,
        input_size=size,
        # a CLP model's encoder is E + h_a of CLP (models.clp), not ME-GraphAU's stage 1
        encoder="clp" if loaded.encoder_config.get("arch") == "clp" else "megraph_stage1",
    )
    shapes = {PROBS_NAME: (k,), FEATURES_NAME: (k, c)}
    return finish_graph(load_model_proto(out), out, meta, shapes)


def _torch_export(wrapper: ExportWrapper, path: Path, opset: int, size: int) -> tuple[int, int]:
    """TorchScript-export ``wrapper`` to ``path`` with a dynamic batch; returns (K, C)."""
    dummy = torch.from_numpy(random_crops(2, seed=1, size=size))
    with torch.no_grad():
        first = wrapper(dummy)
    probs, feats = first if isinstance(first, tuple) else (first, None)
    k = int(probs.shape[-1])
    c = (
        int(feats.shape[-1])
        if feats is not None
        else int(getattr(getattr(wrapper.model, "encoder", None), "node_dim", 0))
    )
    outputs = [PROBS_NAME, FEATURES_NAME] if wrapper.with_features else [PROBS_NAME]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter (see above)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        try:
            torch.onnx.export(
                wrapper,
                (dummy,),
                str(path),
                dynamo=False,
                opset_version=opset,
                input_names=[INPUT_NAME],
                output_names=outputs,
                dynamic_axes={name: {0: "batch"} for name in [INPUT_NAME, *outputs]},
                do_constant_folding=True,
            )
        except Exception as exc:  # torch raises many types for unexportable code
            raise ModelError(f"torch.onnx.export failed for this model at opset {opset}: {exc}") from exc
    return k, c
