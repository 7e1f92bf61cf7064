"""The backbone registry: names, token layouts, widths."""

from __future__ import annotations

import pytest
import timm
import torch

from aunce_rt.models._backbones import BACKBONES, build_backbone, list_backbones, to_tokens

REQUIRED = [
    "swin_base_patch4_window7_224",
    "swin_tiny_patch4_window7_224",
    "resnet50",
    "resnet101",
    "mobilenetv3_large_100",
    "efficientnet_b0",
]


def test_required_backbones_are_registered():
    assert set(REQUIRED) <= set(list_backbones())


@pytest.mark.parametrize("name", list(BACKBONES))
def test_registry_width_and_layout_match_timm(name):
    with torch.device("meta"):
        model, spec = build_backbone(name)
        out = model.forward_features(torch.empty(1, 3, spec.input_size, spec.input_size))
    assert int(model.num_features) == spec.width
    tokens = to_tokens(out, spec.layout)
    assert tokens.shape[0] == 1 and tokens.shape[2] == spec.width
    assert tokens.shape[1] == 49  # 7x7 final stage at 224 px for every registered family


def test_unused_head_modules_are_dropped():
    with torch.device("meta"):
        model, spec = build_backbone("mobilenetv3_large_100")
        full = timm.create_model("mobilenetv3_large_100", pretrained=False, num_classes=0)
    assert isinstance(model.conv_head, torch.nn.Identity)
    dropped = sum(p.numel() for p in full.parameters()) - sum(p.numel() for p in model.parameters())
    assert dropped == 960 * 1280 + 1280  # conv_head weight + bias
    assert "conv_head" in spec.head_keys


def test_unknown_backbone_lists_known_names():
    with pytest.raises(ValueError, match="resnet50") as info:
        build_backbone("resnet5")
    assert "timm:" in str(info.value)
    with pytest.raises(ValueError, match="unknown backbone"):
        build_backbone("timm:no_such_model_xyz")


def test_any_timm_model_via_prefix():
    with torch.device("meta"):
        model, spec = build_backbone("timm:resnet10t")
    assert spec.layout == "NCHW" and spec.width == model.num_features == 512
    assert "fc" in spec.head_keys


def test_token_layouts_give_the_same_tokens():
    fmap = torch.randn(2, 5, 3, 4)  # (B, D, H, W)
    nchw = to_tokens(fmap, "NCHW")
    assert nchw.shape == (2, 12, 5)
    torch.testing.assert_close(nchw, to_tokens(fmap.permute(0, 2, 3, 1), "NHWC"))
    torch.testing.assert_close(nchw[:, 1 * 4 + 2], fmap[:, :, 1, 2])  # row-major positions
    tokens = torch.randn(2, 7, 5)
    assert to_tokens(tokens, "NCHW") is tokens
    with pytest.raises(ValueError, match="layout"):
        to_tokens(fmap, "CHWN")
