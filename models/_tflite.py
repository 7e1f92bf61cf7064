"""ImageNet weights for timm's ``mobilenetv2_100`` from Google's quantised TFLite MobileNetV2.

Google's ``mobilenet_v2_1.0_224_quant.tflite`` (Apache-2.0) is uint8 with batch
norm folded into the convolutions and 1001 classes (0 = background). Reading it:

- every convolution weight and bias is dequantised, ``(q - zero_point) * scale``
  (per channel where the file gives one scale per channel);
- weights move from TFLite's layouts to PyTorch's: (O, kh, kw, I) -> (O, I, kh, kw)
  for convolutions, (1, kh, kw, C) -> (C, 1, kh, kw) for depthwise ones;
- each timm batch norm becomes the identity plus the folded bias
  (weight 1, bias b, running_mean 0, running_var 1 - eps, so that
  ``(x - 0) / sqrt(var + eps) * 1 + b = x + b``);
- the classifier drops TFLite's background class 0: 1001 -> timm's 1000 classes.

Input normalisation: the uint8 input has scale 1/128 and zero point 128, so the
network saw ``(q - 128) / 128``, i.e. ``(x / 255 - 0.5) / 0.5`` within 1/128: the
converted weights expect mean = std = (0.5, 0.5, 0.5) (``TFLITE_MEAN``/``TFLITE_STD``),
not timm's ``mobilenetv2_100`` pretrained_cfg (which lists the ImageNet mean/std of
timm's own weights). ``input_mean``/``input_std`` re-target the stem convolution to
another normalisation (exact except along the zero-padded border).

TensorFlow pads its stride-2 convolutions "SAME" (0 before, 1 after at even sizes);
PyTorch's default pads 1 on both sides, which shifts the sampling grid of the 5
stride-2 layers by one pixel. With ``timm.create_model("mobilenetv2_100",
pad_type="same")`` (the encoder backbone "mobilenetv2_100_tfsame") the converted
network agrees with TFLite on 9/9 test photos (top-1; logit r >= 0.995); with the
default padding on 3/9 (logit r 0.71 .. 0.89). See tests/models/test_tflite.py.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from aunce_rt.errors import ModelError
from aunce_rt.metadata import IMAGENET_MEAN, IMAGENET_STD

__all__ = [
    "TFLITE_ARCH",
    "TFLITE_MEAN",
    "TFLITE_STD",
    "convert_tflite_mobilenetv2",
    "read_tflite_mobilenetv2",
    "tflite_layer_map",
]

logger = logging.getLogger(__name__)

TFLITE_ARCH = "mobilenetv2_100"
TFLITE_MEAN: tuple[float, float, float] = (0.5, 0.5, 0.5)
TFLITE_STD: tuple[float, float, float] = (0.5, 0.5, 0.5)
_STAGE_DEPTHS = (1, 2, 3, 4, 3, 3, 1)  # timm's mobilenetv2_100 blocks per stage: 17 in all
_WEIGHT_SUFFIX = "/weights_quant/FakeQuantWithMinMaxVars"
_BIAS_SUFFIXES = ("/BatchNorm_Fold/bias", "/biases")
_CLASSIFIER = "classifier"
_INSTALL = "pip install ai-edge-litert (part of the aunce-rt[train] extra)"


def tflite_layer_map() -> list[tuple[str, str, str, bool]]:
    """The TFLite layers of MobileNetV2 and where each goes in timm's ``mobilenetv2_100``.

    Returns:
        In network order, ``(tflite layer, timm conv prefix, timm norm prefix, depthwise)``;
        the classifier has ``norm prefix == ""``.

    Example:
        >>> tflite_layer_map()[0]
        ('MobilenetV2/Conv', 'conv_stem', 'bn1', False)
    """
    rows = [("MobilenetV2/Conv", "conv_stem", "bn1", False)]
    k = 0
    for stage, depth in enumerate(_STAGE_DEPTHS):
        for i in range(depth):
            tf = f"MobilenetV2/expanded_conv{f'_{k}' if k else ''}"
            b = f"blocks.{stage}.{i}"
            if k == 0:  # expansion 1: timm's DepthwiseSeparableConv
                rows += [(f"{tf}/depthwise", f"{b}.conv_dw", f"{b}.bn1", True)]
                rows += [(f"{tf}/project", f"{b}.conv_pw", f"{b}.bn2", False)]
            else:  # InvertedResidual
                rows += [(f"{tf}/expand", f"{b}.conv_pw", f"{b}.bn1", False)]
                rows += [(f"{tf}/depthwise", f"{b}.conv_dw", f"{b}.bn2", True)]
                rows += [(f"{tf}/project", f"{b}.conv_pwl", f"{b}.bn3", False)]
            k += 1
    rows += [("MobilenetV2/Conv_1", "conv_head", "bn2", False)]
    rows += [("MobilenetV2/Logits/Conv2d_1c_1x1", _CLASSIFIER, "", False)]
    return rows


def _dequantize(raw: np.ndarray, quant: dict) -> np.ndarray:
    """``(q - zero_point) * scale`` per tensor or per channel; float tensors pass through."""
    scales = np.asarray(quant.get("scales", ()), dtype=np.float64)
    zeros = np.asarray(quant.get("zero_points", ()), dtype=np.float64)
    if scales.size == 0:
        return raw.astype(np.float32)
    if scales.size == 1:
        return ((raw.astype(np.float64) - zeros.reshape(())) * scales.reshape(())).astype(np.float32)
    shape = [1] * raw.ndim
    shape[int(quant.get("quantized_dimension", 0))] = -1
    return ((raw.astype(np.float64) - zeros.reshape(shape)) * scales.reshape(shape)).astype(np.float32)


def _layer_of(name: str, ndim: int) -> tuple[str, str] | None:
    """("weight" | "bias", tflite layer) of a constant tensor's name, or None for activations.

    TFLite joins the names of fused ops with ";": a weight's name holds
    ``<layer>/weights_quant/FakeQuantWithMinMaxVars``; a bias is 1-D and its last
    part is ``<layer>/BatchNorm_Fold/bias`` (or ``<layer>/biases`` for the logits).
    """
    parts = name.split(";")
    if ndim == 4:
        for part in parts:
            if part.endswith(_WEIGHT_SUFFIX):
                return "weight", part[: -len(_WEIGHT_SUFFIX)]
    if ndim == 1:
        for suffix in _BIAS_SUFFIXES:
            if parts[-1].endswith(suffix):
                return "bias", parts[-1][: -len(suffix)]
    return None


def _read_constants(path: Path) -> dict[tuple[str, str], np.ndarray]:
    """Dequantised weights and biases of a .tflite file, keyed by (kind, tflite layer)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise ModelError(f"reading {path} needs the LiteRT interpreter; {_INSTALL}") from exc
    if not path.is_file():
        raise ModelError(
            f"TFLite file {path} does not exist; give the path to mobilenet_v2_1.0_224_quant.tflite"
        )
    try:
        interpreter = Interpreter(model_path=str(path))
    except Exception as exc:
        raise ModelError(f"cannot read {path} as a TFLite model ({type(exc).__name__}: {exc})") from exc
    out: dict[tuple[str, str], np.ndarray] = {}
    for detail in interpreter.get_tensor_details():
        found = _layer_of(detail["name"], len(detail["shape"]))
        if found is None:
            continue
        if found in out:
            raise ModelError(
                f"{path} holds two {found[0]} tensors for layer {found[1]!r}; not a MobileNetV2 file"
            )
        raw = interpreter.get_tensor(detail["index"])
        out[found] = _dequantize(raw, detail["quantization_parameters"])
    return out


