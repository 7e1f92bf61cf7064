"""The per-AU probe and the AU model."""

from __future__ import annotations

import pytest
import torch

from aunce_rt.models import AUModel, AUProbe, create_encoder


def test_probe_is_one_linear_classifier_per_au():
    probe = AUProbe(4, 6)
    with torch.no_grad():
        probe.bias.copy_(torch.arange(4.0))
    z = torch.randn(3, 4, 6)
    expected = torch.stack(
        [torch.stack([z[b, i] @ probe.weight[i] + probe.bias[i] for i in range(4)]) for b in range(3)]
    )
    torch.testing.assert_close(probe(z), expected)
    assert sum(p.numel() for p in probe.parameters()) == 4 * 6 + 4


def test_probe_uses_only_its_own_au_feature():
    probe = AUProbe(3, 5)
    z = torch.randn(2, 3, 5)
    changed = z.clone()
    changed[:, 1] += 1.0
    diff = probe(changed) - probe(z)
    assert torch.equal(diff[:, [0, 2]], torch.zeros(2, 2))
    assert (diff[:, 1] != 0).all()


def test_au_model_forward_features_and_probabilities():
    torch.manual_seed(0)
    encoder = create_encoder("mobilenetv3_small_100", 3, top_k=2)
    model = AUModel(encoder, AUProbe(3, encoder.node_dim)).eval()
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        z = model.forward_features(x)
        logits = model(x)
        probs = model.predict_proba(x)
    assert z.shape == (2, 3, encoder.node_dim) and logits.shape == (2, 3)
    torch.testing.assert_close(logits, model.probe(z))
    torch.testing.assert_close(probs, torch.sigmoid(logits))
    assert ((probs > 0) & (probs < 1)).all()


def test_au_model_rejects_a_probe_of_another_size():
    encoder = create_encoder("mobilenetv3_small_100", 3)
    with pytest.raises(ValueError, match="AUProbe"):
        AUModel(encoder, AUProbe(4, encoder.node_dim))


def test_pooled_classifier_trains_the_backbone_only():
    from aunce_rt.models import PooledClassifier

    torch.manual_seed(0)
    clf = PooledClassifier(create_encoder("resnet10t", 4, node_dim=8))
    logits = clf(torch.randn(2, 3, 64, 64))
    assert logits.shape == (2, 4)
    logits.sum().backward()
    assert clf.fc.weight.grad is not None
    assert all(p.grad is not None for p in clf.encoder.backbone.parameters() if p.requires_grad)
    head = [*clf.encoder.class_linears.parameters(), *clf.encoder.gnn.parameters()]
    assert all(p.grad is None for p in head)  # the per-AU blocks are left to the pretraining stage
