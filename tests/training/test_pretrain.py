"""The training step and pretraining loop: every loss learns, runs are seeded and resumable."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from aunce_rt.errors import InputError
from aunce_rt.models import AUModel, create_encoder
from aunce_rt.training.pretrain import (
    TrainState,
    compute_loss,
    label_statistics,
    make_train_state,
    pretrain,
    scheduled_lr,
    train_step,
)

NUM_AUS = 4
SIDE = 72  # stored crop side; the network sees a random 64 crop
INPUT = 64


class _Faces(torch.utils.data.Dataset):
    """Random BGR crops with imbalanced labels, like the list-format dataset yields."""

    def __init__(self, n: int = 8, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.images = [rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8) for _ in range(n)]
        self.labels = (rng.random((n, NUM_AUS)) < [0.5, 0.3, 0.5, 0.4]).astype(np.int64)
        self.labels[0, 3] = -1  # one unlabelled entry
        self.subjects = [f"s{i % 4}" for i in range(n)]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.images[i], self.labels[i]


def _encoder(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return create_encoder("mobilenetv3_small_100", NUM_AUS, node_dim=16)


def _params(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("loss", ["aunce", "wce", "wfl"])
def test_train_step_overfits_a_fixed_batch(loss):
    torch.manual_seed(0)
    labels = torch.tensor([[1, 0, 1, 0], [0, 1, 1, 0], [1, 0, 0, 1], [0, 0, 1, 1]] * 2)  # (8, 4)
    x1 = torch.randn(8, 3, INPUT, INPUT)
    x2 = x1 + 0.1 * torch.randn_like(x1)
    batch = (x1, x2, labels) if loss == "aunce" else (x1, labels)
    rates, weights = label_statistics(labels)
    state = make_train_state(_encoder(), loss=loss, occurrence=rates, au_weights=weights, lr=1e-3, seed=0)
    assert isinstance(state.model, AUModel) == (loss != "aunce")

    def measure() -> float:
        state.loss_generator.manual_seed(123)  # the same positive draws both times
        with torch.no_grad():
            return float(compute_loss(state, batch, torch.device("cpu")))

    before = measure()
    losses = [train_step(state, batch, torch.device("cpu")) for _ in range(12)]
    after = measure()
    assert all(np.isfinite(losses))
    assert state.step == 12
    assert after < 0.8 * before, (before, after, losses)


def test_half_precision_autocast_steps_follow_the_float32_steps():
    # Autocast is entered per step: a context around the whole loop would keep the
    # first step's bf16 weight casts and the bf16 run would stall while fp32 learns.
    torch.manual_seed(0)
    labels = torch.tensor([[1, 0, 1, 0], [0, 1, 1, 0], [1, 0, 0, 1], [0, 0, 1, 1]] * 2)  # (8, 4)
    batch = (torch.randn(8, 3, INPUT, INPUT), labels)
    rates, weights = label_statistics(labels)
    runs = {}
    for amp in (None, torch.bfloat16, torch.float16):
        state = make_train_state(
            _encoder(), loss="wce", occurrence=rates, au_weights=weights, lr=1e-3, seed=0
        )
        state.amp = amp
        runs[amp] = [train_step(state, batch, torch.device("cpu")) for _ in range(12)]
    fp32 = np.array(runs[None])
    assert fp32[-1] < 0.8 * fp32[0]  # float32 learns the batch
    for amp in (torch.bfloat16, torch.float16):  # and both half precisions follow it step by step
        assert np.abs(np.array(runs[amp]) - fp32).max() < 0.05, (amp, fp32, runs[amp])


def test_pretrain_refuses_an_enclosing_autocast():
    with torch.autocast("cpu", dtype=torch.bfloat16), pytest.raises(InputError, match="amp=torch.bfloat16"):
        pretrain(_encoder(), _Faces(), loss="wce", epochs=1, batch_size=4, image_size=INPUT)


def test_compute_loss_gathers_views_and_labels_for_multi_process_training():
    calls: list[tuple[int, ...]] = []

    def gather(t: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(t.shape))
        return torch.cat([t, t])  # as if a second process held the same batch

    labels = torch.tensor([[1, 0, 1, 0], [0, 1, 0, 1]])
    rates, weights = label_statistics(labels)
    state = make_train_state(_encoder(), loss="aunce", occurrence=rates, au_weights=weights)
    state.gather = gather
    x = torch.randn(2, 3, INPUT, INPUT)
    loss = compute_loss(state, (x, x, labels), torch.device("cpu"))
    assert torch.isfinite(loss)
    assert calls == [(2, NUM_AUS, 16), (2, NUM_AUS, 16), (2, NUM_AUS)]


@pytest.mark.parametrize("loss", ["aunce", "wce"])
def test_pretrain_runs_epochs_and_returns_the_trained_encoder(loss):
    enc = _encoder()
    before = _params(enc)
    res = pretrain(enc, _Faces(), loss=loss, epochs=2, lr=1e-3, batch_size=4, image_size=INPUT)
    assert len(res.history) == 2 and all(np.isfinite(res.history))
    assert res.state.epoch == 2 and res.state.step == 4  # 8 images / batch 4, 2 epochs
    assert res.encoder is enc and not enc.training
    assert (res.model is None) == (loss == "aunce")
    after = _params(enc)
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_pretrain_is_reproducible_with_a_seed():
    kw = {"loss": "aunce", "epochs": 1, "lr": 1e-3, "batch_size": 4, "image_size": INPUT}
    a = pretrain(_encoder(), _Faces(), seed=7, **kw)
    b = pretrain(_encoder(), _Faces(), seed=7, **kw)
    c = pretrain(_encoder(), _Faces(), seed=8, **kw)
    assert a.history == b.history
    pa, pb = _params(a.encoder), _params(b.encoder)
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert a.history != c.history


def test_resume_from_a_state_dict_continues_the_same_run():
    kw = {"loss": "wce", "lr": 1e-3, "batch_size": 4, "image_size": INPUT, "seed": 3}
    straight = pretrain(_encoder(), _Faces(), epochs=2, **kw)

    saved: list[bytes] = []

    def keep(state: TrainState) -> None:
        buf = io.BytesIO()
        torch.save(state.state_dict(), buf)
        saved.append(buf.getvalue())

    pretrain(_encoder(), _Faces(), epochs=1, on_epoch_end=keep, **kw)
    ckpt = torch.load(io.BytesIO(saved[-1]), weights_only=True)  # tensors and primitives only
    resumed = pretrain(_encoder(seed=99), _Faces(), epochs=2, resume=ckpt, **kw)
    assert resumed.history == pytest.approx(straight.history, rel=1e-6)
    ps, pr = _params(straight.model), _params(resumed.model)
    assert all(torch.allclose(ps[k].float(), pr[k].float(), atol=1e-6) for k in ps)


def test_float16_resume_keeps_the_loss_scale():
    kw = {"loss": "wce", "lr": 1e-3, "batch_size": 4, "image_size": INPUT, "seed": 3}
    saved: list[bytes] = []

    def keep(state: TrainState) -> None:
        buf = io.BytesIO()
        torch.save(state.state_dict(), buf)
        saved.append(buf.getvalue())

    first = pretrain(_encoder(), _Faces(), epochs=1, amp=torch.float16, on_epoch_end=keep, **kw)
    ckpt = torch.load(io.BytesIO(saved[-1]), weights_only=True)
    assert ckpt["scaler"]["scale"] == first.state.scaler.get_scale()
    ckpt["scaler"]["scale"] = 1024.0  # as if the run had backed off after overflows
    resumed = pretrain(_encoder(seed=99), _Faces(), epochs=2, amp=torch.float16, resume=ckpt, **kw)
    assert resumed.state.epoch == 2
    assert resumed.state.scaler.get_scale() == 1024.0  # not a fresh 65536 (grows only every 2000 steps)


def test_resume_refuses_a_different_loss():
    kw = {"lr": 1e-3, "batch_size": 4, "image_size": INPUT}
    res = pretrain(_encoder(), _Faces(), loss="wce", epochs=1, **kw)
    with pytest.raises(InputError, match="resume"):
        pretrain(_encoder(), _Faces(), loss="wfl", epochs=2, resume=res.state.state_dict(), **kw)


def test_pretrain_rejects_bad_arguments():
    with pytest.raises(InputError, match="unknown pretraining loss"):
        pretrain(_encoder(), _Faces(), loss="nce", epochs=1)
    with pytest.raises(InputError, match="labels"):
        pretrain(_encoder(), [(np.zeros((SIDE, SIDE, 3), np.uint8), np.zeros(NUM_AUS))], epochs=1)


def test_cosine_schedule_ramps_up_then_decays_to_zero():
    total = 200
    lrs = [scheduled_lr(1e-3, s, total, "cosine") for s in range(total)]
    warm = 10  # 5% of the steps
    assert lrs[0] == pytest.approx(1e-4) and lrs[warm - 1] == pytest.approx(1e-3)
    assert all(a < b for a, b in zip(lrs[: warm - 1], lrs[1:warm], strict=True))  # linear ramp
    assert all(a >= b for a, b in zip(lrs[warm:-1], lrs[warm + 1 :], strict=True))  # then decay
    assert lrs[warm + (total - warm) // 2] == pytest.approx(5e-4, rel=0.02)  # half way down
    assert scheduled_lr(1e-3, total, total, "cosine") == pytest.approx(0.0, abs=1e-12)
    assert {scheduled_lr(1e-3, s, total, "constant") for s in (0, 50, 199)} == {1e-3}
    with pytest.raises(InputError, match="schedule"):
        scheduled_lr(1e-3, 0, total, "step")


def test_cosine_schedule_sets_the_optimiser_rate_and_survives_resume():
    kw = {"loss": "wce", "lr": 1e-3, "batch_size": 4, "image_size": INPUT, "seed": 3}
    saved: list[bytes] = []

    def keep(state: TrainState) -> None:  # a checkpoint after every epoch, as the runner writes
        buf = io.BytesIO()
        torch.save(state.state_dict(), buf)
        saved.append(buf.getvalue())

    straight = pretrain(_encoder(), _Faces(), epochs=3, schedule="cosine", on_epoch_end=keep, **kw)
    assert straight.state.total_steps == 6
    assert straight.state.optimizer.param_groups[0]["lr"] == pytest.approx(scheduled_lr(1e-3, 5, 6, "cosine"))
    after_one = torch.load(io.BytesIO(saved[0]), weights_only=True)  # "killed" after epoch 1
    resumed = pretrain(_encoder(seed=99), _Faces(), epochs=3, schedule="cosine", resume=after_one, **kw)
    assert resumed.history == pytest.approx(straight.history, rel=1e-6)


def test_pooled_head_warms_up_the_backbone_and_leaves_the_au_blocks():
    enc = _encoder()
    before = _params(enc)
    res = pretrain(
        enc,
        _Faces(),
        loss="wce",
        head="pooled",
        epochs=1,
        lr=1e-3,
        batch_size=4,
        image_size=INPUT,
    )
    after = _params(enc)
    assert res.encoder is enc and res.model is None
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("backbone."))
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith(("class_linears.", "gnn.")))
    with pytest.raises(InputError, match="head"):
        pretrain(_encoder(), _Faces(), loss="aunce", head="pooled", epochs=1)
    with pytest.raises(InputError, match="head"):
        pretrain(_encoder(), _Faces(), loss="wce", head="mlp", epochs=1)
