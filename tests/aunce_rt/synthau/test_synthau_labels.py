"""SynthAU label sampling: BP4D rates, co-occurrences, imbalance knobs, label noise, identity splits."""

from __future__ import annotations

import numpy as np
import pytest

from aunce_rt.aus import BENCHMARK_AUS, BP4D_RATES
from aunce_rt.synthau import PRESENCE_THRESHOLD, TEST_ID_BASE, SynthAU
from aunce_rt.synthau._identity import identity_ids, make_identity
from aunce_rt.synthau._labels import au_rates, flip_labels, sample_intensities, sample_occurrences

CODES = BENCHMARK_AUS["synthau"]


def _draw(n: int = 6000, **kw: object) -> np.ndarray:
    return sample_occurrences(np.random.default_rng(0), n, CODES, au_rates(CODES, **kw))


def test_rates_match_bp4d():
    occ = _draw()
    expected = np.array([BP4D_RATES[c] for c in CODES])
    np.testing.assert_allclose(occ.mean(0), expected, atol=0.025)


@pytest.mark.parametrize(("a", "b"), [(1, 2), (6, 12), (17, 24)])
def test_co_occurring_pairs_are_linked(a, b):
    occ = _draw()
    ia, ib = CODES.index(a), CODES.index(b)
    assert occ[occ[:, ia] == 1, ib].mean() > occ[:, ib].mean() + 0.1  # P(b | a) above P(b)
    assert np.corrcoef(occ[:, ia], occ[:, ib])[0, 1] > 0.3


def test_unrelated_pair_is_independent():
    occ = _draw()
    assert abs(np.corrcoef(occ[:, CODES.index(4)], occ[:, CODES.index(15)])[0, 1]) < 0.05


def test_balanced_and_rate_scale():
    np.testing.assert_allclose(_draw(balanced=True).mean(0), 0.5, atol=0.03)
    scaled = _draw(rate_scale=0.5).mean(0)
    np.testing.assert_allclose(scaled, [BP4D_RATES[c] * 0.5 for c in CODES], atol=0.025)
    with pytest.raises(ValueError, match="rate_scale"):
        au_rates(CODES, rate_scale=0.0)


def test_rate_overrides_replace_only_the_named_aus():
    base = au_rates(CODES)
    harsh = au_rates(CODES, overrides={2: 0.05, 24: 0.04})
    changed = [CODES.index(2), CODES.index(24)]
    np.testing.assert_allclose(harsh[changed], [0.05, 0.04])
    np.testing.assert_array_equal(np.delete(harsh, changed), np.delete(base, changed))
    np.testing.assert_array_equal(au_rates(CODES, overrides={}), base)
    with pytest.raises(ValueError, match="outside"):
        au_rates(CODES, overrides={9: 0.1})
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        au_rates(CODES, overrides={2: 0.0})


def test_synthau_rates_option_keeps_defaults_and_draws_rare_aus():
    from aunce_rt.synthau import SynthAU

    default, same = SynthAU(seed=5), SynthAU(seed=5, rates=None)
    np.testing.assert_array_equal(default.rates, same.rates)
    assert all(np.array_equal(default.truth(i)[1], same.truth(i)[1]) for i in range(20))
    rare = SynthAU(seed=5, rates={15: 0.03})
    occ = np.array([rare.truth(i)[1] for i in range(1500)])
    assert abs(occ[:, rare.au_codes.index(15)].mean() - 0.03) < 0.015


def test_intensities_agree_with_occurrences():
    rng = np.random.default_rng(1)
    occ = sample_occurrences(rng, 2000, CODES, au_rates(CODES))
    inten = sample_intensities(rng, occ)
    assert np.array_equal(inten >= PRESENCE_THRESHOLD, occ == 1)
    assert inten.min() >= 0.0 and inten.max() <= 1.0


def test_noise_flips_expected_fraction_and_keeps_truth():
    rng = np.random.default_rng(2)
    clean = _draw(4000)
    noisy = flip_labels(rng, clean, 0.2)
    assert abs((noisy != clean).mean() - 0.2) < 0.01
    assert np.array_equal(flip_labels(rng, clean, 0.0), clean)
    with pytest.raises(ValueError, match="noise"):
        flip_labels(rng, clean, 1.5)


def test_dataset_truth_noise_is_separate_from_clean_labels():
    clean_ds, noisy_ds = SynthAU(seed=3, noise=0.0), SynthAU(seed=3, noise=0.3)
    flips = []
    for i in range(400):
        ident_a, clean_a, noisy_a, inten_a = clean_ds.truth(i)
        ident_b, clean_b, noisy_b, inten_b = noisy_ds.truth(i)
        assert ident_a == ident_b and np.array_equal(clean_a, clean_b) and np.array_equal(inten_a, inten_b)
        assert np.array_equal(noisy_a, clean_a)
        flips.append(noisy_b != clean_b)
    assert abs(np.mean(flips) - 0.3) < 0.03


def test_identities_are_disjoint_and_deterministic():
    train, test = SynthAU(split="train"), SynthAU(split="test")
    assert not set(train.identities.tolist()) & set(test.identities.tolist())
    assert set(identity_ids("test", 5).tolist()) == set(range(TEST_ID_BASE, TEST_ID_BASE + 5))
    assert all(test.truth(i)[0] >= TEST_ID_BASE for i in range(50))
    assert all(train.truth(i)[0] < TEST_ID_BASE for i in range(50))
    a, b = make_identity(7), make_identity.__wrapped__(7)
    assert np.array_equal(a.shape, b.shape) and np.array_equal(a.skin, b.skin)
    assert not np.allclose(make_identity(7).shape, make_identity(8).shape)


def test_rejects_bad_settings():
    with pytest.raises(ValueError, match="split"):
        SynthAU(split="val")
    with pytest.raises(ValueError, match="unsupported"):
        SynthAU(au_codes=(1, 25))


def test_trace_max_fills_the_gap_below_the_threshold_with_the_same_draws():
    occ = sample_occurrences(np.random.default_rng(1), 4000, CODES, au_rates(CODES))
    gap = sample_intensities(np.random.default_rng(2), occ)
    full = sample_intensities(np.random.default_rng(2), occ, trace_max=0.24)
    absent = occ == 0
    assert np.array_equal(full >= PRESENCE_THRESHOLD, occ == 1)  # labels unchanged
    assert np.array_equal(full[~absent], gap[~absent])  # present AUs: identical intensities
    assert gap[absent].max() < 0.15 and 0.2 < full[absent].max() < 0.24
    np.testing.assert_allclose(full[absent], gap[absent] * 0.24 / 0.15, rtol=1e-5)  # same draws, rescaled
    with pytest.raises(ValueError, match="trace_max"):
        sample_intensities(np.random.default_rng(2), occ, trace_max=0.3)
