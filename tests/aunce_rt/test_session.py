"""AUModelSession: metadata, input checks, batched run, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from aunce_rt.errors import InputError, ModelError
from aunce_rt.providers import CPU, TENSORRT
from aunce_rt.session import AUModelSession
from tests.tiny_onnx import TINY_AUS, tiny_reference


@pytest.fixture(scope="module")
def session(tiny_model):
    return AUModelSession(tiny_model, providers="cpu", num_threads=1)


def test_reads_metadata_and_providers(session):
    assert session.metadata.au_codes == TINY_AUS
    assert session.metadata.thresholds == (0.5,) * 12
    assert session.input_size == 224
    assert session.providers == [CPU]
    assert "tiny.onnx" in session.describe() and "12 AUs" in session.describe()


def test_run_matches_numpy_reference(session):
    rng = np.random.default_rng(1)
    crops = rng.integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
    probs = session.run(crops)
    assert probs.shape == (3, 12) and probs.dtype == np.float32
    np.testing.assert_allclose(probs, tiny_reference(crops), atol=1e-5)
    # batching does not change a crop's result
    np.testing.assert_allclose(session.run(crops[1:2])[0], probs[1], atol=1e-6)


def test_empty_batch_skips_onnxruntime(session, monkeypatch):
    monkeypatch.setattr(session, "_session", None)  # any ORT call would now fail
    out = session.run(np.zeros((0, 224, 224, 3), np.uint8))
    assert out.shape == (0, 12) and out.dtype == np.float32


def test_run_rejects_wrong_crop_shape(session):
    with pytest.raises(InputError, match=r"\(N, 224, 224, 3\)"):
        session.run(np.zeros((1, 112, 112, 3), np.uint8))


def test_model_without_metadata_is_refused(model_without_metadata):
    with pytest.raises(ModelError, match="aunce-rt export CHECKPOINT --out model.onnx") as err:
        AUModelSession(model_without_metadata, providers="cpu")
    assert "no aunce-rt metadata" in str(err.value)


def test_wrong_input_shape_is_refused(model_wrong_input):
    with pytest.raises(ModelError, match=r"input 'images' has shape \['N', 112, 112, 3\]"):
        AUModelSession(model_wrong_input, providers="cpu")


def test_corrupt_file_names_the_path(corrupt_model):
    with pytest.raises(ModelError, match="corrupt.onnx") as err:
        AUModelSession(corrupt_model, providers="cpu")
    assert "corrupt or not an ONNX model" in str(err.value)


def test_missing_and_empty_file(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        AUModelSession(tmp_path / "absent.onnx")
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        AUModelSession(empty)


def test_requested_gpu_falls_back_to_cpu(tiny_model, caplog, monkeypatch):
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers", lambda: [CPU])
    with caplog.at_level("WARNING"):
        s = AUModelSession(tiny_model, providers="cuda")
    assert s.providers == [CPU]
    assert "CUDAExecutionProvider not available" in caplog.text


def test_fp16_request_reads_precision_first(tiny_model, monkeypatch):
    """With TensorRT available, fp16 engines are asked for an fp32 model only."""
    import aunce_rt.session as session_mod

    seen = []
    real_open = session_mod._open_session

    def fake_open(path, providers, num_threads):
        seen.append(providers)
        return real_open(path, [CPU], num_threads)

    monkeypatch.setattr(session_mod, "_open_session", fake_open)
    monkeypatch.setattr("onnxruntime.get_available_providers", lambda: [TENSORRT, CPU])
    AUModelSession(tiny_model, providers="tensorrt", fp16=True)
    assert seen[0] == [CPU]  # metadata read on CPU first
    name, opts = seen[-1][0]
    assert name == TENSORRT and opts["trt_fp16_enable"] is True


def test_outputs_outside_0_1_raise_model_error_per_batch(tiny_model) -> None:
    """Issue 16: NaN or 7.5 is never returned as a probability."""
    session = AUModelSession(tiny_model, "cpu")
    crops = np.zeros((2, 224, 224, 3), np.uint8)
    for bad in (np.nan, 7.5, -0.1):

        class _Fake:
            def run(self, names, feed, bad=bad):
                return [np.full((len(next(iter(feed.values()))), 12), bad, np.float32)]

        session._session = _Fake()
        with pytest.raises(ModelError, match="probabilities in"):
            session.run(crops)
