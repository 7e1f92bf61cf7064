"""Crop loading for verification/calibration and the metadata helpers."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from aunce_rt.errors import InputError
from aunce_rt.export._crops import as_crops, folder_crops, list_images, random_crops, to_input_crop
from aunce_rt.export._metadata import licence_note, training_info
from aunce_rt.provenance import git_revision


def test_input_crop_sizes_and_colour_order() -> None:
    bgr = np.zeros((224, 224, 3), np.uint8)
    bgr[..., 0] = 200  # blue in BGR
    rgb = to_input_crop(bgr)
    assert rgb.shape == (224, 224, 3) and rgb[0, 0].tolist() == [0, 0, 200]
    crop256 = np.zeros((256, 256, 3), np.uint8)
    crop256[16:240, 16:240] = 255  # the centre 224 is white, the 16 px border black
    assert to_input_crop(crop256).min() == 255
    assert to_input_crop(np.full((300, 300, 4), 7, np.uint8)).shape == (224, 224, 3)
    grey16 = to_input_crop(np.full((224, 224), 65535, np.uint16))
    assert grey16.dtype == np.uint8 and grey16.min() == 255


def test_folder_and_array_crops(tmp_path: Path) -> None:
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((256, 256, 3), i * 50, np.uint8))
    (tmp_path / "notes.txt").write_text("ignored")
    crops = folder_crops(tmp_path, limit=2)
    assert crops.shape == (2, 224, 224, 3) and crops.dtype == np.uint8 and crops[1].mean() == 50
    assert as_crops(random_crops(3), limit=2).shape == (2, 224, 224, 3)
    with pytest.raises(InputError, match="uint8"):
        as_crops(np.zeros((3, 256, 256, 3), np.uint8))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no images"):
        list_images(empty)
    with pytest.raises(InputError, match="not found"):
        list_images(tmp_path / "missing")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"dataset": "synthau"}, "trained on SynthAU (synthetic rendered faces); not a model of real faces"),
        ({"dataset": "mydata", "synthetic": True}, "trained on mydata; not a model of real faces"),
        ({"dataset": "bp4d"}, "trained on bp4d; the weights carry that dataset's licence"),
        ({"licence_note": "custom", "dataset": "synthau"}, "custom"),
        ({}, "training data not recorded"),
    ],
)
def test_licence_note(extra: dict, expected: str) -> None:
    assert licence_note(extra).startswith(expected)


def test_training_info_and_git_revision(tmp_path: Path) -> None:
    info = training_info(
        {"dataset": "bp4d", "protocol": "bp4d_3fold", "fold": 1, "metrics": {"f1": 1}, "optimizer": 0}
    )
    assert info == {"dataset": "bp4d", "protocol": "bp4d_3fold", "fold": 1}
    assert git_revision(tmp_path) == ""
    rev = git_revision()
    assert rev == "" or re.fullmatch(r"[0-9a-f]{40}(-dirty)?", rev), rev
