"""SynthAU rendering: determinism, AU signatures in their FACS regions, landmarks, aligned crops."""

from __future__ import annotations

import numpy as np
import pytest

from aunce_rt.align import alignment_matrix, template, transform_points
from aunce_rt.synthau import SynthAU, aligned_crop
from aunce_rt.synthau._dataset import chin_pattern
from aunce_rt.synthau._expressions import SUPPORTED_AUS, apply_aus
from aunce_rt.synthau._identity import make_identity
from aunce_rt.synthau._render import render
from aunce_rt.synthau._scene import sample_scene

UPPER = (1, 2, 4, 6, 7)
LOWER = (10, 12, 14, 15, 17, 23, 24)


def _frontal(identity_id: int, aus: dict[int, float], seed: int = 0):
    person = make_identity(identity_id)
    scene = sample_scene(
        np.random.default_rng(seed), (256, 256), (0.0, 0.0, 0.0), (70.0, 70.0), degrade=False
    )
    expr = apply_aus(person.shape, aus, chin_pattern(identity_id))
    return render(person, expr, scene, (256, 256))


def test_same_seed_gives_identical_images_and_other_seed_differs():
    a = SynthAU(seed=4).render_sample(11)
    b = SynthAU(seed=4).render_sample(11)
    c = SynthAU(seed=5).render_sample(11)
    assert a.image.tobytes() == b.image.tobytes()
    assert np.array_equal(a.landmarks, b.landmarks) and np.array_equal(a.labels, b.labels)
    assert a.image.tobytes() != c.image.tobytes()


def test_render_order_groups_people_and_changes_no_pixel():
    ds = SynthAU(seed=2, num_identities=5)
    order = ds.render_order(range(12))
    assert sorted(order) == list(range(12))
    people = [ds.truth(i)[0] for i in order]
    assert people == sorted(people, key=people.index)  # each person's samples are contiguous
    assert len(set(people)) < len(people)
    from aunce_rt.synthau._render import _head_grid

    _head_grid.cache_clear()
    in_order = {i: ds.render_sample(i).image.tobytes() for i in order}  # head grids cached, reused
    _head_grid.cache_clear()
    assert all(ds.render_sample(i).image.tobytes() == in_order[i] for i in reversed(range(12)))


def test_sample_fields_and_pose_range():
    ds = SynthAU(seed=0, split="test")
    for i in range(6):
        s = ds.render_sample(i)
        assert s.image.shape == (256, 256, 3) and s.image.dtype == np.uint8
        assert s.landmarks.shape == (68, 2) and s.labels.shape == (12,) and s.noisy_labels.shape == (12,)
        assert all(abs(p) <= m for p, m in zip(s.pose, (25, 20, 20), strict=True))
        assert s.au_codes == SUPPORTED_AUS


@pytest.mark.parametrize("code", SUPPORTED_AUS)
def test_each_au_changes_pixels_in_its_facs_region(code):
    fractions = []
    for identity_id in (1, 2):
        neutral, lm = _frontal(identity_id, {})
        active, _ = _frontal(identity_id, {code: 1.0})
        diff = np.abs(active.astype(np.float32) - neutral.astype(np.float32)).sum(2)
        assert diff.sum() > 1500, f"AU{code} barely changes the image ({diff.sum():.0f})"
        rows = np.arange(diff.shape[0])[:, None]
        split = lm[30, 1] if code in UPPER else lm[29, 1]  # nose tip / lower nose bridge
        upper = diff[(rows < split).repeat(diff.shape[1], 1)].sum() / diff.sum()
        fractions.append(upper if code in UPPER else 1.0 - upper)
    assert min(fractions) > 0.8, f"AU{code}: only {min(fractions):.2f} of the change is in its region"


def test_au_intensity_is_graded():
    neutral, _ = _frontal(3, {})
    diffs = [np.abs(_frontal(3, {12: v})[0].astype(np.float32) - neutral).sum() for v in (0.3, 0.6, 1.0)]
    assert diffs[0] < diffs[1] < diffs[2]


def test_landmarks_sit_on_the_rendered_features():
    for identity_id in (4, 5, 6):
        img, lm = _frontal(identity_id, {})
        grey = img.astype(np.float32).mean(2)

        def window(p: np.ndarray, r: int = 2, img: np.ndarray = img) -> np.ndarray:
            x, y = int(round(p[0])), int(round(p[1]))
            return img[y - r : y + r + 1, x - r : x + r + 1].reshape(-1, 3).astype(np.float32)

        cheek = window((lm[2] + lm[30]) / 2.0 * 0.5 + lm[31] * 0.5, 3)
        for eye in (lm[36:42], lm[42:48]):
            # The iris/pupil sits at the eye centre: darker than the cheek skin.
            assert grey[int(eye[:, 1].mean()), int(eye[:, 0].mean())] < cheek.mean() - 25
        lips = window(lm[[51, 57]].mean(0) * 0.5 + lm[[62, 66]].mean(0) * 0.5)

        def redness(px: np.ndarray) -> float:
            return float((px[:, 2] / np.maximum(px[:, 1], 1)).mean())

        assert redness(lips) > redness(cheek) + 0.05


def test_aligned_crop_puts_the_eyes_on_the_template():
    ds = SynthAU(seed=1)
    for i in range(5):
        s = ds.render_sample(i)
        crop = aligned_crop(s)
        assert crop.shape == (256, 256, 3)
        m = alignment_matrix(s.landmarks, layout="ibug68")
        eyes = transform_points(np.stack([s.landmarks[36:42].mean(0), s.landmarks[42:48].mean(0)]), m)
        # Least squares over 5 points: eyes land within 12% of the template eye distance at any pose.
        assert np.abs(eyes - template()[:2]).max() < 0.12 * 80.0
        # The template's eye positions in the crop are darker than the forehead above them.
        grey = crop.astype(np.float32).mean(2)
        eye_val = np.mean([grey[108, 88], grey[108, 168]])
        assert eye_val < grey[60:70, 118:138].mean() + 5
