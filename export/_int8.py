"""int8 variants: ONNX Runtime static quantisation (QDQ, per-channel) calibrated on face crops,
or dynamic quantisation of the matrix products for attention encoders.

The float32 graph is first pre-processed (``quant_pre_process``: symbolic shape
inference and graph optimisation), then quantised with ``quantize_static`` over a
:class:`CropReader` of aligned crops. The in-graph pre-processing (uint8 -> float,
normalisation, layout) and the final sigmoid stay in float: their nodes are
excluded by name, so the graph still takes uint8 crops and returns float32
probabilities. Two flavours, weights always symmetric int8 per channel:

- ``activations="u8"`` (default): asymmetric uint8 activations, ONNX Runtime's
  U8S8 path on x86 CPUs. Measured on a ResNet-50 encoder: ONNX Runtime 1.31 fuses
  all 53 Conv nodes into QLinearConv; with int8 activations it left the 20 whose
  input also feeds a residual Add in float, behind DequantizeLinear nodes.
- ``activations="s8"``: symmetric int8 activations (zero point 0), the only QDQ
  form TensorRT's explicit int8 mode accepts; ``export_onnx(..., tensorrt=True)``
  uses it.

Static or dynamic: measured by ``bench/bench_export.py`` on this 2-core CPU, static
QDQ makes a ResNet-50 encoder ~3x faster than fp32 but a Swin-B encoder only ~1.7x
(LayerNorm, Softmax, GELU and the window shuffles stay float between Q/DQ pairs),
while dynamic quantisation of the MatMul/Gemm nodes (int8 weights, activations
quantised on the fly: ``DynamicQuantizeMatMul``) makes Swin-B ~2x faster, and on
the light encoders, whose per-AU heads are matrix products, it was the faster one
too. Which wins depends on the model and the machine, so ``choose_int8_scheme``
(``export_onnx``'s ``int8_scheme="auto"``) builds both and keeps the faster one,
timed where it runs.
TensorRT reads only static Q/DQ graphs.

Example:
    >>> # quantize_int8("model_fp32.onnx", "model_int8.onnx", synthau_crops(64))
    >>> # quantize_int8("model_fp32.onnx", "model_int8.onnx", scheme="dynamic")
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quant_pre_process,
    quantize_dynamic,
    quantize_static,
)

from aunce_rt.errors import ModelError
from aunce_rt.export._graph import INPUT_NAME, finish_graph, load_model_proto, output_shapes, read_metadata

logger = logging.getLogger(__name__)

# Node-name scopes left in float: the TorchScript exporter names nodes after the
# module path, and the export wrapper keeps pre/post-processing in these modules.
FLOAT_SCOPES: tuple[str, ...] = ("/preprocess/", "/postprocess/")
ACTIVATIONS: tuple[str, ...] = ("u8", "s8")
SCHEMES: tuple[str, ...] = ("auto", "static", "dynamic")
DYNAMIC_OPS: tuple[str, ...] = ("MatMul", "Gemm")


class CropReader(CalibrationDataReader):
    """Feeds calibration batches ``{"images": (B, 224, 224, 3) uint8}`` to the calibrator."""

    def __init__(self, crops: np.ndarray, batch_size: int = 8, input_name: str = INPUT_NAME) -> None:
        if crops.ndim != 4 or crops.dtype != np.uint8 or len(crops) == 0:
            raise ModelError(
                f"calibration crops must be non-empty uint8 (N, H, W, 3); got {crops.dtype} {crops.shape}"
            )
        self.crops = crops
        self.batch_size = int(batch_size)
        self.input_name = input_name
        self._start = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._start >= len(self.crops):
            return None
        batch = self.crops[self._start : self._start + self.batch_size]
        self._start += self.batch_size
        return {self.input_name: batch}

    def rewind(self) -> None:
        self._start = 0

    def __len__(self) -> int:
        return -(-len(self.crops) // self.batch_size)


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """Drop the quantiser's chatter (it logs per-tensor notes to the root logger) below ERROR."""
    root = logging.getLogger()
    drop = logging.Filter()
    drop.filter = lambda record: record.levelno >= logging.ERROR  # type: ignore[method-assign]
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)


@contextlib.contextmanager
def _prepared(fp32_path: str | Path) -> Iterator[tuple[Path, list[str]]]:
    """The float graph after ``quant_pre_process`` (a temporary file) and the nodes to keep float.

    The quantiser's root-logger chatter is dropped while the context is open.
    """
    with tempfile.TemporaryDirectory(prefix="aunce-int8-") as tmp, _quiet_root_logger():
        prepped = Path(tmp) / "prepped.onnx"
        try:
            quant_pre_process(str(fp32_path), str(prepped), auto_merge=True)
        except Exception as exc:  # the pre-processor raises bare Exceptions
            raise ModelError(f"int8 pre-processing of {fp32_path} failed: {exc}") from None
        yield prepped, float_nodes(onnx.load(str(prepped)))


