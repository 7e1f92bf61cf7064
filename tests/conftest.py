"""Shared fixtures: paths to ../shared test media and models (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"
SHARED_MODELS = SHARED / "models"
# every video of ../shared/data/video (the batch tests run them all)
SHARED_VIDEOS = (
    "single_face.mp4",
    "openface_default.wmv",
    "openface_changeLighting.wmv",
    "face_noface.mov",
    "noface_face.mov",
    "no_face.mp4",
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip: a user's clone has no ../shared (CI has it)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data not found at {SHARED_DATA} (only CI and developers have it)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_models() -> Path:
    """../shared/models (third-party model files, never copied into the repo), or skip."""
    if not SHARED_MODELS.is_dir():
        pytest.skip(f"../shared/models not found at {SHARED_MODELS} (only CI and developers have it)")
    return SHARED_MODELS
