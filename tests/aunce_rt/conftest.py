"""Runtime fixtures: the tiny ONNX models of tests/tiny_onnx.py, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tiny_onnx import write_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid tiny aunce-rt model (12 BP4D AUs)."""
    return write_tiny_model(tmp_path_factory.mktemp("models") / "tiny.onnx")


@pytest.fixture(scope="session")
def model_without_metadata(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model without its aunce-rt metadata entry."""
    return write_tiny_model(tmp_path_factory.mktemp("models") / "no_meta.onnx", metadata=False)


@pytest.fixture(scope="session")
def model_wrong_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model taking 112x112 crops while its metadata promises 224."""
    return write_tiny_model(tmp_path_factory.mktemp("models") / "wrong_input.onnx", input_size=112)


@pytest.fixture(scope="session")
def corrupt_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Bytes that are not an ONNX model."""
    path = tmp_path_factory.mktemp("models") / "corrupt.onnx"
    path.write_bytes(b"this is not a protobuf \x00\x01\x02" * 10)
    return path


@pytest.fixture(scope="session")
def landmarker_task(shared_data: Path) -> Path:
    """../shared/models/face_landmarker.task, or skip."""
    path = shared_data.parent / "models" / "face_landmarker.task"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path
