"""Loading ME-GraphAU stage-1 weights, checked against a re-implementation of the reference."""

from __future__ import annotations

import re

import pytest
import timm
import torch

from aunce_rt.errors import ModelError
from aunce_rt.models.convert import MEGRAPH_PROBABILITY_THRESHOLD, from_megraph_state_dict
from tests.models.megraph_reference import RefMEFARG, randomize_batchnorm

NUM_AUS = 5


@pytest.fixture(scope="module")
def reference() -> RefMEFARG:
    torch.manual_seed(0)
    ref = RefMEFARG("resnet18", NUM_AUS, neighbor_num=3)
    randomize_batchnorm(ref, torch.Generator().manual_seed(1))
    return ref.eval()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randn(3, 3, 112, 112, generator=torch.Generator().manual_seed(2))


def _ddp(state: dict) -> dict:
    return {f"module.{k}": v for k, v in state.items()}


def test_converted_logits_equal_megraph_cosines(reference, images):
    model = from_megraph_state_dict(_ddp(reference.state_dict()), "resnet18", NUM_AUS, top_k=3)
    assert model.encoder.node_dim == 512 // 4 and not model.training
    with torch.no_grad():
        expected = reference(images)  # (B, N) cosine similarities in [-1, 1]
        logits = model(images)
        probs = model.predict_proba(images)
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-4)
    assert torch.equal(probs >= MEGRAPH_PROBABILITY_THRESHOLD, expected >= 0.5)  # ME-GraphAU's decision
    torch.testing.assert_close(model.probe.bias, torch.zeros(NUM_AUS))
    torch.testing.assert_close(model.probe.weight.norm(dim=-1), torch.ones(NUM_AUS))


def test_converted_model_matches_in_training_mode(reference, images):
    model = from_megraph_state_dict(reference.state_dict(), "resnet18", NUM_AUS, top_k=3).train()
    reference.train()
    try:
        with torch.no_grad():
            torch.testing.assert_close(model(images), reference(images), atol=1e-5, rtol=1e-4)
    finally:
        reference.eval()


def test_wrong_au_count_names_the_right_one(reference):
    with pytest.raises(ModelError, match=f"num_aus={NUM_AUS}"):
        from_megraph_state_dict(reference.state_dict(), "resnet18", NUM_AUS + 1)
    with pytest.raises(ModelError, match=f"num_aus={NUM_AUS}"):
        from_megraph_state_dict(reference.state_dict(), "resnet18", NUM_AUS - 1)


def test_missing_prototypes_and_stage_two_are_refused(reference):
    state = {k: v for k, v in reference.state_dict().items() if k != "head.sc"}
    with pytest.raises(ModelError, match="head.sc"):
        from_megraph_state_dict(state, "resnet18", NUM_AUS)
    stage2 = {**reference.state_dict(), "head.edge_extractor.0.weight": torch.zeros(1)}
    with pytest.raises(ModelError, match="stage-2"):
        from_megraph_state_dict(stage2, "resnet18", NUM_AUS)


def test_wrong_backbone_is_refused(reference):
    with pytest.raises(ModelError, match="resnet50"):
        from_megraph_state_dict(reference.state_dict(), "resnet50", NUM_AUS)


def _to_microsoft_swin_layout(state: dict) -> dict:
    """timm 1.x Swin keys -> the original layout ME-GraphAU's Swin uses (downsample at stage end)."""
    out = {}
    for k, v in state.items():
        out[re.sub(r"layers\.(\d+)\.downsample", lambda m: f"layers.{int(m.group(1)) - 1}.downsample", k)] = v
    out["layers.0.blocks.0.attn.relative_position_index"] = torch.zeros(49, 49, dtype=torch.long)
    return out


def _fake_swin_megraph_state() -> tuple[dict, dict]:
    """A stage-1 state dict with an original-layout swin_tiny backbone, 3 AUs of width 64.

    Returns:
        The ME-GraphAU-named state dict and the timm-layout backbone state it holds.
    """
    backbone = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, num_classes=0)
    original = _to_microsoft_swin_layout(backbone.state_dict())
    assert "layers.0.downsample.reduction.weight" in original
    state = {f"backbone.{k}": v for k, v in original.items()}
    c, d = 64, 768
    state.update({"global_linear.fc.weight": torch.randn(c, d), "global_linear.fc.bias": torch.randn(c)})
    for prefix in ["global_linear.bn"] + [f"head.class_linears.{i}.bn" for i in range(3)]:
        state.update(
            {f"{prefix}.{n}": torch.rand(c) for n in ("weight", "bias", "running_mean", "running_var")}
        )
    for i in range(3):
        state[f"head.class_linears.{i}.fc.weight"] = torch.randn(c, c)
        state[f"head.class_linears.{i}.fc.bias"] = torch.randn(c)
    for lin in ("U", "V"):
        state[f"head.gnn.{lin}.weight"], state[f"head.gnn.{lin}.bias"] = torch.randn(c, c), torch.randn(c)
    state.update(
        {f"head.gnn.bnv.{n}": torch.rand(3) for n in ("weight", "bias", "running_mean", "running_var")}
    )
    state["head.sc"] = torch.randn(3, c)
    return state, backbone.state_dict()


def test_original_swin_layout_backbone_and_head_are_mapped():
    torch.manual_seed(0)
    state, backbone_state = _fake_swin_megraph_state()
    model = from_megraph_state_dict(state, "swin_transformer_tiny", 3)
    assert model.encoder.backbone_name == "swin_tiny_patch4_window7_224" and model.encoder.node_dim == 64
    got = model.encoder.backbone.state_dict()
    assert all(torch.equal(got[k], v) for k, v in backbone_state.items())
    blocks = model.encoder.class_linears
    assert torch.equal(blocks.weight[2], state["head.class_linears.2.fc.weight"])
    assert torch.equal(blocks.bn.running_var[64:128], state["head.class_linears.1.bn.running_var"])
    assert torch.equal(model.encoder.gnn.bnv.weight, state["head.gnn.bnv.weight"])
    sc = state["head.sc"].clamp(min=0)
    torch.testing.assert_close(model.probe.weight, sc / sc.norm(dim=-1, keepdim=True))
