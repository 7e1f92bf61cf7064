"""export_onnx: parity with PyTorch, dynamic batch, metadata, the runtime's view, bad input."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from aunce_rt.aus import BENCHMARK_AUS
from aunce_rt.errors import InputError, ModelError, OutputError
from aunce_rt.export import ExportResult, export_onnx
from aunce_rt.export._crops import folder_crops, random_crops
from aunce_rt.export._graph import read_metadata
from aunce_rt.export._verify import run_probs, session
from aunce_rt.export._wrapper import ExportWrapper
from aunce_rt.metadata import METADATA_KEY, ModelMetadata
from aunce_rt.models import load_model
from aunce_rt.provenance import git_revision


def _torch_probs(checkpoint: Path, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    loaded = load_model(checkpoint)
    wrapper = ExportWrapper(loaded.model, with_features=True).eval()
    with torch.no_grad():
        probs, feats = wrapper(torch.from_numpy(crops))
    return probs.numpy(), feats.numpy()


def test_fp32_parity_with_pytorch(tiny: ExportResult, tiny_checkpoint: Path) -> None:
    crops = random_crops(4, seed=123)
    want_p, want_z = _torch_probs(tiny_checkpoint, crops)
    got_p, got_z = session(tiny.path).run(["probs", "features"], {"images": crops})
    print(f"fp32 ORT vs PyTorch: max |dp| {np.abs(got_p - want_p).max():.2e}")
    assert np.abs(got_p - want_p).max() <= 1e-4
    assert np.abs(got_z - want_z).max() <= 1e-4
    assert tiny.parity and tiny.parity[0].max_abs_diff <= 1e-4
    assert want_p.std() > 0.05  # the probe spreads probabilities: parity is not trivially 0.5 vs 0.5


def test_fp32_parity_on_real_face_crops(tiny: ExportResult, tiny_checkpoint: Path, face_crops: Path) -> None:
    crops = folder_crops(face_crops)
    assert crops.shape == (12, 224, 224, 3)
    want, _ = _torch_probs(tiny_checkpoint, crops)
    got = run_probs(session(tiny.path), crops)
    assert np.abs(got - want).max() <= 1e-4


def test_dynamic_batch_and_io(tiny: ExportResult) -> None:
    model = onnx.load(str(tiny.path))
    (inp,) = model.graph.input
    assert inp.name == "images" and inp.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["batch", 224, 224, 3]
    outs = {
        o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in model.graph.output
    }
    c = tiny.metadata.node_dim
    assert outs == {"probs": ["batch", 12], "features": ["batch", 12, c]}
    assert model.opset_import[0].version == 17
    sess = session(tiny.path)
    crops = random_crops(5, seed=7)
    probs5, feats5 = sess.run(None, {"images": crops})
    probs1, _ = sess.run(None, {"images": crops[2:3]})
    assert probs5.shape == (5, 12) and probs5.dtype == np.float32 and probs1.shape == (1, 12)
    assert feats5.shape == (5, 12, c)
    np.testing.assert_allclose(probs1[0], probs5[2], atol=1e-5)  # batch items are independent
    np.testing.assert_allclose(np.linalg.norm(feats5, axis=-1), 1.0, atol=1e-4)


def test_metadata_round_trip(tiny: ExportResult) -> None:
    model = onnx.load(str(tiny.path))
    entries = {p.key: p.value for p in model.metadata_props}
    meta = ModelMetadata.from_json(entries[METADATA_KEY])
    assert meta == read_metadata(model) == tiny.metadata
    assert meta.au_codes == BENCHMARK_AUS["bp4d"] and meta.thresholds == (0.5,) * 12
    assert meta.au_names[0] and meta.color_order == "RGB" and meta.input_size == 224
    assert meta.backbone in ("mobilenetv3_small_100", "resnet18") and meta.node_dim > 0
    assert meta.has_features and meta.precision == "fp32"
    assert meta.licence_note == "random weights for tests; no training data"
    assert meta.training["dataset"] == "none" and meta.training["seed"] == 0
    assert meta.git_revision == git_revision()
    assert datetime.fromisoformat(meta.export_date).utcoffset().total_seconds() == 0
    json.loads(entries[METADATA_KEY])


def test_runtime_session_reads_the_export(tiny: ExportResult, tmp_path: Path) -> None:
    session_mod = pytest.importorskip("aunce_rt.session")
    sess = session_mod.AUModelSession(tiny.path, providers="cpu")
    assert sess.metadata.au_codes == tiny.metadata.au_codes
    crops = random_crops(3, seed=5)
    np.testing.assert_allclose(sess.run(crops), run_probs(session(tiny.path), crops), atol=1e-6)
    bare = onnx.load(str(tiny.path))
    del bare.metadata_props[:]
    onnx.save(bare, str(tmp_path / "bare.onnx"))
    with pytest.raises(ModelError, match="export"):
        session_mod.AUModelSession(tmp_path / "bare.onnx", providers="cpu")


def test_metadata_extra_overrides_checkpoint(tiny_checkpoint: Path, tmp_path: Path) -> None:
    extra = {"dataset": "synthau", "licence_note": "", "metrics": {"f1_macro": 0.42}}
    result = export_onnx(tiny_checkpoint, tmp_path / "m.onnx", metadata_extra=extra, verify=False)
    meta = read_metadata(onnx.load(str(result.path)))
    assert meta.metrics == {"f1_macro": 0.42} and not meta.has_features
    assert "not a model of real faces trained on FACS-coded data" in meta.licence_note
    assert [o.name for o in onnx.load(str(result.path)).graph.output] == ["probs"]


def test_bad_outputs_and_inputs(tiny_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        export_onnx(tiny_checkpoint, tmp_path / "missing" / "m.onnx")
    with pytest.raises(OutputError, match="is a folder"):
        export_onnx(tiny_checkpoint, tmp_path)
    with pytest.raises(InputError, match="precision"):
        export_onnx(tiny_checkpoint, tmp_path / "m.onnx", precision="fp8")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="bad.pt"):
        export_onnx(bad, tmp_path / "m.onnx")
    with pytest.raises(InputError, match="uint8"):
        export_onnx(tiny_checkpoint, tmp_path / "m.onnx", real_crops=np.zeros((2, 224, 224, 3), np.float32))


def test_failed_parity_raises(tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import aunce_rt.export._export as ex

    monkeypatch.setattr(ex, "FP32_TOLERANCE", -1.0)  # any difference (even 0) now fails
    with pytest.raises(ModelError, match="does not reproduce the model"):
        export_onnx(tiny_checkpoint, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
