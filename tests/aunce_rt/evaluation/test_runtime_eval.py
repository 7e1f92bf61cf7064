"""The end-to-end runtime evaluation (what `aunce-rt demo` runs) on a short SynthAU clip."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from aunce_rt.cli.main import app
from aunce_rt.evaluation.metrics import au_metrics
from aunce_rt.evaluation.runtime_eval import evaluate_clip, render_people_clip, truth_aligned_crops
from aunce_rt.session import AUModelSession
from aunce_rt.sinks import read_au_csv
from tests.tiny_onnx import write_tiny_model


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    out = tmp_path_factory.mktemp("clip") / "clip.mp4"
    return render_people_clip(out, people=2, frames_per_person=12, seed=3)


def test_people_clip_truth_matches_video(clip):
    import cv2

    cap = cv2.VideoCapture(str(clip.video))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    assert n == len(clip.labels) == 24
    assert clip.labels.shape == (24, 12) and clip.intensities.shape == (24, 12)
    assert len(set(clip.identities.tolist())) == 2
    assert not list(clip.video.parent.glob(".clip_parts*"))


def _decode(path) -> list[np.ndarray]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    frames = []
    while (got := cap.read())[0]:
        frames.append(got[1])
    cap.release()
    return frames


def test_people_clip_compresses_each_frame_once(clip, tmp_path):
    # Like a camera's video: the frames of each person are those of a one-person clip
    # rendered straight to mp4, not a decoded clip compressed a second time.
    from aunce_rt.synthau import render_clip

    alone = render_clip(tmp_path / "p0.mp4", identity=int(clip.identities[0]), n_frames=12, seed=3)
    np.testing.assert_array_equal(alone.intensities, clip.intensities[:12])
    np.testing.assert_array_equal(alone.landmarks, clip.landmarks[:12])
    joined, single = _decode(clip.video)[:12], _decode(alone.path)
    assert len(single) == 12
    assert all(np.array_equal(a, b) for a, b in zip(joined, single, strict=True))


def test_evaluate_clip_scores_every_frame(clip, tmp_path):
    model = write_tiny_model(tmp_path / "tiny.onnx")
    report = evaluate_clip(clip, tmp_path / "out", model=model, providers="cpu")
    cols = read_au_csv(report.csv)
    assert len(cols["frame"]) == report.frames == 24  # one row per frame (single face)
    assert report.detection_rate >= 0.9
    assert report.metrics.f1.shape == (12,)
    assert 0.0 <= report.metrics.f1_macro <= 1.0
    assert report.video.stat().st_size > 0 and report.plot.read_bytes()[:4] == b"\x89PNG"
    # The scores are recomputable from the CSV: the runtime's occurrences vs the truth.
    occ = np.stack([cols[f"AU{c:02d}_c"] for c in clip.au_codes], axis=1)
    tp = ((occ == 1) & (clip.labels == 1)).sum(0)
    fp = ((occ == 1) & (clip.labels == 0)).sum(0)
    fn = ((occ == 0) & (clip.labels == 1)).sum(0)
    f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
    np.testing.assert_allclose(report.metrics.f1, f1, atol=1e-6)
    # The same frames aligned with the true landmarks: scored on every frame, recomputable.
    assert report.truth_aligned is not None and report.truth_aligned.f1.shape == (12,)
    session = AUModelSession(model, providers="cpu")
    crops = truth_aligned_crops(clip, session.input_size, session.metadata.color_order)
    assert crops.shape == (24, session.input_size, session.input_size, 3)
    expected = au_metrics(session.run(crops), clip.labels, thresholds=np.asarray(session.metadata.thresholds))
    np.testing.assert_allclose(report.truth_aligned.f1, expected.f1, atol=1e-6)


def test_people_clip_renders_the_identities_asked_for(tmp_path):
    clip = render_people_clip(tmp_path / "c.mp4", identities=[7, 3], frames_per_person=3, seed=0)
    assert clip.identities.tolist() == [7, 7, 7, 3, 3, 3] and clip.landmarks.shape == (6, 68, 2)


def test_demo_command(tmp_path):
    model = write_tiny_model(tmp_path / "tiny.onnx")
    res = CliRunner().invoke(
        app,
        [
            "demo",
            "--out",
            str(tmp_path / "demo"),
            "--model",
            str(model),
            "--people",
            "1",
            "--frames",
            "10",
            "--providers",
            "cpu",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "F1-macro" in res.output and "AU12" in res.output
    assert "predicting every AU present scores F1-macro" in res.output
    for name in ("clip.mp4", "aus.csv", "annotated.mp4", "aus.png"):
        assert (tmp_path / "demo" / name).is_file()


def test_demo_table_says_which_aus_the_clip_lacks():
    from rich.console import Console

    from aunce_rt.cli.demo import f1_table

    labels = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]])  # the third AU never occurs
    probs = np.array([[0.9, 0.2, 0.1], [0.1, 0.8, 0.1], [0.7, 0.3, 0.6], [0.2, 0.1, 0.1]])
    m = au_metrics(probs, labels)
    console = Console(width=200, record=True)
    console.print(f1_table(m, labels, (1, 2, 4)))
    text = console.export_text()
    assert "0 (absent)" in text and "F1-macro, all 3 AUs" in text
    assert f"F1-macro, the 2 AUs in this clip | {m.f1[:2].mean():.3f}" in " ".join(text.split()).replace(
        "│", "|"
    )


def test_demo_bad_inputs_fail_fast_with_one_line(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["demo", "--model", str(tmp_path / "nope.onnx"), "--out", str(tmp_path / "d")])
    assert res.exit_code == 1 and "not found" in " ".join(res.output.split())  # rich wraps lines
    assert not (tmp_path / "d" / "clip.mp4").exists()  # nothing rendered for a missing model
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = runner.invoke(app, ["demo", "--out", str(blocker / "sub")])
    text = " ".join(res.output.split())
    assert res.exit_code == 1 and "cannot create folder" in text and "Traceback" not in text
