"""Training/eval view transforms: colour order, normalisation, crops, randomness."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import Subset

from aunce_rt.errors import InputError
from aunce_rt.metadata import IMAGENET_MEAN, IMAGENET_STD
from aunce_rt.training.augment import (
    TransformedDataset,
    dataset_labels,
    eval_transform,
    to_rgb_tensor,
    train_transform,
)


class _Images(torch.utils.data.Dataset):
    def __init__(self, n: int = 4, side: int = 64) -> None:
        rng = np.random.default_rng(0)
        self.images = [rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for _ in range(n)]
        self.labels = rng.integers(0, 2, (n, 3)).astype(np.int64)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.images[i], self.labels[i]


def test_to_rgb_tensor_swaps_bgr_to_rgb_channels_first():
    img = np.zeros((5, 7, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 10, 20, 30  # B, G, R
    t = to_rgb_tensor(img)
    assert t.shape == (3, 5, 7) and t.dtype == torch.uint8
    assert t[0].unique().tolist() == [30] and t[2].unique().tolist() == [10]


def test_to_rgb_tensor_grayscale_and_errors():
    assert to_rgb_tensor(np.full((4, 4), 9, np.uint8)).shape == (3, 4, 4)
    with pytest.raises(InputError, match="uint8"):
        to_rgb_tensor(np.zeros((4, 4, 3), np.uint16))
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        to_rgb_tensor(np.zeros((4, 4, 4), np.uint8))


def test_eval_transform_normalises_with_imagenet_stats_in_rgb_order():
    img = np.zeros((32, 32, 3), np.uint8)
    img[..., 2] = 255  # red in BGR
    out = eval_transform(24)(to_rgb_tensor(img))
    assert out.shape == (3, 24, 24) and out.dtype == torch.float32
    expected = [(v - m) / s for v, m, s in zip((1.0, 0.0, 0.0), IMAGENET_MEAN, IMAGENET_STD, strict=True)]
    assert torch.allclose(out.mean(dim=(1, 2)), torch.tensor(expected), atol=1e-5)


def test_eval_transform_is_a_centre_crop():
    img = np.zeros((10, 10, 3), np.uint8)
    img[1:9, 1:9] = 255  # the centre 8x8 is white, the border black
    out = eval_transform(8)(to_rgb_tensor(img))
    white = (1.0 - IMAGENET_MEAN[0]) / IMAGENET_STD[0]
    assert torch.allclose(out[0], torch.full((8, 8), white), atol=1e-5)


def test_eval_transform_resize_then_crop():
    out = eval_transform(56, resize=64)(to_rgb_tensor(np.zeros((256, 256, 3), np.uint8)))
    assert out.shape == (3, 56, 56)


def test_train_transform_is_random_and_seed_reproducible():
    img = to_rgb_tensor(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    tf = train_transform(48)
    torch.manual_seed(0)
    a, b = tf(img), tf(img)
    torch.manual_seed(0)
    a2 = tf(img)
    assert a.shape == (3, 48, 48) and a.dtype == torch.float32
    assert not torch.equal(a, b)
    assert torch.equal(a, a2)


def test_train_transform_crop_keeps_pixels_of_the_source():
    # Without jitter/grayscale/blur a view is a (possibly flipped) window of the image.
    img = to_rgb_tensor(np.random.default_rng(2).integers(0, 256, (20, 20, 3), dtype=np.uint8))
    tf = train_transform(16, jitter_p=0.0, grayscale_p=0.0, blur_p=0.0)
    out = tf(img)
    mean = torch.tensor(IMAGENET_MEAN)[:, None, None]
    std = torch.tensor(IMAGENET_STD)[:, None, None]
    raw = torch.round((out * std + mean) * 255).to(torch.uint8)
    windows = [img[:, y : y + 16, x : x + 16] for y in range(5) for x in range(5)]
    assert any(torch.equal(raw, w) or torch.equal(raw, w.flip(-1)) for w in windows)


def test_transformed_dataset_two_views_share_labels():
    base = _Images()
    ds = TransformedDataset(base, train_transform(48), views=2)
    v1, v2, y = ds[1]
    assert v1.shape == v2.shape == (3, 48, 48)
    assert not torch.equal(v1, v2)
    assert y.dtype == torch.long and y.tolist() == base.labels[1].tolist()
    assert len(ds) == 4
    with pytest.raises(ValueError, match="views"):
        TransformedDataset(base, train_transform(48), views=3)


def test_dataset_labels_follows_wrappers_and_subsets():
    base = _Images(n=6)
    inner = Subset(TransformedDataset(base, eval_transform(32)), [5, 4, 3, 2])
    outer = Subset(inner, [1, 3])
    assert np.array_equal(dataset_labels(outer), base.labels[[4, 2]])
    assert dataset_labels([1, 2, 3]) is None


def test_light_augmentation_and_unknown_strength():
    import pytest as _pytest
    import torch

    from aunce_rt.errors import InputError
    from aunce_rt.training.augment import train_transform

    img = torch.randint(0, 256, (3, 128, 128), dtype=torch.uint8)
    out = train_transform(112, strength="light")(img)
    assert out.shape == (3, 112, 112) and out.dtype == torch.float32
    with _pytest.raises(InputError, match="simclr"):
        train_transform(112, strength="heavy")
