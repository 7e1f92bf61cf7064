"""AUNCELoss against a slow, obvious reference loop, closed forms and properties."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from aunce_rt.training.losses import AUNCELoss
from aunce_rt.training.losses.aunce import anchor_losses

ONE_HOT = {1: (1.0, 0.0, 0.0, 0.0), 2: (0.0, 1.0, 0.0, 0.0), 3: (0.0, 0.0, 1.0, 0.0), 4: (0.0, 0.0, 0.0, 1.0)}


def reference_aunce(
    z1: torch.Tensor,
    z2: torch.Tensor,
    labels: torch.Tensor,
    *,
    kind: int,
    temperature: float,
    beta_minority: float,
    beta_majority: float,
    minority: str,
    au_weighted: bool,
    occurrence: list[float] | None = None,
) -> float:
    """Plain-loop AUNCE with a fixed positive type and every member of P(a) \\ {a'} drawn."""
    num_images, num_aus, _ = z1.shape
    z = torch.cat([z1, z2]).double()
    y = torch.cat([labels, labels]).tolist()
    num_anchors = 2 * num_images

    rates = []
    for i in range(num_aus):
        if occurrence is not None:
            rates.append(occurrence[i])
            continue
        known = [int(labels[b, i]) for b in range(num_images) if int(labels[b, i]) >= 0]
        rates.append(sum(known) / len(known) if known else 0.5)
    inverse = [1.0 / min(max(r, 1e-3), 1 - 1e-3) for r in rates]
    weights = [num_aus * v / sum(inverse) for v in inverse] if au_weighted else [1.0] * num_aus

    total = 0.0
    for i in range(num_aus):
        minority_label = 1 if (minority == "positive" or rates[i] < 0.5) else 0
        losses = []
        for a in range(num_anchors):
            if y[a][i] < 0:
                continue
            other = (a + num_images) % num_anchors

            def s(m: int, a: int = a, i: int = i) -> float:
                return float(z[a, i] @ z[m, i]) / temperature

            pool = [m for m in range(num_anchors) if m not in (a, other) and y[m][i] == y[a][i]]
            negatives = [m for m in range(num_anchors) if y[m][i] >= 0 and y[m][i] != y[a][i]]
            use = kind if pool else 2
            if use == 1:
                pos = max(s(m) for m in pool)
            elif use == 2:
                pos = s(other)
            elif use == 3:
                centroid = sum(z[m, i] for m in pool) / len(pool)
                centroid = centroid / centroid.norm()
                pos = float(z[a, i] @ centroid) / temperature
            else:
                pos = min(s(m) for m in pool)
            beta = beta_minority if y[a][i] == minority_label else beta_majority
            denominator = math.exp(pos) + sum(math.exp(beta * s(m)) for m in negatives)
            losses.append(-math.log(math.exp(pos) / denominator))
        mean = sum(losses) / len(losses) if losses else 0.0
        total += weights[i] * mean
    return total / num_aus


def random_batch(
    num_images: int, num_aus: int, dim: int, seed: int, mask_fraction: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z1 = F.normalize(torch.randn(num_images, num_aus, dim, generator=g), dim=-1)
    z2 = F.normalize(z1 + 0.5 * torch.randn(num_images, num_aus, dim, generator=g), dim=-1)
    labels = (torch.rand(num_images, num_aus, generator=g) < 0.35).long()
    masked = torch.rand(num_images, num_aus, generator=g) < mask_fraction
    return z1, z2, labels.masked_fill(masked, -1)


@pytest.mark.parametrize("kind", [1, 2, 3, 4])
@pytest.mark.parametrize("minority", ["rate", "positive"])
@pytest.mark.parametrize("mask_fraction", [0.0, 0.3])
def test_matches_reference_for_each_positive_type(kind: int, minority: str, mask_fraction: float) -> None:
    z1, z2, labels = random_batch(6, 4, 8, seed=kind, mask_fraction=mask_fraction)
    labels[:, 1] = torch.tensor([1, 1, 1, 1, 0, -1])  # r = 0.8: the two minority modes disagree
    labels[:, 2] = torch.tensor([1, 0, 0, 0, 0, 0])  # a lone positive: type 1/3/4 fall back to type 2
    options = {"temperature": 0.5, "beta_minority": 1.2, "beta_majority": 0.4, "minority": minority}
    loss_fn = AUNCELoss(probs=ONE_HOT[kind], num_positives=100, au_weighted=True, **options)
    got = loss_fn(z1, z2, labels, generator=torch.Generator().manual_seed(0))
    want = reference_aunce(z1, z2, labels, kind=kind, au_weighted=True, **options)
    assert got.dtype == torch.float32
    assert float(got) == pytest.approx(want, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("kind", [1, 3])
def test_matches_reference_with_split_rates_and_no_weights(kind: int) -> None:
    z1, z2, labels = random_batch(5, 3, 6, seed=10 + kind)
    occurrence = [0.2, 0.7, 0.5]
    options = {"temperature": 0.3, "beta_minority": 1.5, "beta_majority": 0.5, "minority": "rate"}
    loss_fn = AUNCELoss(probs=ONE_HOT[kind], num_positives=2 * 5, au_weighted=False, **options)
    got = loss_fn(z1, z2, labels, occurrence=torch.tensor(occurrence))
    want = reference_aunce(z1, z2, labels, kind=kind, au_weighted=False, occurrence=occurrence, **options)
    assert float(got) == pytest.approx(want, rel=1e-5)


def test_explicit_au_weights_scale_each_au() -> None:
    z1, z2, labels = random_batch(4, 3, 5, seed=3)
    loss_fn = AUNCELoss(probs=ONE_HOT[2])
    per_au = [float(AUNCELoss(probs=ONE_HOT[2])(z1[:, [i]], z2[:, [i]], labels[:, [i]])) for i in range(3)]
    weights = torch.tensor([0.5, 2.0, 0.5])
    # A single AU has w = 1, so its loss is its mean per-anchor loss.
    assert float(loss_fn(z1, z2, labels, au_weights=weights)) == pytest.approx(
        sum(w * v for w, v in zip(weights.tolist(), per_au, strict=True)) / 3, rel=1e-5
    )
    unweighted = AUNCELoss(probs=ONE_HOT[2], au_weighted=False)(z1, z2, labels, au_weights=weights)
    assert float(unweighted) == pytest.approx(sum(per_au) / 3, rel=1e-5)


def test_infonce_special_case_by_hand() -> None:
    # Two images, one AU, labels (1, 0); both views of image 0 at e0, of image 1 at e1.
    e0, e1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    z = torch.stack([e0, e1])[:, None, :]  # (2, 1, 2)
    labels = torch.tensor([[1], [0]])
    loss_fn = AUNCELoss(temperature=0.5, probs=ONE_HOT[2], beta_minority=1.0, beta_majority=1.0)
    # Each anchor: positive s = 1/tau = 2 (other view), negatives: both views of the other image, s = 0.
    assert float(loss_fn(z, z.clone(), labels)) == pytest.approx(math.log(1 + 2 * math.exp(-2)), rel=1e-6)


def test_infonce_special_case_against_cross_entropy() -> None:
    z1, z2, labels = random_batch(6, 1, 4, seed=5)
    tau = 0.5
    loss_fn = AUNCELoss(temperature=tau, probs=ONE_HOT[2], beta_minority=1.0, beta_majority=1.0)
    z = torch.cat([z1, z2])[:, 0]  # (2B, C)
    y = torch.cat([labels, labels])[:, 0]
    sim = z @ z.T / tau
    terms = []
    for a in range(12):
        negatives = sim[a][y != y[a]]
        logits = torch.cat([sim[a, (a + 6) % 12].view(1), negatives])
        terms.append(F.cross_entropy(logits[None], torch.tensor([0])))
    assert float(loss_fn(z1, z2, labels)) == pytest.approx(float(torch.stack(terms).mean()), rel=1e-5)


def test_max_positive_is_never_the_anchor_itself() -> None:
    # The anchor's only same-label peers (besides its other view) are orthogonal to it.
    e = torch.eye(3)
    z = torch.stack([e[0], e[1], e[2]])[:, None, :]  # (3, 1, 3), views identical
    labels = torch.tensor([[1], [1], [0]])
    loss_fn = AUNCELoss(temperature=0.5, probs=ONE_HOT[1], num_positives=10, au_weighted=False)
    got = float(loss_fn(z, z.clone(), labels))
    # Anchors of images 0/1: max positive = s(e0, e1) = 0 (the public code would use 1/tau = 2),
    # negatives: the 2 views of image 2 with s = 0, so exp(beta * 0) = 1 whatever beta is.
    pos_anchor = -0.0 + math.log(1 + 2)
    # Anchors of image 2: P(a) \ {a'} is empty -> the other view, s = 2; 4 negatives at s = 0.
    neg_anchor = -2.0 + math.log(math.exp(2) + 4)
    assert got == pytest.approx((4 * pos_anchor + 2 * neg_anchor) / 6, rel=1e-6)
    quirk = (4 * (-2.0 + math.log(math.exp(2) + 2)) + 2 * neg_anchor) / 6
    assert got != pytest.approx(quirk, rel=1e-3)


def test_centroid_positive_is_a_normalised_feature_mean() -> None:
    def unit(deg: float) -> torch.Tensor:
        return torch.tensor([math.cos(math.radians(deg)), math.sin(math.radians(deg))])

    # Images at 0, 60, -60 degrees (label 1) and 180 degrees (label 0); views identical; tau = 0.5.
    z = torch.stack([unit(0), unit(60), unit(-60), unit(180)])[:, None, :]
    labels = torch.tensor([[1], [1], [1], [0]])
    loss_fn = AUNCELoss(temperature=0.5, probs=ONE_HOT[3], num_positives=10, minority="positive")
    got = float(loss_fn(z, z.clone(), labels))
    # Image 0: centroid of {60, -60, 60, -60} is 0 degrees -> pos = 1/tau = 2; negatives (180) s = -2, beta 1.2.
    img0 = -2 + math.log(math.exp(2) + 2 * math.exp(-2.4))
    # Image 1: centroid of {0, -60, 0, -60} is -30 degrees, orthogonal to 60 -> pos = 0; negatives s = -1.
    img1 = math.log(1 + 2 * math.exp(-1.2))
    # Image 3: no other label-0 image -> other view, pos = 2; negatives s = -2 (x2), -1 (x4), beta 0.4.
    img3 = -2 + math.log(math.exp(2) + 2 * math.exp(-0.8) + 4 * math.exp(-0.4))
    assert got == pytest.approx((2 * img0 + 4 * img1 + 2 * img3) / 8, rel=1e-6)
    # The public code's "mean" positive, log(mean(exp(s))), would give image 1 log(cosh 1) != 0.
    quirk_img1 = -math.log(math.cosh(1)) + math.log(math.cosh(1) + 2 * math.exp(-1.2))
    assert got != pytest.approx((2 * img0 + 4 * quirk_img1 + 2 * img3) / 8, rel=1e-3)


def test_gradient_ratio_of_paper_eq7() -> None:
    # d l / d s_an = beta exp(beta s_an) / (exp(pos) + sum_n exp(beta s_an)) on negatives, 0 elsewhere.
    # Anchor 0 of a 5-sample row: negatives 1..3, sample 4 is not a negative, pos logit 1.
    negatives = torch.zeros(1, 5, 5, dtype=torch.bool)
    negatives[0, 0, 1:4] = True
    pos = torch.tensor([[1.0, 0.0, 0.0, 0.0, 0.0]])
    for beta_value in (0.4, 1.2):
        s = torch.tensor([0.0, 1.5, -0.3, 0.8, 2.0], requires_grad=True)
        beta = torch.full((1, 5), beta_value)
        loss = anchor_losses(pos, s.expand(1, 5, 5), beta, negatives)[0, 0]
        (grad,) = torch.autograd.grad(loss, s)
        denominator = math.exp(1.0) + sum(math.exp(beta_value * v) for v in (1.5, -0.3, 0.8))
        for n, value in ((1, 1.5), (2, -0.3), (3, 0.8)):
            expected = beta_value * math.exp(beta_value * value) / denominator
            assert float(grad[n]) == pytest.approx(expected, rel=1e-5)
        assert float(grad[0]) == 0.0 and float(grad[4]) == 0.0  # self / non-negative: no gradient
        ratio = float(grad[1] / grad[2])
        assert ratio == pytest.approx(math.exp(beta_value * (1.5 + 0.3)), rel=1e-5)


def test_anchor_without_negatives_has_zero_loss() -> None:
    pos = torch.tensor([[3.0, -1.0]])
    sim = torch.zeros(1, 2, 2)
    out = anchor_losses(pos, sim, torch.ones(1, 2), torch.zeros(1, 2, 2, dtype=torch.bool))
    assert out.tolist() == [[0.0, 0.0]]


def test_masked_entries_do_not_change_the_loss() -> None:
    z1, z2, labels = random_batch(6, 3, 8, seed=21)
    labels[2, 0] = -1
    labels[4, 1] = -1
    loss_fn = AUNCELoss(num_positives=3)
    base = loss_fn(z1, z2, labels, generator=torch.Generator().manual_seed(7))
    z1b, z2b = z1.clone(), z2.clone()
    z1b[2, 0] = F.normalize(torch.randn(8), dim=0)
    z2b[4, 1] = -z2b[4, 1]
    z1b.requires_grad_(True)
    z2b.requires_grad_(True)
    changed = loss_fn(z1b, z2b, labels, generator=torch.Generator().manual_seed(7))
    assert changed.item() == pytest.approx(base.item(), rel=1e-6)
    changed.backward()
    assert float(z1b.grad[2, 0].abs().sum()) == 0.0
    assert float(z2b.grad[4, 1].abs().sum()) == 0.0
    assert float(z1b.grad[1, 0].abs().sum()) > 0.0


@pytest.mark.parametrize(
    ("labels", "expected_zero"),
    [
        (torch.tensor([[1, 0, -1]]), True),  # batch of one: only the other view, no negatives
        (torch.tensor([[1, 0, 0], [1, 0, 0], [1, 0, 0]]), True),  # every AU has one label value
        (torch.full((3, 3), -1), True),  # all masked
        (torch.tensor([[1, 1, -1], [1, 0, -1], [0, 1, -1]]), False),  # one AU all masked, others fine
    ],
)
def test_degenerate_batches_give_finite_defined_loss(labels: torch.Tensor, expected_zero: bool) -> None:
    g = torch.Generator().manual_seed(0)
    z1 = F.normalize(torch.randn(labels.shape[0], 3, 4, generator=g), dim=-1).requires_grad_(True)
    z2 = F.normalize(torch.randn(labels.shape[0], 3, 4, generator=g), dim=-1).requires_grad_(True)
    loss = AUNCELoss()(z1, z2, labels, generator=g)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(z1.grad).all() and torch.isfinite(z2.grad).all()
    assert (loss.item() == 0.0) == expected_zero


@pytest.mark.parametrize("temperature", [0.05, 0.01])
def test_stable_at_small_temperature_with_nearly_identical_features(temperature: float) -> None:
    g = torch.Generator().manual_seed(1)
    base = F.normalize(torch.randn(1, 4, 16, generator=g), dim=-1)
    z1 = F.normalize(base + 1e-4 * torch.randn(8, 4, 16, generator=g), dim=-1).requires_grad_(True)
    z2 = F.normalize(base + 1e-4 * torch.randn(8, 4, 16, generator=g), dim=-1).requires_grad_(True)
    labels = torch.tensor([[1, 0, 1, 0]] * 4 + [[0, 1, 1, 0]] * 4)
    loss = AUNCELoss(temperature=temperature, beta_minority=1.2, beta_majority=0.4)(
        z1, z2, labels, generator=g
    )
    loss.backward()
    assert torch.isfinite(loss) and loss.item() > 0
    assert torch.isfinite(z1.grad).all() and torch.isfinite(z2.grad).all()


def test_half_precision_features_are_computed_in_float32() -> None:
    z1, z2, labels = random_batch(4, 2, 8, seed=2)
    loss_fn = AUNCELoss(probs=ONE_HOT[2])
    half = loss_fn(z1.to(torch.bfloat16), z2.to(torch.bfloat16), labels)
    assert half.dtype == torch.float32
    assert float(half) == pytest.approx(float(loss_fn(z1, z2, labels)), rel=2e-2)


def test_generator_makes_sampling_reproducible() -> None:
    z1, z2, labels = random_batch(16, 3, 8, seed=4)
    loss_fn = AUNCELoss(probs=(0.25, 0.25, 0.25, 0.25), num_positives=2)
    first = loss_fn(z1, z2, labels, generator=torch.Generator().manual_seed(123))
    again = loss_fn(z1, z2, labels, generator=torch.Generator().manual_seed(123))
    other = [float(loss_fn(z1, z2, labels, generator=torch.Generator().manual_seed(s))) for s in range(5)]
    assert float(first) == float(again)
    assert len({round(v, 6) for v in other}) > 1


def test_positive_draws_are_independent_per_anchor_and_uniform() -> None:
    loss_fn = AUNCELoss(num_positives=3)
    pool = torch.zeros(2, 6, 6, dtype=torch.bool)
    pool[:, :, 1:6] = True  # every row: members 1..5
    pool[1, 2] = False
    pool[1, 2, 4] = True  # one row with a single member (fewer than M)
    counts = torch.zeros(6)
    g = torch.Generator().manual_seed(0)
    rows_differ = False
    for _ in range(400):
        drawn = loss_fn._draw_positives(pool, g)
        assert (drawn & ~pool).sum() == 0
        sizes = drawn.sum(-1)
        assert sizes[1, 2] == 1 and (sizes.flatten()[torch.arange(12) != 8] == 3).all()
        rows_differ |= bool((drawn[0] != drawn[0, :1]).any())  # not one draw shared by all anchors
        counts += drawn[0, 0].float()
    assert rows_differ
    frequencies = counts[1:] / 400  # each of 5 members is drawn with probability 3/5
    assert torch.allclose(frequencies, torch.full((5,), 0.6), atol=0.08)


def test_positive_types_follow_probs() -> None:
    kinds = AUNCELoss(probs=(0.1, 0.2, 0.7, 0.0))._draw_types(10, 2000, torch.device("cpu"), None)
    share = torch.bincount(kinds.flatten(), minlength=4).float() / kinds.numel()
    assert torch.allclose(share, torch.tensor([0.1, 0.2, 0.7, 0.0]), atol=0.01)
    assert int((kinds == 3).sum()) == 0


def test_gradients_match_finite_differences() -> None:
    z1, z2, labels = random_batch(4, 2, 5, seed=8)
    loss_fn = AUNCELoss(probs=ONE_HOT[3], num_positives=8)
    z1 = z1.double().requires_grad_(True)
    loss = loss_fn(z1, z2.double(), labels)
    (grad,) = torch.autograd.grad(loss, z1)
    direction = torch.randn(z1.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    eps = 1e-3
    with torch.no_grad():
        plus = loss_fn(z1 + eps * direction, z2.double(), labels)
        minus = loss_fn(z1 - eps * direction, z2.double(), labels)
    numeric = float(plus - minus) / (2 * eps)
    assert float((grad * direction).sum()) == pytest.approx(numeric, rel=2e-2, abs=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperature": 0.0}, "temperature"),
        ({"probs": (0.5, 0.5, 0.5, 0.0)}, "sum to 1"),
        ({"probs": (1.2, -0.2, 0.0, 0.0)}, "non-negative"),
        ({"probs": (0.5, 0.5)}, "4 probabilities"),
        ({"num_positives": 0}, "num_positives"),
        ({"beta_minority": -1.0}, "beta_minority"),
        ({"minority": "negative"}, "minority"),
    ],
)
def test_invalid_hyper_parameters_say_how_to_fix(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AUNCELoss(**kwargs)


def test_invalid_inputs_are_rejected() -> None:
    z1, z2, labels = random_batch(4, 2, 8, seed=2)
    loss_fn = AUNCELoss()
    with pytest.raises(ValueError, match="shape"):
        loss_fn(z1, z2[:3], labels)
    with pytest.raises(ValueError, match=r"labels must have shape \(B, N\)"):
        loss_fn(z1, z2, labels[:, :1])
    with pytest.raises(ValueError, match="-1, 0, 1"):
        loss_fn(z1, z2, labels + 1)
    with pytest.raises(ValueError, match="occurrence"):
        loss_fn(z1, z2, labels, occurrence=torch.tensor([0.5]))
    with pytest.raises(ValueError, match="au_weights"):
        loss_fn(z1, z2, labels, au_weights=torch.ones(3))