def float_nodes(model: onnx.ModelProto, scopes: Sequence[str] = FLOAT_SCOPES) -> list[str]:
    """Names of the nodes in ``scopes`` (kept in float by the quantiser)."""
    return [n.name for n in model.graph.node if n.name and any(s in n.name for s in scopes)]


def quantize_int8(
    fp32_path: str | Path,
    out_path: str | Path,
    crops: np.ndarray | None = None,
    *,
    scheme: str = "static",
    per_channel: bool = True,
    batch_size: int = 8,
    method: str = "minmax",
    activations: str = "u8",
) -> Path:
    """Write the int8 variant of an exported float32 graph, self-describing (precision "int8").

    Args:
        fp32_path: the verified float32 export.
        out_path: where to write the int8 graph.
        crops: calibration crops (N, S, S, 3) uint8 RGB for ``scheme="static"`` (a few
            hundred is plenty); unused by "dynamic".
        scheme: "static" (calibrated QDQ) or "dynamic" (int8 MatMul/Gemm weights, no
            calibration), see the module docstring.
        per_channel: per-output-channel weight scales (static; better for depthwise convs).
        batch_size: calibration batch size.
        method: "minmax", "entropy" or "percentile" (ONNX Runtime calibration methods).
        activations: "u8" (asymmetric uint8: fastest on CPUs) or "s8" (symmetric int8:
            for TensorRT), static only.

    Returns:
        ``out_path``, with the float graph's metadata (precision "int8") and output shapes.

    Example:
        >>> # quantize_int8("model.onnx", "model_int8.onnx", synthau_crops(256))
        >>> # quantize_int8("model.onnx", "model_int8.onnx", scheme="dynamic")
    """
    if scheme not in ("static", "dynamic"):
        raise ModelError(f"int8 scheme must be 'static' or 'dynamic'; got {scheme!r}")
    if scheme == "static":
        if crops is None:
            raise ModelError(
                "static int8 needs calibration crops; pass aligned face crops (folder_crops(DIR)) "
                "or use scheme='dynamic'"
            )
        _quantize_static(fp32_path, out_path, crops, per_channel, batch_size, method, activations)
    else:
        _quantize_dynamic(fp32_path, out_path)
    source = load_model_proto(fp32_path)
    meta = dataclasses.replace(read_metadata(source, fp32_path), precision="int8")
    return finish_graph(load_model_proto(out_path), out_path, meta, output_shapes(source))


def _quantize_static(
    fp32_path: str | Path,
    out_path: str | Path,
    crops: np.ndarray,
    per_channel: bool,
    batch_size: int,
    method: str,
    activations: str,
) -> None:
    """QDQ static quantisation of the graph at ``fp32_path``, calibrated on ``crops``."""
    methods = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }
    if method not in methods:
        raise ModelError(f"unknown calibration method {method!r}; expected one of {', '.join(methods)}")
    if activations not in ACTIVATIONS:
        raise ModelError(f"int8 activations must be one of {', '.join(ACTIVATIONS)}; got {activations!r}")
    with _prepared(fp32_path) as (prepped, exclude):
        logger.info(
            "int8: calibrating on %d crops; %d pre/post-processing nodes kept in float",
            len(crops),
            len(exclude),
        )
        quantize_static(
            str(prepped),
            str(out_path),
            CropReader(crops, batch_size),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            activation_type=QuantType.QUInt8 if activations == "u8" else QuantType.QInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=exclude,
            calibrate_method=methods[method],
            calibration_providers=["CPUExecutionProvider"],
            extra_options={"ActivationSymmetric": activations == "s8", "WeightSymmetric": True},
        )


def _quantize_dynamic(fp32_path: str | Path, out_path: str | Path) -> None:
    """Dynamic quantisation (int8 MatMul/Gemm weights) of the graph at ``fp32_path``.

    No calibration: activations are quantised per batch at run time. Pre/post-processing
    stays float (as in static quantisation); so do Conv nodes (ONNX Runtime's dynamic
    ConvInteger is slower than float Conv on CPUs).
    """
    with _prepared(fp32_path) as (prepped, exclude):
        logger.info("int8 (dynamic): MatMul/Gemm weights to int8; %d nodes kept in float", len(exclude))
        quantize_dynamic(
            str(prepped),
            str(out_path),
            weight_type=QuantType.QInt8,
            per_channel=False,
            op_types_to_quantize=list(DYNAMIC_OPS),
            nodes_to_exclude=exclude,
        )
