"""SynthAU on disk: the dataset layout, clips with per-frame truth, and the `aunce-rt data` CLI."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from aunce_rt.errors import OutputError
from aunce_rt.synthau import SynthAU, render_clip, write_dataset


def test_write_dataset_files_parse(tmp_path):
    root = write_dataset(tmp_path / "ds", 5, seed=2, split="test", noise=0.5, frames=True)
    paths = (root / "images.txt").read_text().splitlines()
    labels = np.loadtxt(root / "labels.txt", dtype=int, ndmin=2)
    clean = np.loadtxt(root / "labels_clean.txt", dtype=int, ndmin=2)
    assert len(paths) == 5 and labels.shape == (5, 12) and clean.shape == (5, 12)
    assert set(np.unique(labels)) <= {0, 1} and (labels != clean).any()
    ds = SynthAU(seed=2, split="test", noise=0.5)
    for i, p in enumerate(paths):
        img = cv2.imread(str(root / p))
        assert img is not None and img.shape == (256, 256, 3)
        _, truth, noisy, _ = ds.truth(i)
        assert np.array_equal(clean[i], truth) and np.array_equal(labels[i], noisy)
        assert np.load(root / "landmarks" / f"{i:06d}.npy").shape == (68, 2)
        assert cv2.imread(str(root / "frames" / f"{i:06d}.jpg")).shape == (256, 256, 3)
    with open(root / "manifest.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["path"] for r in rows] == paths
    assert all(int(r["subject"]) >= 1_000_000 for r in rows)
    assert [int(rows[0][f"AU{c:02d}"]) for c in ds.au_codes] == clean[0].tolist()
    meta = json.loads((root / "meta.json").read_text())
    assert (
        meta["seed"] == 2 and meta["split"] == "test" and meta["noise"] == 0.5 and len(meta["au_codes"]) == 12
    )


def test_write_dataset_refuses_an_unwritable_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="--out"):
        write_dataset(blocker / "ds", 2)


def test_clip_decodes_with_matching_truth(tmp_path):
    truth = render_clip(
        tmp_path / "clip.mp4", identity=1_000_003, n_frames=24, fps=24.0, seed=1, size=(320, 240)
    )
    cap = cv2.VideoCapture(str(truth.path))
    frames = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        assert frame.shape == (240, 320, 3)
        frames += 1
    cap.release()
    assert frames == 24
    with open(truth.truth_path) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["frame"]) for r in rows] == list(range(1, 25))
    table = np.array([[int(r[f"AU{c:02d}"]) for c in truth.au_codes] for r in rows])
    assert np.array_equal(table, truth.labels)
    assert truth.landmarks.shape == (24, 68, 2) and truth.poses.shape == (24, 3)
    # Expressions change smoothly: no intensity jumps between consecutive frames.
    assert np.abs(np.diff(truth.intensities, axis=0)).max() < 0.35


def test_cli_synth_and_clip(tmp_path):
    from aunce_rt.cli.main import app

    runner = CliRunner()
    res = runner.invoke(
        app, ["data", "synth", "--out", str(tmp_path / "d"), "--n", "3", "--workers", "1", "--noise", "0.2"]
    )
    assert res.exit_code == 0, res.output
    assert len((tmp_path / "d" / "images.txt").read_text().splitlines()) == 3
    res = runner.invoke(
        app,
        [
            "data",
            "clip",
            "--out",
            str(tmp_path / "c.mp4"),
            "--frames",
            "6",
            "--width",
            "160",
            "--height",
            "120",
        ],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "c.mp4").stat().st_size > 0 and (tmp_path / "c.truth.csv").is_file()
    blocker = tmp_path / "f"
    blocker.write_text("x")
    res = runner.invoke(app, ["data", "synth", "--out", str(blocker / "d"), "--n", "1", "--workers", "1"])
    assert res.exit_code == 1


def _probe_many(folder: str) -> int:
    from pathlib import Path

    from aunce_rt.synthau._io import _prepare_dir

    for _ in range(300):
        _prepare_dir(Path(folder))
    return 300


def test_concurrent_writers_into_one_folder_do_not_race(tmp_path):
    # Clip renders run in parallel processes into one folder; each checks it can write there.
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=3) as pool:
        assert sum(pool.map(_probe_many, [str(tmp_path)] * 3)) == 900
    assert not list(tmp_path.iterdir())  # no probe left behind
