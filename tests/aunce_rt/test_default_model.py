"""The bundled default model: present, small, self-describing, and as good as its card says."""

from __future__ import annotations

import numpy as np
import pytest

from aunce_rt.detector import DEFAULT_MODEL, AUDetector
from aunce_rt.session import AUModelSession

MAX_MB = 25


@pytest.fixture(scope="module")
def session() -> AUModelSession:
    assert DEFAULT_MODEL.is_file(), (
        f"the bundled model {DEFAULT_MODEL} is missing; run `aunce-rt train recipe default`"
    )
    return AUModelSession(DEFAULT_MODEL, providers="cpu")


def test_bundled_model_is_small_and_describes_itself(session):
    assert DEFAULT_MODEL.stat().st_size <= MAX_MB * 1e6
    meta = session.metadata
    assert meta.au_codes == (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
    assert meta.training.get("dataset") == "SynthAU"
    assert "NOT a model of real faces" in meta.licence_note
    assert meta.training["config"]["name"] == "recipe-default"  # made by `aunce-rt train recipe default`
    for key in ("synthau_test_crops", "synthau_runtime_unseen_people", "variants"):
        assert key in meta.metrics


def test_bundled_model_reproduces_its_recorded_crop_f1(session):
    """Fresh SynthAU test-split crops (unseen people): F1 close to the card's test-crop F1.

    The crops are aligned as the model's training crops were (its config's
    ``data.synth_landmarks``: the renderer's landmarks or MediaPipe's).
    """
    from aunce_rt.datasets.synth_source import aligned_synth_crop, landmark_backend
    from aunce_rt.evaluation.metrics import au_metrics
    from aunce_rt.export._crops import to_input_crop
    from aunce_rt.synthau import SynthAU

    meta = session.metadata
    landmarks = meta.training["config"]["data"].get("synth_landmarks", "truth")
    data = SynthAU(seed=123, split="test")
    samples = [data.render_sample(i) for i in range(240)]
    backend = landmark_backend(landmarks, static=True)
    try:
        aligned = [aligned_synth_crop(s.image, s.landmarks, backend)[0] for s in samples]
    finally:
        if backend is not None:
            backend.close()
    crops = np.stack([to_input_crop(crop, meta.input_size) for crop in aligned])
    labels = np.stack([s.labels for s in samples])
    f1 = au_metrics(session.run(crops), labels, np.asarray(meta.thresholds)).f1_macro
    recorded = meta.metrics["synthau_test_crops"]["f1_macro"]
    assert abs(f1 - recorded) < 0.08, (f1, recorded)


def test_default_detector_uses_the_bundled_model():
    with AUDetector(providers="cpu") as det:
        assert det.metadata.backbone and "default.onnx" in det.describe()
