"""The bundled default model: present, small, self-describing, and as good as its card says."""

from __future__ import annotations

import numpy as np
import pytest

from aunce_rt.detector import DEFAULT_MODEL, AUDetector
from aunce_rt.geometry import GEOMETRY_SPEC
from aunce_rt.session import AUModelSession

MAX_MB = 25


@pytest.fixture(scope="module")
def session() -> AUModelSession:
    assert DEFAULT_MODEL.is_file(), (
        f"the bundled model {DEFAULT_MODEL} is missing; run `aunce-rt train real-faces --install-default`"
    )
    return AUModelSession(DEFAULT_MODEL, providers="cpu")


def test_bundled_model_is_small_and_describes_itself(session):
    assert DEFAULT_MODEL.stat().st_size <= MAX_MB * 1e6
    meta = session.metadata
    assert meta.au_codes == (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
    assert meta.inputs == ("landmarks",) and meta.geometry == GEOMETRY_SPEC
    assert meta.training["recipe"] == "aunce-rt train real-faces"  # made by that command
    # the real faces' licence asks for attribution wherever the model ships
    for credit in ("CC BY 4.0", "10.6084/m9.figshare.5047666", "GRID", "MediaPipe"):
        assert credit in meta.licence_note
    for key in ("synthau_heldout_renders", "synthau_runtime_unseen_people", "reliability_synthau_heldout"):
        assert key in meta.metrics


@pytest.fixture(scope="module")
def fresh(session) -> dict[str, np.ndarray]:
    """The bundled model through AUDetector on 200 fresh SynthAU test-split renders (not the card's)."""
    from aunce_rt.synthau import SynthAU

    data = SynthAU(seed=123, split="test")
    samples = [data.render_sample(i) for i in range(200)]
    k = session.metadata.num_aus
    probs, inten = np.zeros((len(samples), k)), np.full((len(samples), k), np.nan)
    with AUDetector(DEFAULT_MODEL, providers="cpu", max_faces=1) as det:
        for i, s in enumerate(samples):
            faces = det.detect(s.image).faces
            if faces:
                probs[i], inten[i] = faces[0].probabilities, faces[0].intensities
    return {
        "probs": probs,
        "intensities": inten,
        "labels": np.stack([s.labels for s in samples]),
        "truth": 5.0 * np.stack([s.intensities for s in samples]),
    }


def test_bundled_model_reproduces_its_recorded_synthau_auc(session, fresh):
    """Fresh SynthAU test-split renders: mean AUC close to the card's."""
    from aunce_rt.evaluation.metrics import roc_auc

    auc = float(np.nanmean(roc_auc(fresh["probs"], fresh["labels"])))
    recorded = session.metadata.metrics["synthau_heldout_renders"]["mean_auc"]
    assert abs(auc - recorded) < 0.05, (auc, recorded)


def test_bundled_model_has_intensities_as_its_card_says(session, fresh):
    """Every AU has an intensity on 0-5; fresh renders give a mean ICC(3,1) close to the card's."""
    from aunce_rt.evaluation.intensity import intensity_metrics

    meta = session.metadata
    assert meta.intensity_aus == meta.au_codes and meta.intensity_scale == (0.0, 5.0)
    found = np.isfinite(fresh["intensities"]).all(1)
    assert found.mean() > 0.9 and fresh["intensities"][found].min() >= 0 and fresh["intensities"].max() <= 5
    icc = intensity_metrics(fresh["intensities"][found], fresh["truth"][found], meta.au_codes).mean_icc
    recorded = meta.metrics["synthau_heldout_renders"]["intensity"]["mean_icc"]
    assert abs(icc - recorded) < 0.1, (icc, recorded)


def test_default_detector_uses_the_bundled_model():
    with AUDetector(providers="cpu") as det:
        assert det.metadata.uses_landmarks and "default.onnx" in det.describe()
