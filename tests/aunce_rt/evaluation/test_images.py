"""Scoring a model on a labelled image folder: reading, preparation, metrics, missed faces."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from aunce_rt.errors import InputError
from aunce_rt.evaluation.images import (
    ImagePrep,
    evaluate_images,
    plot_image_eval,
    read_labelled_images,
)


@dataclass
class _Face:
    confidence: float
    probabilities: np.ndarray


@dataclass
class _Result:
    faces: tuple


class _FakeDetector:
    """Probabilities read from the image's mean grey level; no face on black images."""

    au_codes = (1, 12, 99)
    thresholds = np.array([0.6, 0.3, 0.5])

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def detect(self, frame: np.ndarray) -> _Result:
        self.shapes.append(frame.shape)
        level = float(frame.mean()) / 255
        if level == 0:
            return _Result(())
        weak = _Face(0.1, np.array([0.0, 0.0, 0.0]))
        return _Result((weak, _Face(0.9, np.array([level, 1 - level, 0.5]))))


def _folder(tmp_path: Path, levels: list[int], rows: list[str]) -> Path:
    for i, level in enumerate(levels):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((40, 48), level, np.uint8))
    text = "image,AU12,AU01,AU04\n" + "\n".join(f"{i}.png,{r}" for i, r in enumerate(rows))
    (tmp_path / "labels.csv").write_text(text + "\n")
    return tmp_path


def test_scores_the_most_confident_face_and_zero_for_missed_faces(tmp_path: Path) -> None:
    # levels 200, 150, 100, 0 (no face); AU01 positive on the bright ones, AU12 on the dark ones
    folder = _folder(tmp_path, [200, 150, 100, 0], ["0,1,0", "0,1,", "1,0,1", "1,0,0"])
    data = read_labelled_images(folder)
    assert data.au_codes == (12, 1, 4) and data.labels[1, 2] == -1
    det = _FakeDetector()
    report = evaluate_images(det, data, ImagePrep(grey=True, upscale=4, border=0.25))
    assert det.shapes[0] == (240, 288, 3)  # 40x48 -> x4 -> + a quarter of the side on each edge
    assert report.au_codes == (1, 12)  # the model's order; AU04 is not predicted, AU99 not labelled
    assert report.found.tolist() == [True, True, True, False]
    np.testing.assert_allclose(report.probabilities[3], 0.0)  # a missed face scores 0
    assert report.auc[0] == 1.0  # AU01: 200, 150 > 100, 0
    # AU12 scores 1 - level: 0.22, 0.41, 0.61 and 0 for the missed (positive) face
    assert report.auc[1] == pytest.approx(0.5)
    assert report.f1[0] == pytest.approx(2 / 3)  # AU01 at 0.6: of 0.78 and 0.59 only 0.78 passes
    assert report.f1_best[0] == 1.0 and report.best_threshold[0] == pytest.approx(150 / 255)
    assert report.base_rate.tolist() == [0.5, 0.5]
    summary = report.to_dict()
    assert summary["faces_found"] == 3 and summary["per_au"]["AU01"]["auc"] == 1.0
    json.dumps(summary)
    assert "faces found 3/4" in report.format_table()
    png = plot_image_eval({"fake": report}, tmp_path / "plot.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_bad_labels_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="labels CSV"):
        read_labelled_images(tmp_path)
    (tmp_path / "labels.csv").write_text("file,AU01\na.png,1\n")
    with pytest.raises(InputError, match="no 'image' column"):
        read_labelled_images(tmp_path)
    (tmp_path / "labels.csv").write_text("image,AU01\na.png,yes\n")
    with pytest.raises(InputError, match="row 2, AU01"):
        read_labelled_images(tmp_path / "labels.csv")
    (tmp_path / "labels.csv").write_text("image,AU01\na.png,1\n")
    with pytest.raises(InputError, match="none is shared"):

        class _Other(_FakeDetector):
            au_codes = (6,)

        evaluate_images(_Other(), read_labelled_images(tmp_path))
    with pytest.raises(InputError, match="upscale"):
        ImagePrep(upscale=0)
