"""Tests of aunce_rt.overlay.draw_overlay."""

from __future__ import annotations

import numpy as np

from aunce_rt.aus import AUS
from aunce_rt.overlay import draw_overlay, face_colour
from aunce_rt.results import FaceResult, FrameResult


def _face(
    face_id: int, box: tuple[float, float, float, float], probs: np.ndarray, codes: tuple[int, ...]
) -> FaceResult:
    x1, y1, x2, y2 = box
    grid = np.stack(np.meshgrid(np.linspace(x1 + 10, x2 - 10, 10), np.linspace(y1 + 10, y2 - 10, 10)), -1)
    return FaceResult(
        face_id=face_id,
        box=np.array(box, np.float32),
        landmarks=grid.reshape(-1, 2).astype(np.float32),
        confidence=0.9,
        au_codes=codes,
        probabilities=probs.astype(np.float32),
        occurrences=probs >= 0.5,
    )


def _result(*faces: FaceResult) -> FrameResult:
    return FrameResult(index=0, timestamp=0.0, faces=tuple(faces), width=640, height=480)


def _panel_changed(before: np.ndarray, after: np.ndarray) -> bool:
    return bool(np.any(before[20:200, 10:150] != after[20:200, 10:150]))


def test_draws_box_panel_and_fps_without_touching_input() -> None:
    image = np.full((480, 640, 3), 128, np.uint8)
    original = image.copy()
    face = _face(0, (400, 150, 560, 330), np.array([0.1, 0.9, 0.6]), (1, 6, 12))
    out = draw_overlay(image, _result(face), fps=29.97)
    np.testing.assert_array_equal(image, original)
    assert out.shape == image.shape and out.dtype == np.uint8 and out is not image
    assert tuple(out[240, 400]) == face_colour(0)  # left edge of the box
    assert np.array_equal(out[240, 480], original[240, 480])  # box interior untouched
    assert _panel_changed(original, out)
    assert np.any(out[5:30, 540:640] != original[5:30, 540:640])  # FPS text, top right
    # the occurring AUs' bars use the face colour, the other one is grey
    panel = out[:200, :200].reshape(-1, 3)
    assert np.any(np.all(panel == face_colour(0), axis=1))
    assert np.any(np.all(panel == (150, 150, 150), axis=1))


def test_no_fps_text_when_fps_is_none() -> None:
    image = np.full((480, 640, 3), 128, np.uint8)
    out = draw_overlay(image, _result(_face(0, (200, 150, 300, 270), np.array([0.5]), (12,))))
    np.testing.assert_array_equal(out[5:30, 540:640], image[5:30, 540:640])


def test_landmarks_drawn_only_when_asked() -> None:
    image = np.zeros((480, 640, 3), np.uint8)
    face = _face(1, (300, 100, 500, 300), np.array([0.2, 0.3]), (1, 2))
    x, y = (int(round(v)) for v in face.landmarks[0])
    assert not np.any(draw_overlay(image, _result(face))[y, x])
    assert tuple(draw_overlay(image, _result(face), show_landmarks=True)[y, x]) == face_colour(1)


def test_zero_faces_returns_annotated_copy() -> None:
    image = np.full((480, 640, 3), 60, np.uint8)
    out = draw_overlay(image, _result(), fps=10.0)
    assert out is not image and out.shape == image.shape
    assert np.any(out[:40, :120] != 60)  # "no face"
    np.testing.assert_array_equal(out[100:, :], image[100:, :])


def test_many_aus_and_faces_fit_the_frame() -> None:
    codes = tuple(AUS)  # 20 AUs
    rng = np.random.default_rng(0)
    image = np.zeros((240, 320, 3), np.uint8)
    faces = [_face(i, (20 + 60 * i, 150, 70 + 60 * i, 200), rng.random(len(codes)), codes) for i in range(5)]
    out = draw_overlay(image, _result(*faces), fps=5.0)
    assert out.shape == image.shape
    # the last AU row of the first panel is drawn inside the frame
    assert np.any(out[200:236, 10:100] != 0)


def test_group_shot_panels_keep_off_the_faces() -> None:
    """Five faces across the top half of a 1280x720 frame: no AU panel may cover a face."""
    import aunce_rt.overlay as overlay

    codes = tuple(sorted(AUS))[:12]
    probs = np.linspace(0.1, 0.9, len(codes))
    faces = [_face(i, (40 + 250 * i, 60, 200 + 250 * i, 260), probs, codes) for i in range(5)]
    image = np.full((720, 1280, 3), 128, np.uint8)
    marked = image.copy()
    for f in faces:  # paint each face white; after the overlay the face areas must be untouched
        x1, y1, x2, y2 = (int(v) for v in f.box)
        marked[y1 + 8 : y2 - 8, x1 + 8 : x2 - 8] = 255
    out = overlay.draw_overlay(marked, _result(*faces))
    darkened = 0
    for f in faces:
        x1, y1, x2, y2 = (int(v) for v in f.box)
        inner = out[y1 + 8 : y2 - 8, x1 + 8 : x2 - 8]
        darkened += int((inner < 200).all(-1).sum())
    assert darkened == 0
    assert not np.array_equal(out[300:, :], marked[300:, :])  # the panels went somewhere below


def test_intensity_strip_only_where_the_model_has_one() -> None:
    image = np.full((480, 640, 3), 90, np.uint8)
    probs, codes = np.array([0.0, 0.0]), (1, 12)
    plain = _face(0, (400, 150, 560, 330), probs, codes)
    old = draw_overlay(image, _result(plain))
    np.testing.assert_array_equal(old, draw_overlay(image, _result(plain)))  # NaN intensities: no strip
    rated = FaceResult(**{**plain.__dict__, "intensities": np.array([5.0, np.nan], np.float32)})
    new = draw_overlay(image, _result(rated))
    changed = np.argwhere((old != new).any(-1))
    assert len(changed) and (new[changed[:, 0], changed[:, 1]] == 255).all()  # white strip pixels only
    rows = changed[:, 0]
    assert rows.max() - rows.min() < 20, "one AU row (AU01) changes, not AU12's"
