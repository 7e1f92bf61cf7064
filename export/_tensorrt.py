"""TensorRT: an engine builder and a pre-flight check of the ONNX graph against TensorRT 10.

The engine build needs the ``tensorrt`` Python package and an NVIDIA GPU. Without
them :func:`build_engine` raises ModelError saying so; it never falls back
silently. What can be checked anywhere is done by :func:`tensorrt_problems`:
every op is one TensorRT 10's ONNX parser supports (the allow-list below, from
onnx-tensorrt's ``docs/operators.md``), every tensor is static apart from the
batch axis, and TopK's K is a constant.

int8 engines use explicit quantisation: they are built from the QDQ graph of
``--int8`` (TensorRT reads the scales from its Q/DQ nodes), so no TensorRT
calibrator is needed; fp16 engines are built from the float32 graph with the
FP16 builder flag.

Example:
    >>> # problems = tensorrt_problems(onnx.load("model.onnx")); assert not problems
"""

from __future__ import annotations

import logging
from pathlib import Path

import onnx

from aunce_rt.errors import ModelError
from aunce_rt.export._graph import infer_shapes, tensor_dims

logger = logging.getLogger(__name__)

# ONNX ops of the default domain supported by TensorRT 10's ONNX parser (onnx-tensorrt
# docs/operators.md, TensorRT 10.x). Ops it lists as unsupported (e.g. Unique,
# StringNormalizer, Det, SequenceAt, Optional*) are absent on purpose.
TENSORRT_ONNX_OPS: frozenset[str] = frozenset(
    """
    Abs Acos Acosh Add AffineGrid And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool
    BatchNormalization Bernoulli BitwiseAnd BitwiseNot BitwiseOr BitwiseXor BlackmanWindow
    Cast CastLike Ceil Celu Clip Compress Concat ConcatFromSequence Constant ConstantOfShape
    Conv ConvTranspose Cos Cosh CumSum DeformConv DepthToSpace DequantizeLinear Div Dropout
    DynamicQuantizeLinear Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor GRU Gather
    GatherElements GatherND Gelu Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater
    GreaterOrEqual GridSample GroupNormalization HammingWindow HannWindow HardSigmoid HardSwish
    Hardmax Identity If InstanceNormalization IsInf IsNaN LRN LSTM LayerNormalization LeakyRelu
    Less LessOrEqual Log LogSoftmax Loop LpNormalization LpPool MatMul MatMulInteger Max MaxPool
    MaxRoiPool MaxUnpool Mean MeanVarianceNormalization Min Mish Mod Mul Multinomial Neg
    NonMaxSuppression NonZero Not OneHot Or PRelu Pad ParametricSoftplus Pow QLinearConv
    QLinearMatMul QuantizeLinear RNN RandomNormal RandomNormalLike RandomUniform
    RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax
    ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize
    ReverseSequence RoiAlign Round STFT ScaledTanh Scan Scatter ScatterElements ScatterND Selu
    SequenceAt SequenceConstruct SequenceEmpty SequenceErase SequenceInsert SequenceLength
    Shape Shrink Sigmoid Sign Sin Sinh Size Slice Softmax Softplus Softsign SpaceToDepth Split
    SplitToSequence Sqrt Squeeze Sub Sum Tan Tanh ThresholdedRelu Tile TopK Transpose Trilu
    Unsqueeze Upsample Where Xor
    """.split()
)
# TopK in TensorRT: K must be a build-time constant no larger than this.
TENSORRT_MAX_TOPK = 3840
_DEFAULT_DOMAINS = ("", "ai.onnx")


