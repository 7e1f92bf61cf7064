from __future__ import annotations

import numpy as np
import pytest

from aunce_rt.align import (
    CROP_SIZE,
    INPUT_SIZE,
    LAYOUTS,
    align_face,
    alignment_matrix,
    center_crop,
    estimate_similarity,
    invert_affine,
    template,
    template_points,
    transform_points,
)
from aunce_rt.errors import InputError


def _similarity(angle_deg: float, scale: float, tx: float, ty: float) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    r = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return np.hstack([r, [[tx], [ty]]])


def test_template_gives_identity():
    m = alignment_matrix(template(), layout="five")
    np.testing.assert_allclose(m, [[1, 0, 0], [0, 1, 0]], atol=1e-9)


def test_template_subcrop_is_shift():
    m = alignment_matrix(template(), layout="five", crop=INPUT_SIZE)
    off = (CROP_SIZE - INPUT_SIZE) / 2
    np.testing.assert_allclose(m, [[1, 0, -off], [0, 1, -off]], atol=1e-9)


@pytest.mark.parametrize("angle,scale,tx,ty", [(0, 1, 0, 0), (17, 2.5, 40, -13), (-30, 0.4, 300, 120)])
def test_known_similarity_is_recovered(angle, scale, tx, ty):
    fwd = _similarity(angle, scale, tx, ty)  # template -> image
    image_pts = transform_points(template(), fwd)
    m = alignment_matrix(image_pts, layout="five")  # image -> template
    np.testing.assert_allclose(m, invert_affine(fwd), atol=1e-8)


def test_estimate_similarity_noisy_least_squares():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (20, 2))
    fwd = _similarity(10, 1.3, 5, 7)
    dst = transform_points(src, fwd) + rng.normal(0, 0.01, (20, 2))
    np.testing.assert_allclose(estimate_similarity(src, dst), fwd, atol=0.01)


def test_reflection_is_not_returned():
    src = template()
    dst = src.copy()
    dst[:, 0] = -dst[:, 0]  # mirrored: best similarity must still be a proper rotation
    m = estimate_similarity(src, dst)
    assert np.linalg.det(m[:, :2]) > 0


@pytest.mark.parametrize("layout,n", [("mediapipe", 478), ("mediapipe", 468), ("ibug68", 68), ("ibug49", 49)])
def test_layout_maps_reduce_to_template(layout, n):
    pts = np.zeros((n, 2))
    tpl = template()
    for k, idx in enumerate(LAYOUTS[layout]):
        pts[list(idx)] = tpl[k]
    np.testing.assert_allclose(template_points(pts), tpl)
    np.testing.assert_allclose(alignment_matrix(pts), [[1, 0, 0], [0, 1, 0]], atol=1e-9)


def test_ibug49_is_ibug68_without_jaw_and_inner_mouth_corners():
    keep = [i for i in range(17, 68) if i not in (60, 64)]
    assert len(keep) == 49
    for p68, p49 in zip(LAYOUTS["ibug68"], LAYOUTS["ibug49"], strict=True):
        assert tuple(keep.index(i) for i in p68) == p49


def test_warp_puts_marked_points_on_template():
    img = np.zeros((480, 640, 3), np.uint8)
    fwd = _similarity(12, 1.7, 150, 60)
    pts = transform_points(template(), fwd)
    for x, y in pts:
        img[int(round(y)) - 2 : int(round(y)) + 3, int(round(x)) - 2 : int(round(x)) + 3] = 255
    crop, m = align_face(img, pts, layout="five")
    assert crop.shape == (CROP_SIZE, CROP_SIZE, 3)
    for x, y in template():
        assert crop[int(y), int(x)].max() > 100


def test_direct_224_warp_equals_256_then_center_crop():
    rng = np.random.default_rng(1)
    import cv2

    img = cv2.GaussianBlur(rng.uniform(0, 255, (300, 400, 3)).astype(np.uint8), (0, 0), 3)
    pts = transform_points(template(), _similarity(5, 1.1, 30, 20))
    big, _ = align_face(img, pts, layout="five")
    small, _ = align_face(img, pts, layout="five", crop=INPUT_SIZE)
    diff = np.abs(center_crop(big, INPUT_SIZE).astype(int) - small.astype(int))
    assert diff.max() <= 1  # same geometry; OpenCV warps at 1/32 px, so rounding may differ


def test_bad_landmarks_raise_clear_errors():
    with pytest.raises(InputError, match="478/468"):
        alignment_matrix(np.zeros((10, 2)))
    with pytest.raises(InputError, match="degenerate"):
        alignment_matrix(np.zeros((5, 2)), layout="five")


def test_aligned_input_equals_training_eval_crop():
    """Runtime crop at 112 px == training's 256 crop resized to 128, centre-cropped to 112."""
    import cv2

    from aunce_rt.align import aligned_input

    rng = np.random.default_rng(2)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (480, 640, 3)).astype(np.uint8), (0, 0), 4)
    pts = transform_points(template(), _similarity(-8, 1.9, 120, 40))
    full, _ = align_face(img, pts, layout="five")  # what `aunce-rt data synth` / prepare store
    train = center_crop(cv2.resize(full, (128, 128), interpolation=cv2.INTER_AREA), 112)
    run = aligned_input(img, pts, "five", input_size=112)
    assert run.shape == (112, 112, 3)
    assert np.abs(run.astype(int) - train.astype(int)).mean() < 1.0
    np.testing.assert_array_equal(aligned_input(img, pts, "five"), align_face(img, pts, "five", crop=224)[0])