def _to_torch_conv(weight: np.ndarray, depthwise: bool) -> torch.Tensor:
    """TFLite (O, kh, kw, I) -> (O, I, kh, kw); depthwise (1, kh, kw, C) -> (C, 1, kh, kw)."""
    order = (3, 0, 1, 2) if depthwise else (0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(weight.transpose(order)))


def _identity_norm(prefix: str, bias: torch.Tensor, eps: float) -> dict[str, torch.Tensor]:
    """A batch norm that computes ``x + bias``: (x - 0) / sqrt((1 - eps) + eps) * 1 + bias."""
    return {
        f"{prefix}.weight": torch.ones_like(bias),
        f"{prefix}.bias": bias,
        f"{prefix}.running_mean": torch.zeros_like(bias),
        f"{prefix}.running_var": torch.full_like(bias, 1.0 - eps),
        f"{prefix}.num_batches_tracked": torch.tensor(0, dtype=torch.long),
    }


def _retarget_stem(
    weight: torch.Tensor, bias: torch.Tensor, mean: Sequence[float], std: Sequence[float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stem conv and bias for inputs normalised with ``mean``/``std`` instead of 0.5/0.5.

    TFLite saw ``t = (x - 0.5) / 0.5``; the caller feeds ``u = (x - mean) / std``, so
    ``t = a * u + c`` with ``a = std / 0.5`` and ``c = (mean - 0.5) / 0.5`` per input
    channel, and ``W * t = (W a) * u + sum(W c)`` (exact wherever no zero padding is read).
    """
    a = torch.tensor(std, dtype=torch.float32) / torch.tensor(TFLITE_STD)  # (3,)
    c = (torch.tensor(mean, dtype=torch.float32) - torch.tensor(TFLITE_MEAN)) / torch.tensor(TFLITE_STD)
    new_bias = bias + torch.einsum("oikl,i->o", weight, c)  # o out, i in channel, k l kernel
    return weight * a.view(1, 3, 1, 1), new_bias


def read_tflite_mobilenetv2(
    path: str | Path,
    *,
    eps: float = 1e-5,
    input_mean: Sequence[float] = TFLITE_MEAN,
    input_std: Sequence[float] = TFLITE_STD,
) -> dict[str, torch.Tensor]:
    """Read Google's quantised MobileNetV2 .tflite as a timm ``mobilenetv2_100`` state dict.

    The weights expect RGB inputs ``(x / 255 - 0.5) / 0.5`` (``TFLITE_MEAN``/``TFLITE_STD``)
    unless ``input_mean``/``input_std`` name another normalisation, into which the stem
    convolution is folded. Class ``i`` of the 1000-class classifier is TFLite's ``i + 1``.

    Args:
        path: ``mobilenet_v2_1.0_224_quant.tflite`` (or another MobileNetV2 1.0 .tflite
            with TF-slim layer names).
        eps: the epsilon of the timm batch norms the state dict is loaded into (timm: 1e-5).
        input_mean: per-channel mean of the normalisation the network will be fed.
        input_std: per-channel std of that normalisation.

    Returns:
        Every key of ``timm.create_model("mobilenetv2_100").state_dict()``, float32.

    Raises:
        ModelError: ai-edge-litert missing, file missing/unreadable, or not MobileNetV2 1.0.

    Example:
        >>> state = read_tflite_mobilenetv2("mobilenet_v2_1.0_224_quant.tflite")  # doctest: +SKIP
        >>> timm.create_model("mobilenetv2_100").load_state_dict(state)  # doctest: +SKIP
    """
    if len(input_mean) != 3 or len(input_std) != 3 or min(input_std) <= 0:
        raise ValueError(
            f"input_mean/input_std must be 3 values each, std > 0; got {tuple(input_mean)}, {tuple(input_std)}"
        )
    path = Path(path)
    consts = _read_constants(path)
    rows = tflite_layer_map()
    wanted = {(kind, layer) for layer, *_ in rows for kind in ("weight", "bias")}
    missing = sorted(f"{layer} {kind}" for kind, layer in wanted - set(consts))
    if missing:
        raise ModelError(
            f"{path} lacks {len(missing)} MobileNetV2 tensors, e.g. {', '.join(missing[:3])}; "
            "expected Google's mobilenet_v2_1.0_224(_quant).tflite with TF-slim layer names"
        )
    state: dict[str, torch.Tensor] = {}
    for layer, conv, norm, depthwise in rows:
        weight = _to_torch_conv(consts["weight", layer], depthwise)
        bias = torch.from_numpy(consts["bias", layer])
        if conv == _CLASSIFIER:  # (1001, 1280, 1, 1) -> (1000, 1280): drop background class 0
            if weight.shape[0] != 1001:
                raise ModelError(
                    f"{path}: classifier has {weight.shape[0]} classes; expected 1001 (background + 1000)"
                )
            state[f"{conv}.weight"] = weight[1:, :, 0, 0].contiguous()
            state[f"{conv}.bias"] = bias[1:].contiguous()
            continue
        if conv == "conv_stem":
            weight, bias = _retarget_stem(weight, bias, input_mean, input_std)
        state[f"{conv}.weight"] = weight
        state.update(_identity_norm(norm, bias, eps))
    logger.info("read %d MobileNetV2 layers from %s", len(rows), path)
    return state


def convert_tflite_mobilenetv2(
    src: str | Path,
    dst: str | Path,
    *,
    input_mean: Sequence[float] = IMAGENET_MEAN,
    input_std: Sequence[float] = IMAGENET_STD,
) -> Path:
    """Write the timm ``mobilenetv2_100`` state dict of a MobileNetV2 .tflite to .safetensors.

    Unlike :func:`read_tflite_mobilenetv2`, the defaults re-target the weights to the
    ImageNet mean/std that aunce-rt's training and runtime normalise with, so that a
    training config can point ``model.init_weights`` at the file (backbone
    "mobilenetv2_100_tfsame"; "mobilenetv2_100" agrees less with TensorFlow). Pass
    ``TFLITE_MEAN``/``TFLITE_STD`` for a plain timm model fed ``(x - 0.5) / 0.5``. The
    file's metadata records the architecture and the mean/std the weights expect.

    Args:
        src: the .tflite file.
        dst: the .safetensors file to write (parent folders are created).
        input_mean: the normalisation the weights will be fed (default ImageNet's).
        input_std: see ``input_mean``.

    Returns:
        ``dst`` as a Path.

    Example:
        >>> convert_tflite_mobilenetv2("mobilenet_v2_1.0_224_quant.tflite", "mnv2.safetensors")  # doctest: +SKIP
    """
    from safetensors.torch import save_file

    dst = Path(dst)
    if dst.suffix != ".safetensors":
        raise ValueError(f"dst must end in .safetensors; got {dst}")
    state = read_tflite_mobilenetv2(src, input_mean=input_mean, input_std=input_std)
    dst.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "architecture": TFLITE_ARCH,
        "source": Path(src).name,
        "mean": ",".join(f"{v:g}" for v in input_mean),
        "std": ",".join(f"{v:g}" for v in input_std),
        "classes": "1000 ImageNet classes (TFLite index - 1; background dropped)",
    }
    save_file(state, str(dst), metadata=meta)
    logger.info("wrote %s (%d tensors, expects mean %s std %s)", dst, len(state), meta["mean"], meta["std"])
    return dst
