"""The blendshape teacher: the fixed blendshape -> AU mapping and its AUDetector adapter."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from aunce_rt.errors import InputError
from aunce_rt.evaluation.teacher import (
    TEACHER_AUS,
    TEACHER_RULES,
    BlendshapeAUDetector,
    blendshapes_to_aus,
    mapping_table,
    required_blendshapes,
)
from aunce_rt.imageio import read_image

REFERENCE = "reference/mediapipe_blendshapes"


def _neutral(**scores: float) -> dict[str, float]:
    """Every blendshape the mapping reads at 0.02 (a resting face), overridden by ``scores``."""
    shapes = dict.fromkeys(required_blendshapes(), 0.02)
    shapes.update(scores)
    return shapes


def _au(scores: np.ndarray, code: int) -> float:
    return float(scores[TEACHER_AUS.index(code)])


def _reference_rows(shared_data: Path, name: str) -> list[dict[str, str]]:
    with (shared_data / REFERENCE / name).open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_rules_cover_the_twelve_bp4d_aus_in_order() -> None:
    assert TEACHER_AUS == (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
    assert tuple(r.au for r in TEACHER_RULES) == TEACHER_AUS
    assert "mouthSmileLeft" in required_blendshapes() and "_neutral" not in required_blendshapes()
    table = mapping_table()
    assert "| AU12 | mouthSmileLeft, mouthSmileRight |" in table and len(table.splitlines()) == 14


def test_a_smile_scores_au12_high_and_the_brow_lowerer_low() -> None:
    smile = _neutral(mouthSmileLeft=0.85, mouthSmileRight=0.8, eyeSquintLeft=0.5, eyeSquintRight=0.45)
    scores = blendshapes_to_aus(smile)
    assert scores.shape == (12,) and scores.dtype == np.float32
    assert _au(scores, 12) == pytest.approx(0.85)
    assert _au(scores, 4) == pytest.approx(0.02) and _au(scores, 15) == pytest.approx(0.02)
    assert _au(scores, 6) == pytest.approx(0.5)  # eyeSquint stands in for MediaPipe's silent cheekSquint


def test_left_and_right_combine_by_max_so_a_one_sided_movement_counts() -> None:
    scores = blendshapes_to_aus(_neutral(mouthDimpleLeft=0.1, mouthDimpleRight=0.7, browDownLeft=0.6))
    assert _au(scores, 14) == pytest.approx(0.7)
    assert _au(scores, 4) == pytest.approx(0.6)
    # AU06 is the max over cheekSquint and eyeSquint, both sides; AU07 reads eyeSquint only
    scores = blendshapes_to_aus(_neutral(cheekSquintRight=0.9, eyeSquintLeft=0.3))
    assert _au(scores, 6) == pytest.approx(0.9) and _au(scores, 7) == pytest.approx(0.3)


def test_single_name_rules_and_unused_blendshapes() -> None:
    scores = blendshapes_to_aus(_neutral(browInnerUp=0.7, mouthShrugLower=0.4, mouthPucker=0.6, jawOpen=1.0))
    assert _au(scores, 1) == pytest.approx(0.7)
    assert _au(scores, 17) == pytest.approx(0.4)
    assert _au(scores, 23) == pytest.approx(0.6)
    assert _au(scores, 2) == pytest.approx(0.02)  # jawOpen (AU26/27) feeds no BP4D AU


def test_scores_are_clipped_to_the_unit_interval() -> None:
    scores = blendshapes_to_aus(_neutral(mouthSmileLeft=1.2, browDownLeft=-0.1, browDownRight=-0.2))
    assert _au(scores, 12) == 1.0 and _au(scores, 4) == 0.0


def test_missing_blendshapes_raise_a_clear_error() -> None:
    shapes = _neutral()
    del shapes["mouthPressLeft"], shapes["browInnerUp"]
    with pytest.raises(InputError, match=r"browInnerUp.*mouthPressLeft.*face_landmarker\.task"):
        blendshapes_to_aus(shapes)
    with pytest.raises(InputError, match="got 0 names"):
        blendshapes_to_aus({})


def test_the_adapter_rejects_a_missing_task_file_and_bad_thresholds(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"\.task"):
        BlendshapeAUDetector(tmp_path / "nope.task")
    with pytest.raises(InputError, match=r"\.task"):
        BlendshapeAUDetector("facemesh")
    fake = tmp_path / "fake.task"
    fake.write_bytes(b"")
    with pytest.raises(InputError, match="got 3 thresholds"):
        BlendshapeAUDetector(fake, thresholds=[0.5, 0.5, 0.5])
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        BlendshapeAUDetector(fake, thresholds=1.5)


@pytest.mark.shared
def test_every_rule_reads_a_name_mediapipe_outputs(shared_data: Path) -> None:
    header = _reference_rows(shared_data, "images.blendshapes.csv")[0].keys()
    assert set(required_blendshapes()) <= set(header)


@pytest.mark.shared
def test_the_teacher_sees_the_broad_smile_of_single_face_jpg(
    shared_data: Path, landmarker_task: Path
) -> None:
    with BlendshapeAUDetector(landmarker_task) as teacher:
        result = teacher.detect(read_image(shared_data / "images" / "single_face.jpg"))
    assert len(result.faces) == 1
    face = result.faces[0]
    assert face.au_codes == TEACHER_AUS and face.blendshapes is not None
    au12, au04, au15 = face.au(12), face.au(4), face.au(15)
    assert au12 > 0.6, f"AU12 {au12:.3f} on a broad smile"
    assert au12 - max(au04, au15) > 0.4, f"AU12 {au12:.3f} vs AU04 {au04:.3f}, AU15 {au15:.3f}"
    np.testing.assert_array_equal(face.occurrences, face.probabilities >= 0.5)
    # the stored reference (mediapipe 1.2.2) and ours (0.10.x) agree loosely on this image
    row = next(
        r for r in _reference_rows(shared_data, "images.blendshapes.csv") if r["image"] == "single_face.jpg"
    )
    ref = blendshapes_to_aus({k: float(v) for k, v in row.items() if k in required_blendshapes()})
    assert abs(au12 - _au(ref, 12)) < 0.2, (
        f"AU12 {au12:.3f}, from the reference blendshapes {_au(ref, 12):.3f}"
    )


@pytest.mark.shared
def test_au12_follows_the_reference_blendshapes_over_a_video(
    shared_data: Path, landmarker_task: Path
) -> None:
    """single_face.mp4 goes from neutral to a broad smile: our AU12 tracks the reference's frame by frame."""
    import cv2

    rows = _reference_rows(shared_data, "single_face.mp4.blendshapes.csv")
    ref = np.array([float(r["mouthSmileLeft"]) + float(r["mouthSmileRight"]) for r in rows]) / 2
    cap = cv2.VideoCapture(str(shared_data / "video" / "single_face.mp4"))
    ours: list[float] = []
    with BlendshapeAUDetector(landmarker_task, max_faces=1) as teacher:
        for _ in range(0, len(rows), 3):  # every third frame keeps the test short
            ok, frame = cap.read()
            cap.grab(), cap.grab()
            if not ok:
                break
            faces = teacher.detect(frame).faces
            ours.append(faces[0].au(12) if faces else np.nan)
    cap.release()
    ours_a = np.array(ours)
    ref_a = ref[0 : 3 * len(ours_a) : 3]
    keep = np.isfinite(ours_a)
    assert keep.sum() >= 0.8 * len(ours_a)
    r = float(np.corrcoef(ours_a[keep], ref_a[keep])[0, 1])
    assert r > 0.8, f"AU12 vs reference mouthSmile: r = {r:.3f} over {keep.sum()} frames"
