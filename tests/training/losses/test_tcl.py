"""TemporalContrastiveLoss (CLP as reconstructed here) against a slow per-anchor loop and closed forms."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from aunce_rt.training.losses.tcl import KeyQueue, TemporalContrastiveLoss, clip_logits, in_clip_margins


def reference_tcl(
    q, k, queue, *, temperature: float, margin: float, mode: str, batch_negatives=False
) -> float:
    """spec/CLP.md's TCL, one anchor at a time, in float64 with explicit exp and log."""
    b, t, _ = q.shape
    q, k, queue = q.double(), k.double(), queue.double()
    total = 0.0
    for bi in range(b):
        for ti in range(t):
            m_pos = margin if mode == "positive" else 0.0
            pos = (float(q[bi, ti] @ k[bi, ti]) - m_pos) / temperature
            terms = [math.exp(pos)]
            for j in range(t):
                if j == ti:
                    continue
                m_tj = margin * abs(ti - j) / (t - 1) if mode == "temporal" else 0.0
                terms.append(math.exp((float(q[bi, ti] @ k[bi, j]) + m_tj) / temperature))
            for other in range(b) if batch_negatives else ():
                for j in range(t) if other != bi else ():
                    terms.append(math.exp(float(q[bi, ti] @ k[other, j]) / temperature))
            for n in range(queue.shape[0]):
                terms.append(math.exp(float(q[bi, ti] @ queue[n]) / temperature))
            total += -math.log(math.exp(pos) / sum(terms))
    return total / (b * t)


def unit(*shape: int, seed: int) -> torch.Tensor:
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


