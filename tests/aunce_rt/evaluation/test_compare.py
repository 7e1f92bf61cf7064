"""Several models scored on the same labelled data: the before/after table of `aunce-rt adapt --eval`."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from aunce_rt.errors import InputError
from aunce_rt.evaluation.compare import format_comparison, score_models
from aunce_rt.evaluation.images import score_images
from tests.tiny_onnx import write_tiny_model


def _report(probs: list[list[float]], codes=(4, 12)):
    labels = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    return score_images(np.array(probs), labels, np.ones(4, bool), [0.5, 0.5], codes)


def test_the_table_has_each_models_f1_and_auc_per_au_and_the_means() -> None:
    perfect = _report([[0.9, 0.1], [0.1, 0.9], [0.8, 0.7], [0.2, 0.3]])
    wrong = _report([[0.1, 0.9], [0.9, 0.1], [0.2, 0.3], [0.8, 0.7]])
    rows = [line.split() for line in format_comparison({"before": wrong, "after": perfect}).splitlines()]
    assert rows[0] == ["AU", "F1", "before", "F1", "after", "AUC", "before", "AUC", "after"]
    assert rows[1] == ["AU04", "0.0", "100.0", "0.000", "1.000"]
    assert rows[3] == ["mean", "0.0", "100.0", "0.000", "1.000"]
    assert rows[4] == ["faces", "found", "100.0", "100.0"]
    with pytest.raises(InputError, match="different AUs"):
        format_comparison({"a": perfect, "b": _report([[0.5, 0.5]] * 4, codes=(1, 2))})


def test_models_are_scored_on_the_same_labelled_images(tmp_path: Path, shared_data: Path) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    shutil.copy(shared_data / "images" / "single_face.jpg", folder / "a.jpg")
    shutil.copy(shared_data / "images" / "openface_sample1.jpg", folder / "b.jpg")
    (folder / "labels.csv").write_text("image,AU12,AU04\na.jpg,1,0\nb.jpg,0,1\n")
    one = write_tiny_model(tmp_path / "one.onnx")
    reports = score_models({"one": one, "again": one}, folder, work=tmp_path / "w")
    assert list(reports) == ["one", "again"] and reports["one"].au_codes == (4, 12)
    assert reports["one"].found.all() and np.array_equal(
        reports["one"].probabilities, reports["again"].probabilities
    )
    with pytest.raises(InputError, match="at least one model"):
        score_models({}, folder, work=tmp_path / "w")
