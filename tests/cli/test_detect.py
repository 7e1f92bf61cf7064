"""`aunce-rt detect | webcam | info` with the tiny ONNX model on ../shared/data media."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from aunce_rt.cli.main import app
from tests.cli.helpers import assert_one_line_error, read_rows, run_detect
from tests.tiny_onnx import TINY_AUS, write_tiny_model

runner = CliRunner()


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("m") / "tiny.onnx")


@pytest.mark.parametrize(
    ("video", "frames", "success"),
    [("single_face.mp4", 72, (72, 72)), ("face_noface.mov", 169, (66, 80)), ("no_face.mp4", 95, (0, 0))],
)
def test_detect_videos_one_row_per_decoded_frame(model, shared_data, tmp_path, video, frames, success):
    out = tmp_path / "aus.csv"
    result = run_detect(model, str(shared_data / "video" / video), "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert [int(r["frame"]) for r in rows] == list(range(1, frames + 1))
    ok = sum(r["success"] == "1" for r in rows)
    assert success[0] <= ok <= success[1]
    assert list(rows[0])[-1] == "AU24_c" and len(rows[0]) == 9 + 2 * len(TINY_AUS)
    for r in rows:
        if r["success"] == "0":
            assert r["confidence"] in ("0", "0.0", "0.000") and r["AU12_p"] == "0"  # zeros, as OpenFace
    assert "model: tiny.onnx" in " ".join(result.output.split())


def test_detect_images_of_any_depth_one_file_per_source(model, shared_data, tmp_path):
    images = shared_data / "images"
    names = [
        "openface_sample3_16bit_gray.png",
        "BWPictureHuman.jpg",
        "Image_with_alpha.png",
        "multi_face.jpg",
    ]
    out = tmp_path / "aus.jsonl"
    result = run_detect(model, *(str(images / n) for n in names), "--out", str(out), "--max-faces", "8")
    assert result.exit_code == 0, result.output
    import json

    records = {}
    for i, name in enumerate(names):
        path = tmp_path / f"aus_{i:02d}_{Path(name).stem}.jsonl"
        lines = path.read_text().splitlines()
        assert len(lines) == 1
        records[name] = json.loads(lines[0])
        assert records[name]["source"] == name
    assert len(records["multi_face.jpg"]["faces"]) == 5
    assert len(records["openface_sample3_16bit_gray.png"]["faces"]) >= 1
    assert records["Image_with_alpha.png"]["width"] == 1524


def test_detect_huge_image_and_saved_video(model, shared_data, tmp_path):
    face = cv2.imread(str(shared_data / "images" / "single_face.jpg"))
    big = np.full((6000, 8000, 3), 127, np.uint8)
    big[1000 : 1000 + face.shape[0], 2000 : 2000 + face.shape[1]] = face
    cv2.imwrite(str(tmp_path / "big.jpg"), big)
    out, video = tmp_path / "aus.csv", tmp_path / "annotated.mp4"
    result = run_detect(model, str(tmp_path / "big.jpg"), "--out", str(out), "--save-video", str(video))
    assert result.exit_code == 0, result.output
    assert len(read_rows(out)) >= 1
    cap = cv2.VideoCapture(str(video))
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape == (6000, 8000, 3)


def test_truncated_video_keeps_every_decoded_frame(model, shared_data, tmp_path):
    data = (shared_data / "video" / "openface_changeLighting.wmv").read_bytes()
    broken = tmp_path / "broken.wmv"
    broken.write_bytes(data[: len(data) // 2])
    out = tmp_path / "aus.csv"
    result = run_detect(model, str(broken), "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert 20 < len(rows) < 88
    assert "truncated" in result.output


def test_bad_inputs_are_one_line_errors(model, shared_data, tmp_path):
    out = str(tmp_path / "aus.csv")
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "zero.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("not a video\n" * 100)
    cv2.imwrite(str(tmp_path / "tiny.png"), np.zeros((20, 20, 3), np.uint8))
    cases = [
        (str(tmp_path / "absent.mp4"), "absent.mp4"),
        (str(tmp_path / "empty_dir"), "empty_dir"),
        (str(tmp_path / "zero.mp4"), "0-byte"),
        (str(tmp_path / "text.mp4"), "text.mp4"),
        (str(tmp_path / "tiny.png"), "too small"),
        ("7", "no camera at index 7"),
    ]
    for source, fragment in cases:
        assert_one_line_error(run_detect(model, source, "--out", out), fragment)


def test_bad_models_are_one_line_errors(shared_data, tmp_path):
    video = str(shared_data / "images" / "single_face.jpg")
    out = str(tmp_path / "aus.csv")
    no_meta = write_tiny_model(tmp_path / "no_meta.onnx", metadata=False)
    wrong = write_tiny_model(tmp_path / "wrong.onnx", input_size=112)
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"garbage" * 50)
    for path, fragment in [
        (tmp_path / "absent.onnx", "not found"),
        (corrupt, "corrupt or not an ONNX model"),
        (no_meta, "aunce-rt export CHECKPOINT --out model.onnx"),
        (wrong, "112"),
    ]:
        assert_one_line_error(run_detect(path, video, "--out", out), fragment)


def test_bad_output_paths(model, shared_data, tmp_path):
    image = str(shared_data / "images" / "single_face.jpg")
    assert_one_line_error(
        run_detect(model, image, "--out", str(tmp_path / "missing" / "aus.csv")), "does not exist"
    )
    (tmp_path / "a_file").write_text("x")
    assert_one_line_error(run_detect(model, image, "--out", str(tmp_path / "a_file" / "aus.csv")), "a_file")
    assert_one_line_error(run_detect(model, image, "--out", str(tmp_path)), "is a folder")


def test_ctrl_c_keeps_a_valid_csv(model, shared_data, tmp_path, monkeypatch):
    from aunce_rt.detector import AUDetector

    real = AUDetector.stream_frames

    def interrupted(self, source, **kwargs):
        for n, item in enumerate(real(self, source, **kwargs)):
            if n == 10:
                raise KeyboardInterrupt
            yield item

    monkeypatch.setattr(AUDetector, "stream_frames", interrupted)
    out = tmp_path / "aus.csv"
    result = run_detect(model, str(shared_data / "video" / "single_face.mp4"), "--out", str(out))
    assert result.exit_code == 130, result.output
    rows = read_rows(out)
    assert [int(r["frame"]) for r in rows] == list(range(1, 11))
    assert all(r["AU24_c"] in ("0", "1") for r in rows)
    assert "interrupted" in result.output


def test_webcam_without_display(model, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    result = runner.invoke(app, ["webcam", "--model", str(model)])
    assert_one_line_error(result, "no display available", "aunce-rt detect 0")


def test_webcam_without_camera(model, monkeypatch):
    import aunce_rt.cli.detect as detect_mod

    monkeypatch.setattr(detect_mod, "_require_display", lambda: None)
    result = runner.invoke(app, ["webcam", "--camera", "7", "--model", str(model), "--providers", "cpu"])
    assert_one_line_error(result, "no camera at index 7")


def test_info_prints_metadata_and_providers(model):
    result = runner.invoke(app, ["info", str(model), "--providers", "cpu"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Lip Corner Puller" in text and "AU24" in text and "0.500" in text
    assert "tiny-test" in text and "providers selected: CPUExecutionProvider" in text


def test_info_without_a_model_describes_the_bundled_one():
    result = runner.invoke(app, ["info", "--providers", "cpu"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "default.onnx" in text and "SynthAU" in text and "synthau_runtime_unseen_people" in text


def test_info_refuses_model_without_metadata(tmp_path):
    path = write_tiny_model(tmp_path / "plain.onnx", metadata=False)
    assert_one_line_error(runner.invoke(app, ["info", str(path)]), "no aunce-rt metadata")


def test_multiple_sources_unique_names(model, shared_data, tmp_path):
    seq = shared_data / "image_sequence"
    shutil.copy(seq / "001.jpg", tmp_path / "a.jpg")
    out = tmp_path / "aus.csv"
    result = run_detect(model, str(tmp_path / "a.jpg"), str(tmp_path / "a.jpg"), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "aus_00_a.csv").is_file() and (tmp_path / "aus_01_a.csv").is_file()


def test_webcam_loop_writes_rows_and_stops_on_q(model, shared_data, tmp_path, monkeypatch):
    import aunce_rt.cli.detect as detect_mod
    import aunce_rt.sources

    real_open = aunce_rt.sources.open_source
    opened = []

    def fake_camera(source, **kwargs):  # the camera is a video file here
        assert source == 0
        opened.append(real_open(shared_data / "video" / "single_face.mp4", **kwargs))
        return opened[-1]

    keys = iter([-1, -1, -1, -1, ord("q")])
    shown = []
    monkeypatch.setattr(detect_mod, "_require_display", lambda: None)
    monkeypatch.setattr(aunce_rt.sources, "open_source", fake_camera)
    monkeypatch.setattr(cv2, "imshow", lambda name, image: shown.append(image.shape))
    monkeypatch.setattr(cv2, "waitKey", lambda delay: next(keys))
    monkeypatch.setattr(cv2, "getWindowProperty", lambda name, prop: 1.0)
    monkeypatch.setattr(cv2, "destroyAllWindows", lambda: None)
    out = tmp_path / "live.csv"
    result = runner.invoke(
        app, ["webcam", "--model", str(model), "--providers", "cpu", "--out", str(out), "--smooth", "1"]
    )
    assert result.exit_code == 0, result.output
    assert len(shown) == 5 and "5 frames at" in result.output
    assert [int(r["frame"]) for r in read_rows(out)] == [1, 2, 3, 4, 5]
    with pytest.raises(StopIteration):  # the camera was released
        next(opened[0])


def test_max_faces_that_drops_faces_says_so_once(model, shared_data, tmp_path):
    image = str(shared_data / "images" / "multi_face.jpg")
    out = tmp_path / "aus.jsonl"
    result = run_detect(model, image, image, "--out", str(out), "--max-faces", "2")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert text.count("drops 3") == 1 and "--max-faces" in text, result.output
