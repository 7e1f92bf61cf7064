"""`prepare`: SynthAU frames in BP4D's raw layout -> aligned crops, resumable, no-face frames listed."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from aunce_rt.align import align_face
from aunce_rt.aus import BENCHMARK_AUS
from aunce_rt.cli.main import app
from aunce_rt.datasets.formats import read_manifest
from aunce_rt.datasets.prepare import prepare, read_landmarks
from aunce_rt.errors import InputError
from tests.aunce_rt.datasets.synth_frames import synth_frames, write_bp4d

CODES = BENCHMARK_AUS["bp4d"]
SESSIONS = {("F001", "T1"): 3, ("M011", "T1"): 2, ("F007", "T2"): 2}


@pytest.fixture()
def raw(tmp_path: Path) -> Path:
    root = tmp_path / "BP4D"
    write_bp4d(root, SESSIONS, CODES, landmarks=True)
    (root / "Sequences" / "M011" / "T1" / "0002.npy").unlink()  # a frame without landmarks
    return root


def test_prepare_aligns_with_the_runtime_code_and_resumes(tmp_path: Path, raw: Path) -> None:
    out = tmp_path / "prepared"
    report = prepare(raw, "bp4d", out, landmarks="dataset")
    assert (report.total, report.written, report.skipped) == (7, 6, 0)
    assert report.no_face == ("Sequences/M011/T1/0002.jpg",)
    assert report.no_face_file.read_text().splitlines() == ["Sequences/M011/T1/0002.jpg"]
    crop = cv2.imread(str(out / "crops" / "Sequences" / "F001" / "T1" / "0001.png"))
    frame = synth_frames(7)[0]
    expected, _ = align_face(cv2.imread(str(raw / "Sequences/F001/T1/0001.jpg")), frame.landmarks, size=256)
    assert crop.shape == (256, 256, 3)
    np.testing.assert_array_equal(crop, expected)  # the same crop the runtime's alignment makes
    index = read_manifest(report.manifest, CODES)
    assert len(index) == 6 and index.subjects.count("M011") == 1
    # resume: delete one crop, re-run; only that crop is redone
    (out / "crops" / "Sequences" / "F007" / "T2" / "0001.png").unlink()
    again = prepare(raw, "bp4d", out, landmarks="dataset")
    assert (again.written, again.skipped, len(again.no_face)) == (1, 5, 1)
    assert not list(out.rglob("*.tmp*"))  # atomic writes leave no temporary files


def test_prepare_in_worker_processes_matches_inline(tmp_path: Path, raw: Path) -> None:
    a = prepare(raw, "bp4d", tmp_path / "a", landmarks="dataset", workers=1)
    b = prepare(raw, "bp4d", tmp_path / "b", landmarks="dataset", workers=2)
    assert a.no_face == b.no_face and a.written == b.written
    for p in sorted((tmp_path / "a" / "crops").rglob("*.png")):
        q = tmp_path / "b" / p.relative_to(tmp_path / "a")
        np.testing.assert_array_equal(cv2.imread(str(p)), cv2.imread(str(q)))


def test_landmark_text_formats_and_errors(tmp_path: Path) -> None:
    pts = synth_frames(1)[0].landmarks
    pts_file = tmp_path / "a.pts"
    pts_file.write_text("version: 1\nn_points: 68\n{\n" + "".join(f"{x} {y}\n" for x, y in pts) + "}\n")
    np.testing.assert_allclose(read_landmarks(pts_file), pts)
    bad = tmp_path / "b.txt"
    bad.write_text("1 2\n3 4\n")
    with pytest.raises(InputError, match=r"b.txt: landmarks of shape \(2, 2\)"):
        read_landmarks(bad)


def test_cli_prepare_prints_a_summary(tmp_path: Path, raw: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "train",
            "prepare",
            str(raw),
            "--dataset",
            "bp4d",
            "--out",
            str(tmp_path / "o"),
            "--landmarks",
            "dataset",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "7 frames: 6 aligned now, 0 already done, 1 without a face" in result.output
    bad = CliRunner().invoke(
        app, ["train", "prepare", str(raw), "--dataset", "bp4e", "--out", str(tmp_path / "x")]
    )
    assert bad.exit_code == 1


def test_mediapipe_landmarks_on_real_media(tmp_path: Path, shared_data: Path) -> None:
    """A real face is aligned with MediaPipe; a landscape is listed as no-face, not dropped."""
    frames = tmp_path / "frames"
    frames.mkdir()
    for name in ("single_face.jpg", "free-mountain-vector-01.jpg"):
        image = cv2.imread(str(shared_data / "images" / name))
        cv2.imwrite(str(frames / name), image)  # a copy in tmp, never in the repo
    manifest = frames / "frames.csv"
    header = "path,subject," + ",".join(f"AU{c:02d}" for c in CODES)
    rows = [
        f"{n},s{i},{','.join(['0'] * len(CODES))}"
        for i, n in enumerate(["single_face.jpg", "free-mountain-vector-01.jpg"])
    ]
    manifest.write_text("\n".join([header, *rows]) + "\n")
    report = prepare(frames, "bp4d", tmp_path / "out", manifest=manifest, landmarks="mediapipe")
    assert report.written == 1 and report.no_face == ("free-mountain-vector-01.jpg",)
    crop = cv2.imread(str(tmp_path / "out" / "crops" / "single_face.png"))
    assert crop.shape == (256, 256, 3) and crop.std() > 10


def test_prepare_keeps_disfa_intensities_as_au_r_columns(tmp_path: Path) -> None:
    from aunce_rt.datasets.protocol import load_protocol
    from tests.aunce_rt.datasets.synth_frames import write_image

    codes = load_protocol("disfa").au_codes
    frames = synth_frames(3)
    intensity = np.random.default_rng(1).integers(0, 6, (3, len(codes)))
    raw = tmp_path / "DISFA"
    for k, f in enumerate(frames):
        img = raw / "Images_LeftCamera" / "SN001" / f"{k + 1}.jpg"
        write_image(img, f.image)
        np.save(img.with_suffix(".npy"), f.landmarks)
    for j, code in enumerate(codes):
        lab = raw / "ActionUnit_Labels" / "SN001" / f"SN001_au{code}.txt"
        lab.parent.mkdir(parents=True, exist_ok=True)
        lab.write_text("".join(f"{k + 1},{intensity[k, j]}\n" for k in range(3)))
    report = prepare(raw, "disfa", tmp_path / "prepared", landmarks="dataset")
    assert report.written == 3
    index = read_manifest(report.manifest, codes)
    np.testing.assert_array_equal(index.intensities, intensity.astype(np.float32))
    np.testing.assert_array_equal(index.labels, (intensity >= 2).astype(np.int8))
