"""pipelines.real_faces: the real-face recipe end to end on a few faces (needs ../shared)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from aunce_rt.errors import InputError
from aunce_rt.evaluation.calibration import reliability
from aunce_rt.pipelines.real_faces import RealFaceConfig, RealFaceSources, run_real_face_recipe


def test_reliability_bins_and_ece():
    probs = np.array([[0.1], [0.1], [0.9], [0.9]])
    labels = np.array([[0], [0], [1], [1]])
    curve = reliability(probs, labels, bins=10)
    assert [b["count"] for b in curve["bins"]] == [2, 2]
    assert curve["ece"] == pytest.approx(0.1)
    assert reliability(probs, np.array([[1], [1], [0], [0]]))["ece"] == pytest.approx(0.9)


def test_missing_sources_name_the_flag(tmp_path):
    sources = RealFaceSources(tmp_path / "f", tmp_path / "v", tmp_path / "t.task", tmp_path / "m.onnx")
    with pytest.raises(InputError, match="--faces"):
        sources.check()


def test_small_recipe_makes_a_model_the_runtime_runs(tmp_path, shared_data):
    task = shared_data.parent / "models" / "face_landmarker.task"
    if not task.is_file():
        pytest.skip(f"{task} not found")
    faces = tmp_path / "faces" / "neutral"
    faces.mkdir(parents=True)
    for p in sorted((shared_data / "faces_cc" / "london" / "neutral").glob("*.jpg"))[:12]:
        shutil.copy(p, faces / p.name)
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(sorted((shared_data / "video_cc" / "grid").glob("*.mpg"))[0], videos)
    sources = RealFaceSources(tmp_path / "faces", videos, task, appearance_model=None)
    cfg = RealFaceConfig(
        synth_n=100,
        heldout_n=100,
        video_stride=25,
        clip_people=1,
        clip_frames=8,
        workers=1,
        align_neutral=False,
    )
    out = tmp_path / "run"
    res = run_real_face_recipe(sources, out, cfg, install_to=tmp_path / "installed.onnx")
    assert res.installed == tmp_path / "installed.onnx" and res.installed.is_file()
    summary = json.loads((out / "recipe_result.json").read_text())
    assert summary["training"]["real_faces"] == 12 + 3  # 12 photos + frames 0, 25, 50 of the clip
    assert (out / "MODEL_CARD.md").read_text().count("CC BY 4.0") >= 1
    assert "## Intensity (`AUxx_r`, 0-5)" in (out / "MODEL_CARD.md").read_text()
    inten = summary["metrics"]["synthau_runtime_unseen_people"]["intensity"]
    assert set(inten["per_au"]) == {f"AU{c:02d}" for c in summary["au_codes"]} and inten["samples"] == 8
    assert summary["training"]["intensity"]["alpha"] in (0.01, 0.1, 1.0, 10.0)
    assert (out / "reliability.png").is_file()

    from aunce_rt.detector import AUDetector
    from aunce_rt.imageio import read_image

    with AUDetector(res.model, providers="cpu") as det:
        assert det.metadata.inputs == ("landmarks",)
        face = det.detect(read_image(sorted(faces.glob("*.jpg"))[0])).faces[0]
    assert face.probabilities.shape == (12,) and np.isfinite(face.probabilities).all()
    assert det.intensity_codes == tuple(summary["au_codes"])
    assert np.isfinite(face.intensities).all() and 0 <= face.intensities.min() <= face.intensities.max() <= 5
    # a second run reads every cached feature file and refits to the same head
    again = run_real_face_recipe(sources, out, cfg)
    np.testing.assert_allclose(
        again.metrics["synthau_heldout_renders"]["mean_auc"],
        res.metrics["synthau_heldout_renders"]["mean_auc"],
    )
    # the MLP head on the same cached features: a graph the runtime runs, described as such
    shutil.copytree(out / "cache", tmp_path / "mlp" / "cache")
    mlp = run_real_face_recipe(sources, tmp_path / "mlp", cfg.model_copy(update={"head": "mlp"}))
    with AUDetector(mlp.model, providers="cpu") as det:
        assert det.metadata.encoder == "geometry-mlp"
        face = det.detect(read_image(sorted(faces.glob("*.jpg"))[0])).faces[0]
    assert np.isfinite(face.probabilities).all() and np.isfinite(face.intensities).all()
    assert "hidden layer of 256 ReLU units" in (tmp_path / "mlp" / "MODEL_CARD.md").read_text()


def test_mlp_head_refuses_appearance_and_regions(tmp_path):
    for name in ("f", "v", "t.task"):
        (tmp_path / name).mkdir()
    sources = RealFaceSources(tmp_path / "f", tmp_path / "v", tmp_path / "t.task")
    for update in ({"regions": True}, {"appearance": True}):
        cfg = RealFaceConfig(head="mlp", **update)
        with pytest.raises(InputError, match="MLP head reads the whole face's geometry only"):
            run_real_face_recipe(sources, tmp_path / "run", cfg)
