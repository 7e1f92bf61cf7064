"""Reading local state dicts and fitting them to a backbone."""

from __future__ import annotations

import torch

from aunce_rt.models import AUModel, AUProbe, create_encoder, save_model
from aunce_rt.models._weights import read_state_dict, strip_prefixes


def test_strip_prefixes_removes_wrappers_repeatedly():
    state = {
        "module.backbone.conv1.weight": torch.zeros(1),
        "model.fc.bias": torch.ones(1),
        "bn1.bias": torch.ones(2),
    }
    assert list(strip_prefixes(state)) == ["conv1.weight", "fc.bias", "bn1.bias"]


def test_read_state_dict_unwraps_nesting_and_drops_non_tensors(tmp_path):
    path = tmp_path / "ckpt.pth"
    torch.save({"epoch": 2, "model": {"state_dict": {"a": torch.ones(2), "step": 3}}}, path)
    state = read_state_dict(path)
    assert list(state) == ["a"] and torch.equal(state["a"], torch.ones(2))


def test_backbone_of_an_aunce_checkpoint_initialises_a_new_encoder(tmp_path):
    torch.manual_seed(0)
    encoder = create_encoder("mobilenetv3_small_100", 3, node_dim=16)
    path = save_model(tmp_path / "m.pt", AUModel(encoder, AUProbe(3, 16)), au_codes=[1, 2, 4])
    other = create_encoder("mobilenetv3_small_100", 8, init_weights=path)  # other AUs, other head
    expected = encoder.backbone.state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in other.backbone.state_dict().items())
