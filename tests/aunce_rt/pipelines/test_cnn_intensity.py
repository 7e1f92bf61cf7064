"""pipelines.cnn_intensity: the ridge head on a CNN's per-AU features, fitted on SynthAU, written in the graph."""

from __future__ import annotations

import numpy as np
import pytest

from aunce_rt.errors import InputError, OutputError
from aunce_rt.export._graph import read_metadata
from aunce_rt.export.testing import tiny_export
from aunce_rt.pipelines.cnn_intensity import fit_cnn_intensity, fit_feature_ridge
from aunce_rt.session import AUModelSession, bundled_model


def test_ridge_recovers_a_per_au_linear_map():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3, 5))
    w, b = rng.normal(size=(3, 5)), np.array([1.0, 2.0, 3.0])
    y = np.einsum("nkc,kc->nk", x, w) + b
    head = fit_feature_ridge(x, y, alpha=1e-6)
    np.testing.assert_allclose(head.weights, w, atol=1e-4)
    np.testing.assert_allclose(head.bias, b, atol=1e-4)
    # each AU reads only its own feature: AU 0's target does not leak from AU 1's channels
    y2 = y.copy()
    y2[:, 0] = x[:, 1, 0]
    assert np.abs(fit_feature_ridge(x, y2, alpha=1e-6).weights[0]).max() < 0.2
    with pytest.raises(ValueError, match=r"\(S, K, C\)"):
        fit_feature_ridge(x[:, 0], y, 1.0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    return tiny_export(tmp_path_factory.mktemp("cnn_int"), with_features=False)


def test_fit_writes_a_model_with_intensities_and_records_how(tiny, tmp_path):
    out = tmp_path / "int.onnx"
    res = fit_cnn_intensity(tiny.path, out, renders=48, heldout=48, alphas=(1.0, 100.0))
    assert res.path == out and res.alpha in (1.0, 100.0) and set(res.validation_icc) == {1.0, 100.0}
    meta = read_metadata(out)
    assert meta.intensity_aus == meta.au_codes
    assert meta.training["intensity"]["alpha"] == res.alpha
    recorded = meta.metrics["intensity_heldout_renders"]
    assert (
        recorded["mean_icc"] == pytest.approx(res.heldout["mean_icc"])
        and recorded["people"] == "odd identities"
    )
    probs, inten = AUModelSession(out, providers="cpu").run_with_intensities(
        np.zeros((2, meta.input_size, meta.input_size, 3), np.uint8)
    )
    assert inten.shape == probs.shape and np.isfinite(inten).all()

    with pytest.raises(OutputError, match="already exists"):
        fit_cnn_intensity(tiny.path, out, renders=8, heldout=48)
    with pytest.raises(InputError, match="already has intensities"):
        fit_cnn_intensity(out, tmp_path / "again.onnx", renders=8, heldout=48)
    with pytest.raises(InputError, match="not an image-only model"):
        fit_cnn_intensity(bundled_model("default"), tmp_path / "geo.onnx", renders=8, heldout=48)
    with pytest.raises(InputError, match="at least"):
        fit_cnn_intensity(tiny.path, tmp_path / "few.onnx", renders=1, heldout=48)


def test_bundled_synthau_model_has_intensities_as_its_metadata_says():
    """Fresh held-out renders (other samples than the fit's) through the bundled graph: ICC near the record."""
    from aunce_rt.evaluation.intensity import intensity_metrics
    from aunce_rt.export._feature_intensity import feature_tensor
    from aunce_rt.export._graph import load_model_proto
    from aunce_rt.synthau import SynthAU, aligned_crop

    path = bundled_model("synthau")
    meta = read_metadata(path)
    assert meta.intensity_aus == meta.au_codes and meta.intensity_scale == (0.0, 5.0)
    assert feature_tensor(load_model_proto(path))  # still a CNN with its per-AU features
    from aunce_rt.export._crops import to_input_crop

    gen = SynthAU(seed=5, split="test")
    crops = np.stack([to_input_crop(aligned_crop(gen.render_sample(i)), meta.input_size) for i in range(300)])
    truth = np.stack([5 * np.asarray(gen.truth(i)[3]) for i in range(300)])
    _, inten = AUModelSession(path, providers="cpu").run_with_intensities(crops)
    icc = intensity_metrics(inten, truth, meta.au_codes).mean_icc
    recorded = meta.metrics["intensity_heldout_renders"]["mean_icc"]
    assert abs(icc - recorded) < 0.1, (icc, recorded)


def _prepared_benchmark(root, codes, subjects: int = 6, per_subject: int = 10, with_intensity: bool = True):
    """A prepared-manifest folder of SynthAU crops (one render identity per 'subject') with AUxx_r columns."""
    import cv2

    from aunce_rt.datasets.formats import write_manifest
    from aunce_rt.datasets.index import AUIndex
    from aunce_rt.synthau import SynthAU, aligned_crop

    gen = SynthAU(seed=3, split="test", au_codes=codes)
    paths, subs, inten = [], [], []
    for i in range(subjects * per_subject):
        path = root / "crops" / f"{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), aligned_crop(gen.render_sample(i)))
        paths.append(str(path))
        subs.append(f"S{i % subjects}")
        inten.append(5 * np.asarray(gen.truth(i)[3]))
    inten = np.array(inten, np.float32)
    inten[0, 0] = np.nan  # one frame not coded for the first AU
    labels = np.where(np.isnan(inten), -1, inten >= 2).astype(np.int8)
    index = AUIndex(tuple(paths), labels, tuple(subs), codes, intensities=inten if with_intensity else None)
    return write_manifest(index, root / "manifest.csv", root=root)


def test_fit_on_a_prepared_intensity_benchmark(tiny, tmp_path):
    codes = read_metadata(tiny.path).au_codes
    manifest = _prepared_benchmark(tmp_path / "prepared", codes)
    out = tmp_path / "bench_int.onnx"
    res = fit_cnn_intensity(tiny.path, out, data=manifest, alphas=(10.0,))
    meta = read_metadata(out)
    assert meta.intensity_aus == codes and meta.training["intensity"]["subjects"] == {
        "fit": 4,
        "choose": 1,
        "report": 1,
    }
    assert (
        "intensity_heldout_subjects" in meta.metrics and res.train_samples == 40 and res.heldout_samples == 20
    )
    plain = _prepared_benchmark(
        tmp_path / "occurrence", codes, subjects=3, per_subject=2, with_intensity=False
    )
    with pytest.raises(InputError, match="no intensity columns"):
        fit_cnn_intensity(tiny.path, tmp_path / "x.onnx", data=plain)
