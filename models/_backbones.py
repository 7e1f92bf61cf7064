"""The registry of timm backbones an AU encoder can sit on, as data.

Each entry says how the backbone's ``forward_features`` output becomes tokens
(B, T, D), how wide the tokens are, which modules the encoder never uses (dropped
so that they neither count as parameters nor receive gradients) and which state
dict keys belong to the classifier (ignored when loading weights).

Any other timm model can be tried with the name ``"timm:<model name>"``: its
token layout is read from the model (``output_fmt``, or a 3-D output taken as
(B, T, D) already) and its width from ``num_features``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["BACKBONES", "TIMM_PREFIX", "BackboneSpec", "build_backbone", "list_backbones", "to_tokens"]

TIMM_PREFIX = "timm:"


@dataclass(frozen=True)
class BackboneSpec:
    """How one timm backbone yields tokens.

    Attributes:
        timm_name: the name given to ``timm.create_model``.
        layout: layout of ``forward_features``' output: "NCHW" (CNN feature map),
            "NHWC" (timm 1.x Swin) or "NLC" (already tokens).
        width: D, the token width.
        input_size: the input side the backbone expects (Swin needs exactly this).
        unused_modules: top-level modules after ``forward_features`` that the encoder
            never calls; they are replaced by ``nn.Identity``.
        head_keys: state dict key prefixes of the classifier / unused modules,
            ignored when loading weights.
        timm_kwargs: extra ``timm.create_model`` keyword arguments, as (name, value) pairs
            (e.g. ``(("pad_type", "same"),)`` for TensorFlow's "SAME" padding).
    """

    timm_name: str
    layout: str
    width: int
    input_size: int = 224
    unused_modules: tuple[str, ...] = ()
    head_keys: tuple[str, ...] = ()
    timm_kwargs: tuple[tuple[str, object], ...] = ()


def _cnn(name: str, width: int, classifier: str = "fc", unused: tuple[str, ...] = ()) -> BackboneSpec:
    return BackboneSpec(name, "NCHW", width, 224, unused, (classifier, *unused))


def _swin(name: str, width: int) -> BackboneSpec:
    return BackboneSpec(name, "NHWC", width, 224, (), ("head",))


BACKBONES: dict[str, BackboneSpec] = {
    # Swin: the paper's backbone (base) and smaller ones; final stage tokens, 7x7 at 224 px.
    "swin_base_patch4_window7_224": _swin("swin_base_patch4_window7_224", 1024),
    "swin_small_patch4_window7_224": _swin("swin_small_patch4_window7_224", 768),
    "swin_tiny_patch4_window7_224": _swin("swin_tiny_patch4_window7_224", 768),
    # ResNets (ME-GraphAU's other family): final feature map positions as tokens.
    "resnet18": _cnn("resnet18", 512),
    "resnet50": _cnn("resnet50", 2048),
    "resnet101": _cnn("resnet101", 2048),
    # Light backbones for real-time CPU use. MobileNetV3's 1x1 conv_head acts after
    # global pooling in timm, so the encoder drops it and uses the 960/576-channel map.
    "mobilenetv3_large_100": _cnn("mobilenetv3_large_100", 960, "classifier", ("conv_head",)),
    "mobilenetv3_small_100": _cnn("mobilenetv3_small_100", 576, "classifier", ("conv_head",)),
    "efficientnet_b0": _cnn("efficientnet_b0", 1280, "classifier"),
    # ResNet-10-T (timm's tiered-stem ResNet-10): the fastest CNN here to train from
    # random init on a CPU; the bundled default model's backbone.
    "resnet10t": _cnn("resnet10t", 512),
    # MobileNetV2: ImageNet weights come from Google's TFLite model (models/_tflite.py,
    # init_weights=<.tflite>). TensorFlow pads stride-2 convolutions "SAME" (0 before,
    # 1 after); the "_tfsame" entry builds timm's pad_type="same" so that those weights
    # see the pixels they were trained on (9/9 top-1 agreement with TFLite on our test
    # photos against 3/9 with PyTorch's symmetric padding; tests/models/test_tflite.py).
    "mobilenetv2_100": _cnn("mobilenetv2_100", 1280, "classifier"),
    "mobilenetv2_100_tfsame": BackboneSpec(
        "mobilenetv2_100", "NCHW", 1280, 224, (), ("classifier",), (("pad_type", "same"),)
    ),
}


def list_backbones() -> list[str]:
    """Names of the registered backbones.

    Example:
        >>> "resnet50" in list_backbones()
        True
    """
    return list(BACKBONES)


def _unknown(name: str) -> ValueError:
    return ValueError(
        f"unknown backbone {name!r}; expected one of {', '.join(BACKBONES)}, "
        f"or '{TIMM_PREFIX}<timm model name>' to try any timm model whose forward_features yields "
        "a feature map or tokens."
    )


def _generic_spec(model: nn.Module, timm_name: str) -> BackboneSpec:
    """Spec of an unregistered timm model, read from the model itself."""
    layout = str(getattr(model, "output_fmt", "NCHW"))
    cfg = getattr(model, "pretrained_cfg", None) or {}
    classifier = cfg.get("classifier", "head")
    heads = classifier if isinstance(classifier, (tuple, list)) else (classifier,)
    size = int(cfg.get("input_size", (3, 224, 224))[-1])
    return BackboneSpec(timm_name, layout, int(model.num_features), size, (), tuple(heads))


def build_backbone(name: str) -> tuple[nn.Module, BackboneSpec]:
    """Create a randomly initialised timm backbone without its classifier.

    Never downloads anything (``pretrained=False``); load local weights with
    ``aunce_rt.models._weights.load_backbone_weights``.

    Args:
        name: a registered name (``list_backbones()``) or ``"timm:<model name>"``.

    Returns:
        The backbone module and its spec.

    Raises:
        ValueError: the name is neither registered nor a known timm model.
    """
    import timm

    if name.startswith(TIMM_PREFIX):
        timm_name = name[len(TIMM_PREFIX) :]
        if not timm.is_model(timm_name):
            raise _unknown(name)
        model = timm.create_model(timm_name, pretrained=False, num_classes=0)
        return model, _generic_spec(model, timm_name)
    if name not in BACKBONES:
        raise _unknown(name)
    spec = BACKBONES[name]
    model = timm.create_model(spec.timm_name, pretrained=False, num_classes=0, **dict(spec.timm_kwargs))
    for module in spec.unused_modules:
        setattr(model, module, nn.Identity())
    return model, spec


def to_tokens(features: torch.Tensor, layout: str) -> torch.Tensor:
    """Turn a backbone's ``forward_features`` output into tokens.

    Args:
        features: (B, D, H, W) for "NCHW", (B, H, W, D) for "NHWC", (B, T, D) for "NLC"
            (any 3-D output is taken as tokens).
        layout: the spec's layout.

    Returns:
        (B, T, D) tokens, T = H*W for feature maps.
    """
    if features.dim() == 3:
        return features
    if layout == "NCHW":
        return features.flatten(2).transpose(1, 2)  # (B, D, H*W) -> (B, H*W, D)
    if layout == "NHWC":
        return features.flatten(1, 2)  # (B, H*W, D)
    raise ValueError(f"cannot turn a {tuple(features.shape)} output with layout {layout!r} into tokens")


def checkpoint_filter(model: nn.Module) -> Callable[[dict, nn.Module], dict] | None:
    """timm's converter of original-format checkpoints for this model's family, if any.

    For Swin it renames the Microsoft (and ME-GraphAU) layout, where each stage
    ends with its downsample, to timm's, where it starts with it, and drops
    non-persistent buffers (``relative_position_index``, ``attn_mask``).
    """
    module = sys.modules.get(type(model).__module__)
    return getattr(module, "checkpoint_filter_fn", None)