@pytest.mark.parametrize("mode", ["temporal", "positive", "none"])
@pytest.mark.parametrize(("b", "t", "k"), [(3, 4, 10), (1, 1, 5), (2, 2, 0), (2, 8, 3)])
def test_matches_the_slow_reference_loop(mode: str, b: int, t: int, k: int) -> None:
    q, key, queue = unit(b, t, 16, seed=1), unit(b, t, 16, seed=2), unit(k, 16, seed=3)
    loss = TemporalContrastiveLoss(temperature=0.2, margin=0.3, mode=mode)(q, key, queue)
    expected = reference_tcl(q, key, queue, temperature=0.2, margin=0.3, mode=mode)
    assert loss.item() == pytest.approx(expected, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("mode", ["temporal", "none"])
@pytest.mark.parametrize(("b", "t", "k"), [(3, 4, 10), (1, 3, 5), (4, 1, 0)])
def test_batch_negatives_match_the_slow_reference_loop(mode: str, b: int, t: int, k: int) -> None:
    q, key, queue = unit(b, t, 16, seed=7), unit(b, t, 16, seed=8), unit(k, 16, seed=9)
    loss = TemporalContrastiveLoss(temperature=0.2, margin=0.3, mode=mode, batch_negatives=True)(
        q, key, queue
    )
    expected = reference_tcl(q, key, queue, temperature=0.2, margin=0.3, mode=mode, batch_negatives=True)
    assert loss.item() == pytest.approx(expected, rel=1e-5, abs=1e-6)
    logits = clip_logits(q, key, queue, margin=0.3, mode=mode, batch_negatives=True)
    assert logits.shape == (b * t, 1 + (t - 1) + (b - 1) * t + k)
    if b > 1:  # the other clips' keys raise the loss above plain TCL's (more negatives, all e^x > 0)
        plain = TemporalContrastiveLoss(temperature=0.2, margin=0.3, mode=mode)(q, key, queue)
        assert loss.item() > plain.item()


def test_one_frame_and_no_margin_is_moco_infonce() -> None:
    q, key, queue = unit(5, 1, 8, seed=4), unit(5, 1, 8, seed=5), unit(7, 8, seed=6)
    tau = 0.07
    loss = TemporalContrastiveLoss(temperature=tau, margin=0.0, mode="temporal")(q, key, queue)
    # MoCo (He et al. 2020, Eq. 1): -log exp(q.k+/tau) / (exp(q.k+/tau) + sum_n exp(q.Q_n/tau)).
    qf, kf = q[:, 0], key[:, 0]
    pos = (qf * kf).sum(-1) / tau
    neg = qf @ queue.T / tau
    moco = (torch.logsumexp(torch.cat([pos[:, None], neg], 1), 1) - pos).mean()
    assert loss.item() == pytest.approx(moco.item(), rel=1e-6)


def test_two_frames_temporal_adds_exactly_m_over_tau_to_the_in_clip_logit() -> None:
    q, key, queue = unit(3, 2, 8, seed=7), unit(3, 2, 8, seed=8), unit(4, 8, seed=9)
    with_margin = clip_logits(q, key, queue, margin=0.25, mode="temporal") / 0.5
    without = clip_logits(q, key, queue, margin=0.0, mode="temporal") / 0.5
    diff = with_margin - without  # (B*T, 1 + 1 + K)
    assert torch.allclose(diff[:, 1], torch.full((6,), 0.25 / 0.5))
    assert torch.equal(diff[:, 0], torch.zeros(6)) and torch.equal(diff[:, 2:], torch.zeros(6, 4))


def test_positive_mode_lowers_only_the_positive_logit() -> None:
    q, key, queue = unit(2, 3, 8, seed=10), unit(2, 3, 8, seed=11), unit(4, 8, seed=12)
    diff = clip_logits(q, key, queue, margin=0.2, mode="positive") - clip_logits(
        q, key, queue, margin=0.0, mode="none"
    )
    assert torch.allclose(diff[:, 0], torch.full((6,), -0.2))
    assert torch.allclose(diff[:, 1:], torch.zeros(6, 2 + 4))


def test_temporal_margins_grow_with_the_frame_distance() -> None:
    m = in_clip_margins(5, 0.1, "temporal")
    assert torch.allclose(m[0], torch.tensor([0.0, 0.025, 0.05, 0.075, 0.1]))
    assert torch.equal(m, m.T)
    assert torch.equal(in_clip_margins(5, 0.1, "none"), torch.zeros(5, 5))


def test_the_anchor_key_is_never_a_negative() -> None:
    """With every other key orthogonal to q and no queue, the loss is log(1 + (T-1) e^{m_tj/tau} / e^{1/tau})."""
    t, tau = 3, 0.5
    eye = torch.eye(t)
    q = eye[None]  # (1, T, T): frame t's query is e_t
    key = eye[None].clone()  # its key too: q_t . k_j = [t == j]
    loss = TemporalContrastiveLoss(temperature=tau, margin=0.0, mode="none")(q, key, torch.zeros(0, t))
    assert loss.item() == pytest.approx(math.log(1 + (t - 1) * math.exp(0) / math.exp(1 / tau)), rel=1e-6)


def test_gradient_flows_to_the_queries_only() -> None:
    q = unit(2, 3, 8, seed=13).requires_grad_()
    key = unit(2, 3, 8, seed=14)
    TemporalContrastiveLoss()(q, key, unit(5, 8, seed=15)).backward()
    assert q.grad is not None and torch.isfinite(q.grad).all() and q.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"temperature": 0}, "temperature"), ({"margin": -0.1}, "margin"), ({"mode": "linear"}, "mode")],
)
def test_bad_settings_say_what_is_expected(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TemporalContrastiveLoss(**kwargs)


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\(B, T, d\)"):
        TemporalContrastiveLoss()(unit(2, 3, 8, seed=0), unit(2, 4, 8, seed=0), unit(3, 8, seed=0))
    with pytest.raises(ValueError, match="queue"):
        TemporalContrastiveLoss()(unit(2, 3, 8, seed=0), unit(2, 3, 8, seed=0), unit(3, 4, seed=0))


def test_queue_is_a_ring_buffer_of_the_newest_keys() -> None:
    queue = KeyQueue(5, 2, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(queue.keys.norm(dim=1), torch.ones(5))
    first = torch.arange(6, dtype=torch.float32).view(3, 2)
    queue.push(first)
    assert torch.equal(queue.keys[:3], first) and int(queue.pointer) == 3
    second = 10 + torch.arange(8, dtype=torch.float32).view(4, 2)
    queue.push(second)  # rows 3, 4, 0, 1
    assert torch.equal(queue.keys[[3, 4, 0, 1]], second) and torch.equal(queue.keys[2], first[2])
    assert int(queue.pointer) == 2
    queue.push(torch.zeros(7, 2))  # more than K: the last K are kept
    assert torch.equal(queue.keys, torch.zeros(5, 2))
    assert set(queue.state_dict()) == {"keys", "pointer"}  # travels with the checkpoint
