"""Linear evaluation: a frozen encoder, cached features, validation-based epoch selection."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aunce_rt.errors import InputError
from aunce_rt.models import AUModel, create_encoder
from aunce_rt.training.features import FeatureSet, extract_features
from aunce_rt.training.linear_eval import linear_eval, select_epoch, split_by_subject

NUM_AUS = 3
SIDE = 72
INPUT = 64


class _Faces(torch.utils.data.Dataset):
    def __init__(self, n: int = 12, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.images = [rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8) for _ in range(n)]
        self.labels = rng.integers(0, 2, (n, NUM_AUS)).astype(np.int64)
        self.subjects = [f"s{i % 4}" for i in range(n)]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.images[i], self.labels[i]


def _features(n: int, seed: int, noise: float) -> FeatureSet:
    """Per-AU features whose first coordinate carries the label, plus noise."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n, NUM_AUS), generator=g)
    feats = noise * torch.randn(n, NUM_AUS, 8, generator=g)
    feats[..., 0] += 2.0 * labels - 1.0
    return FeatureSet(torch.nn.functional.normalize(feats, dim=-1), labels)


@pytest.fixture(scope="module")
def encoder8() -> torch.nn.Module:
    """An encoder whose features match ``_features`` (C = 8); FeatureSets skip its forward."""
    torch.manual_seed(0)
    return create_encoder("mobilenetv3_small_100", NUM_AUS, node_dim=8)


def test_linear_eval_freezes_the_encoder_and_its_batchnorm_statistics():
    torch.manual_seed(0)
    enc = create_encoder("mobilenetv3_small_100", NUM_AUS, node_dim=16)
    enc.train()  # linear_eval must switch it to eval itself
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    assert any("running_mean" in k for k in before)
    res = linear_eval(
        enc,
        _Faces(seed=0),
        _Faces(seed=1),
        _Faces(seed=2),
        epochs=3,
        batch_size=8,
        image_size=INPUT,
    )
    after = enc.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights, running stats, counters
    assert all(p.grad is None for p in enc.parameters())
    assert not enc.training
    assert isinstance(res.model, AUModel) and res.model.encoder is enc
    probs = res.model.predict_proba(torch.zeros(2, 3, INPUT, INPUT))
    assert probs.shape == (2, NUM_AUS)


def test_extract_features_is_deterministic_eval_mode_without_grad():
    torch.manual_seed(0)
    enc = create_encoder("mobilenetv3_small_100", NUM_AUS, node_dim=16)
    a = extract_features(enc, _Faces(n=5), image_size=INPUT, batch_size=2)
    b = extract_features(enc, _Faces(n=5), image_size=INPUT, batch_size=5)
    assert a.features.shape == (5, NUM_AUS, 16) and not a.features.requires_grad
    assert torch.allclose(a.features, b.features, atol=1e-5)  # eval mode: batch-independent
    assert torch.equal(a.labels, torch.as_tensor(_Faces(n=5).labels))


def test_selected_epoch_is_the_validation_argmax_and_test_metrics_are_from_it(encoder8):
    res = linear_eval(
        encoder8,
        _features(200, 0, 0.8),
        _features(100, 1, 0.8),
        _features(100, 2, 0.8),
        epochs=15,
        lr=3e-2,
        batch_size=32,
    )
    assert len(res.val_f1) == len(res.test_f1) == len(res.train_loss) == 15
    assert res.selected_epoch == int(np.argmax(res.val_f1)) + 1
    assert res.val_metrics.f1_macro == pytest.approx(res.val_f1[res.selected_epoch - 1], abs=1e-9)
    assert res.test_metrics.f1_macro == pytest.approx(res.test_f1[res.selected_epoch - 1], abs=1e-9)
    assert res.oracle_test_epoch == int(np.argmax(res.test_f1)) + 1
    assert res.oracle_test_f1 == max(res.test_f1)
    assert res.test_metrics.f1_macro > 0.7  # the label is linearly readable
    assert res.summary()["selection"] == "validation F1-macro"


def test_linear_eval_is_reproducible_with_a_seed(encoder8):
    kw = {"epochs": 4, "lr": 1e-2, "batch_size": 16}
    sets = (_features(64, 0, 1.0), _features(32, 1, 1.0), _features(32, 2, 1.0))
    a = linear_eval(encoder8, *sets, seed=5, **kw)
    b = linear_eval(encoder8, *sets, seed=5, **kw)
    c = linear_eval(encoder8, *sets, seed=6, **kw)
    assert a.train_loss == b.train_loss and a.val_f1 == b.val_f1
    assert torch.equal(a.probe.weight, b.probe.weight)
    assert a.train_loss != c.train_loss


def test_select_epoch_takes_the_first_maximum_and_ignores_nan():
    assert select_epoch([0.2, 0.5, 0.5, 0.1]) == 2
    assert select_epoch([float("nan"), 0.1, 0.3]) == 3
    with pytest.raises(InputError):
        select_epoch([])


def test_split_by_subject_is_subject_exclusive():
    ds = _Faces(n=20)
    train, val = split_by_subject(ds, val_fraction=0.25, seed=1)
    tr = {ds.subjects[i] for i in train.indices}
    va = {ds.subjects[i] for i in val.indices}
    assert tr and va and not tr & va
    assert sorted(train.indices + val.indices) == list(range(20))
    with pytest.raises(InputError, match="subjects"):
        split_by_subject(torch.utils.data.TensorDataset(torch.zeros(3)))


def test_linear_eval_without_val_holds_out_training_subjects():
    torch.manual_seed(0)
    enc = create_encoder("mobilenetv3_small_100", NUM_AUS, node_dim=16)
    res = linear_eval(enc, _Faces(n=16), None, _Faces(n=4, seed=3), epochs=1, image_size=INPUT)
    assert res.selected_epoch == 1
    with pytest.raises(InputError, match="val"):
        linear_eval(enc, _features(8, 0, 1.0), None, _features(8, 1, 1.0), epochs=1)


def test_linear_eval_reads_its_schedule_and_betas(encoder8):
    kw = {"epochs": 3, "lr": 1e-2, "batch_size": 16, "seed": 5}
    sets = (_features(64, 0, 1.0), _features(32, 1, 1.0), _features(32, 2, 1.0))
    base = linear_eval(encoder8, *sets, **kw)
    cosine = linear_eval(encoder8, *sets, schedule="cosine", **kw)
    betas = linear_eval(encoder8, *sets, betas=(0.5, 0.9), **kw)
    assert base.train_loss[0] != cosine.train_loss[0]  # the first steps ramp up from a lower rate
    assert not torch.equal(base.probe.weight, betas.probe.weight)
    with pytest.raises(InputError, match="schedule"):
        linear_eval(encoder8, *sets, schedule="step", **kw)