def tensorrt_problems(model: onnx.ModelProto) -> list[str]:
    """Reasons TensorRT 10 could not build ``model`` with a dynamic batch only; [] when none.

    Checks: ops in the default ONNX domain and in :data:`TENSORRT_ONNX_OPS`; every
    graph input, output and inferred intermediate tensor static except its first
    axis; TopK's K a constant <= 3840.
    """
    problems: list[str] = []
    for node in model.graph.node:
        where = f"node {node.name or '?'} ({node.op_type})"
        if node.domain not in _DEFAULT_DOMAINS:
            problems.append(f"{where}: custom domain {node.domain!r} is not parsed by TensorRT")
        elif node.op_type not in TENSORRT_ONNX_OPS:
            problems.append(f"{where}: op {node.op_type} is not supported by TensorRT's ONNX parser")
    constants = _constant_values(model)
    for node in model.graph.node:
        if node.op_type == "TopK":
            k = constants.get(node.input[1]) if len(node.input) > 1 else None
            if k is None:
                problems.append(
                    f"node {node.name} (TopK): K is computed at run time; TensorRT needs a constant K"
                )
            elif int(k.reshape(-1)[0]) > TENSORRT_MAX_TOPK:
                problems.append(f"node {node.name} (TopK): K={int(k.reshape(-1)[0])} > {TENSORRT_MAX_TOPK}")
    try:
        graph = infer_shapes(model).graph
    except ModelError as exc:
        return [*problems, f"shapes cannot be checked: {exc}"]
    for value in [*graph.input, *graph.output, *graph.value_info]:
        if not value.type.HasField("tensor_type") or not value.type.tensor_type.HasField("shape"):
            continue
        dims = tensor_dims(value)
        dynamic = [i for i, d in enumerate(dims) if not isinstance(d, int) and i > 0]
        if dynamic:
            problems.append(f"tensor {value.name}: dims {dims} are dynamic beyond the batch axis")
    return problems


def check_tensorrt_compatible(model: onnx.ModelProto) -> None:
    """Raise ModelError listing :func:`tensorrt_problems` when there are any."""
    problems = tensorrt_problems(model)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; ... ({len(problems) - 5} more)" if len(problems) > 5 else "")
        raise ModelError(f"the graph cannot be built by TensorRT: {shown}")


def _constant_values(model: onnx.ModelProto) -> dict[str, object]:
    """Tensor name -> numpy value for initializers and Constant node outputs."""
    values: dict[str, object] = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    values[node.output[0]] = onnx.numpy_helper.to_array(attr.t)
    return values


def require_tensorrt() -> object:
    """Import ``tensorrt`` and check a CUDA GPU is visible; ModelError naming what is missing."""
    try:
        import tensorrt  # type: ignore[import-not-found]
    except ImportError:
        raise ModelError(
            "TensorRT not available: the `tensorrt` Python package is not installed; "
            "install tensorrt on a machine with an NVIDIA GPU (pip install tensorrt) and re-run with --tensorrt"
        ) from None
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    if not has_gpu:
        raise ModelError(
            "TensorRT not available: no NVIDIA GPU is visible (CUDA reports none); "
            "build the engine on the machine with the GPU that will run it"
        )
    return tensorrt


def build_engine(
    onnx_path: str | Path,
    engine_path: str | Path,
    *,
    precision: str = "fp16",
    max_batch: int = 16,
    opt_batch: int = 4,
    workspace_gib: float = 4.0,
) -> Path:
    """Build and serialise a TensorRT engine from an exported graph.

    Args:
        onnx_path: the float32 graph (fp32/fp16 engines) or the QDQ int8 graph (int8 engines).
        engine_path: where to write the serialised engine.
        precision: "fp32", "fp16" or "int8" (int8 also enables fp16 for unquantised layers).
        max_batch: largest batch of the optimisation profile (smallest is 1).
        opt_batch: batch the kernels are tuned for.
        workspace_gib: builder workspace memory limit.

    Returns:
        ``engine_path``.

    Raises:
        ModelError: TensorRT or a GPU is missing, the graph fails the pre-flight check,
            or the parser/builder fails (its messages are included).
    """
    if precision not in ("fp32", "fp16", "int8"):
        raise ModelError(f"TensorRT precision must be fp32, fp16 or int8; got {precision!r}")
    trt = require_tensorrt()
    model = onnx.load(str(onnx_path))
    check_tensorrt_compatible(model)
    trt_logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(trt_logger)
    network = builder.create_network(0)  # TensorRT 10: networks are always explicit-batch
    parser = trt.OnnxParser(network, trt_logger)
    if not parser.parse(model.SerializeToString()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        rest = tuple(tensor.shape)[1:]
        profile.set_shape(tensor.name, (1, *rest), (min(opt_batch, max_batch), *rest), (max_batch, *rest))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelError(f"TensorRT failed to build an engine from {onnx_path} (see the TensorRT log above)")
    engine_path = Path(engine_path)
    engine_path.write_bytes(bytes(serialized))
    logger.info("TensorRT %s engine written to %s", precision, engine_path)
    return engine_path
