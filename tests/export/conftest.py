"""Export fixtures: one tiny model exported once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from aunce_rt.export import ExportResult
from aunce_rt.export.testing import tiny_export


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> None:
    torch.set_num_threads(1)  # the CI box is shared; tests stay on one core


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    """A random-weight 12-AU model exported to fp32 ONNX with the features output."""
    return tiny_export(tmp_path_factory.mktemp("tiny_export"), with_features=True)


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny: ExportResult) -> Path:
    """The checkpoint the tiny export was made from."""
    return tiny.path.parent / "tiny.pt"


@pytest.fixture(scope="session")
def face_crops(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """A folder of 256 px crops of real faces (centre of the OpenFace image sequence)."""
    import cv2

    folder = tmp_path_factory.mktemp("face_crops")
    for i, f in enumerate(sorted((shared_data / "image_sequence").glob("*.jpg"))[:12]):
        image = cv2.imread(str(f))
        h, w = image.shape[:2]
        side = min(h, w) * 3 // 4
        y, x = (h - side) // 2, (w - side) // 2
        cv2.imwrite(str(folder / f"{i:03d}.png"), cv2.resize(image[y : y + side, x : x + side], (256, 256)))
    return folder
