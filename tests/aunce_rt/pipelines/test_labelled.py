"""`aunce-rt export --labelled`: export, then F1 of fp32 and the variant, evaluated in the pipeline."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from aunce_rt.errors import InputError

pytest.importorskip("torch")


def test_labelled_folder_f1(tmp_path: Path) -> None:
    import torch

    from aunce_rt.export import random_crops
    from aunce_rt.export.testing import tiny_model_checkpoint
    from aunce_rt.pipelines import export_and_evaluate
    from aunce_rt.session import AUModelSession

    torch.set_num_threads(1)
    checkpoint = tiny_model_checkpoint(tmp_path)
    fp32 = export_and_evaluate(checkpoint, tmp_path / "m.onnx").export
    crops = random_crops(10, seed=11)
    labelled = tmp_path / "labelled"
    labelled.mkdir()
    names = [f"{i:03d}.png" for i in range(len(crops))]
    for name, crop in zip(names, crops, strict=True):
        cv2.imwrite(str(labelled / name), crop[:, :, ::-1])  # RGB crop -> BGR file
    # labels = the fp32 model's own decisions: its F1 must be exactly 1 on AUs that occur
    labels = (AUModelSession(fp32.path, providers="cpu").run(crops) >= 0.5).astype(int)
    (labelled / "images.txt").write_text("\n".join(names) + "\n")
    (labelled / "labels.txt").write_text("\n".join(" ".join(map(str, row)) for row in labels) + "\n")
    done = export_and_evaluate(checkpoint, tmp_path / "m16.onnx", labelled=labelled, precision="fp16")
    print(f"F1-macro: {done.f1_macro}")
    assert set(done.f1_macro) == {"fp32", "fp16"} and done.export.precision == "fp16"
    assert done.f1_macro["fp32"] == pytest.approx(labels.any(axis=0).mean(), abs=1e-6)
    assert 0.0 <= done.f1_macro["fp16"] <= 1.0
    assert done.export.fp32_path is not None and not done.export.fp32_path.exists()  # a temporary file
    with pytest.raises(InputError, match="images.txt"):
        export_and_evaluate(checkpoint, tmp_path / "x.onnx", labelled=tmp_path)
    assert not (tmp_path / "x.onnx").exists()  # the folder is read before anything is exported
