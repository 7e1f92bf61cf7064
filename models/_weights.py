"""Loading local backbone weights (timm / torchvision state dicts) into a backbone.

Nothing is ever downloaded: the user points at a ``.pth``/``.pt`` file (read with
``torch.load(weights_only=True)``), a ``.safetensors`` file, or, for MobileNetV2
only, Google's ImageNet ``.tflite`` (converted by ``aunce_rt.models._tflite``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from aunce_rt.errors import ModelError
from aunce_rt.metadata import IMAGENET_MEAN, IMAGENET_STD
from aunce_rt.models._backbones import BackboneSpec, checkpoint_filter
from aunce_rt.models._tflite import TFLITE_ARCH, read_tflite_mobilenetv2

__all__ = ["STRIP_PREFIXES", "load_backbone_weights", "read_state_dict", "strip_prefixes"]

logger = logging.getLogger(__name__)

# Wrapper prefixes removed from the front of every key, repeatedly: DDP ("module."),
# ME-GraphAU / our encoder ("backbone.", "encoder."), Lightning-style ("model.").
STRIP_PREFIXES = ("module.", "encoder.", "backbone.", "model.")
# Keys under which training scripts nest the actual state dict.
_NESTED_KEYS = ("state_dict", "model", "model_state", "model_state_dict", "net")
_FIX = (
    "pass a state dict saved from the same timm/torchvision architecture "
    "(e.g. torch.save(timm.create_model(NAME).state_dict(), PATH))"
)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from a local file.

    Args:
        path: a ``.safetensors`` file, or a ``.pth``/``.pt``/``.bin`` torch file holding a
            state dict (possibly nested under "state_dict", "model", ...).

    Returns:
        Mapping from key to tensor.

    Raises:
        ModelError: the file is missing, unreadable or holds no tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"weights file {path} does not exist; give the path to a local .pth or .safetensors")
    if path.suffix.lower() == ".tflite":
        raise ModelError(
            f"{path} is a TFLite model, not a state dict; load it into a {TFLITE_ARCH} backbone with "
            "load_backbone_weights(backbone, spec, path) / create_encoder(..., init_weights=path), "
            "or convert it first with aunce_rt.models.convert_tflite_mobilenetv2"
        )
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: object = load_file(str(path), device="cpu")
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(
            f"cannot read weights file {path} ({type(exc).__name__}: {exc}); "
            "expected a torch.save'd state dict (loaded with weights_only=True) or a .safetensors file"
        ) from exc
    for _ in range(3):  # unwrap {"state_dict": {...}} style nesting
        if isinstance(obj, Mapping) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
            nested = next((obj[k] for k in _NESTED_KEYS if isinstance(obj.get(k), Mapping)), None)
            if nested is None:
                break
            obj = nested
    if not isinstance(obj, Mapping) or not any(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelError(f"weights file {path} holds no state dict of tensors; {_FIX}")
    return {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def strip_prefixes(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove the wrapper prefixes of ``STRIP_PREFIXES`` from the front of every key.

    Example:
        >>> list(strip_prefixes({"module.backbone.conv1.weight": torch.zeros(1)}))
        ['conv1.weight']
    """
    out = {}
    for key, value in state_dict.items():
        stripped = True
        while stripped:
            stripped = False
            for prefix in STRIP_PREFIXES:
                if key.startswith(prefix):
                    key, stripped = key[len(prefix) :], True
        out[key] = value
    return out


def _is_head_key(key: str, spec: BackboneSpec) -> bool:
    return any(key == h or key.startswith(h + ".") for h in spec.head_keys)


def _read_for_backbone(path: Path, spec: BackboneSpec) -> dict[str, torch.Tensor]:
    """A weights file as a state dict; a .tflite one only for MobileNetV2 (see ``_tflite``)."""
    if path.suffix.lower() != ".tflite":
        return read_state_dict(path)
    if spec.timm_name != TFLITE_ARCH:
        raise ModelError(
            f"{path} is a TFLite model; only a {TFLITE_ARCH} backbone can load TFLite weights "
            f"(Google's mobilenet_v2_1.0_224_quant.tflite), but this backbone is {spec.timm_name!r}; "
            f"use backbone 'mobilenetv2_100_tfsame' (or 'mobilenetv2_100'), or give a .pth/.safetensors "
            f"state dict for {spec.timm_name}"
        )
    if dict(spec.timm_kwargs).get("pad_type") != "same":
        logger.warning(
            "loading TensorFlow weights from %s into a backbone with PyTorch padding; its ImageNet "
            "predictions agree far less with TFLite's (3/9 vs 9/9 top-1 on our test photos): "
            "prefer backbone 'mobilenetv2_100_tfsame'",
            path,
        )
    # The encoder is fed ImageNet-normalised images: fold that into the stem convolution.
    return read_tflite_mobilenetv2(path, input_mean=IMAGENET_MEAN, input_std=IMAGENET_STD)


def load_backbone_weights(
    backbone: nn.Module,
    spec: BackboneSpec,
    state_dict: Mapping[str, torch.Tensor] | str | Path,
    source: str | None = None,
) -> None:
    """Copy a timm/torchvision state dict into a backbone, strictly.

    Prefixes are stripped, classifier keys ignored, timm's converter for the family
    applied (original Swin layout -> timm layout). Keys that belong to nothing in
    the backbone are logged and ignored.

    Args:
        backbone: the module from ``build_backbone``.
        spec: its spec.
        state_dict: key -> tensor, or the path of a weights file: ``.pth``/``.pt``/
            ``.safetensors``, or for ``mobilenetv2_100`` Google's ImageNet ``.tflite``
            (converted for inputs normalised with ``IMAGENET_MEAN``/``IMAGENET_STD``).
        source: where the weights come from, for messages (default: the path).

    Raises:
        ModelError: a backbone key is missing or has another shape, or a .tflite file
            is given for another backbone than ``mobilenetv2_100``.
    """
    if isinstance(state_dict, (str, Path)):
        source = source or str(state_dict)
        state_dict = _read_for_backbone(Path(state_dict), spec)
    source = source or "state dict"
    weights = strip_prefixes(state_dict)
    filter_fn = checkpoint_filter(backbone)
    if filter_fn is not None:
        weights = filter_fn(weights, backbone)
    expected = backbone.state_dict()
    weights = {k: v for k, v in weights.items() if not _is_head_key(k, spec)}
    missing = [k for k in expected if k not in weights]
    mismatched = [
        f"{k}: file {tuple(weights[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in weights and weights[k].shape != expected[k].shape
    ]
    if missing or mismatched:
        details = "; ".join(
            ([f"{len(missing)} missing, e.g. {', '.join(missing[:4])}"] if missing else [])
            + (
                [f"{len(mismatched)} with other shapes, e.g. {', '.join(mismatched[:3])}"]
                if mismatched
                else []
            )
        )
        raise ModelError(
            f"weights from {source} do not fit backbone {spec.timm_name!r} ({details}); "
            f"check that the file is for {spec.timm_name}, and {_FIX}"
        )
    unexpected = [k for k in weights if k not in expected]
    if unexpected:
        logger.warning(
            "ignored %d keys of %s that are not in backbone %s, e.g. %s",
            len(unexpected),
            source,
            spec.timm_name,
            ", ".join(unexpected[:4]),
        )
    backbone.load_state_dict({k: weights[k] for k in expected}, strict=True)
    logger.info("loaded %d backbone tensors from %s", len(expected), source)
