"""`aunce_rt.batch.batch_detect`: sources, manifest, verification, resume after SIGKILL, local and Ray engines."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aunce_rt.batch import batch_detect, expand_sources, threads_per_worker
from aunce_rt.batch._manifest import MANIFEST_NAME, ManifestRow, read_manifest, verify_output, write_manifest
from aunce_rt.errors import AunceError, InputError
from tests.conftest import SHARED_VIDEOS
from tests.tiny_onnx import write_tiny_model

ROOT = Path(__file__).resolve().parents[2]
VIDEOS = SHARED_VIDEOS
FRAMES = {"single_face.mp4": 72, "no_face.mp4": 95, "face_noface.mov": 169}  # as `aunce-rt detect` decodes


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("m") / "tiny.onnx")


@pytest.fixture(scope="module")
def sources(shared_data, tmp_path_factory) -> list[str]:
    """The six real videos and a corrupt .mp4 (random bytes)."""
    corrupt = tmp_path_factory.mktemp("bad") / "corrupt.mp4"
    corrupt.write_bytes(os.urandom(4096))
    return [str(shared_data / "video" / v) for v in VIDEOS] + [str(corrupt)]


@pytest.fixture(scope="module")
def local_run(model, sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    return out, batch_detect(sources, out, workers=2, model=model, providers="cpu")


def _outputs(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != MANIFEST_NAME
    }


def test_every_video_has_a_row_and_the_corrupt_one_its_error(local_run, sources):
    out, manifest = local_run
    assert [r.source for r in manifest.rows] == [str(Path(s).resolve()) for s in sources]
    assert len(manifest.ok) == 6 and len(manifest.failed) == 1
    (bad,) = manifest.failed
    assert bad.source.endswith("corrupt.mp4") and bad.error and bad.output == ""
    by_name = {Path(r.source).name: r for r in manifest.rows}
    for name, frames in FRAMES.items():
        assert by_name[name].frames == frames
    assert by_name["no_face.mp4"].faces == 0 and by_name["single_face.mp4"].faces == 1
    stored = read_manifest(out / MANIFEST_NAME)
    assert [dataclass_row for dataclass_row in stored.values()] == list(manifest.rows)
    assert set(_outputs(out)) == {f"{v}.csv" for v in VIDEOS}  # no temporary file left
    for row in manifest.ok:
        assert verify_output(row, out) == "" and row.rows >= row.frames > 0


def test_rerun_keeps_verified_outputs_and_redoes_a_damaged_one(local_run, model, sources, tmp_path, caplog):
    out = tmp_path / "out"
    shutil.copytree(local_run[0], out)
    damaged = out / "openface_default.wmv.csv"
    lines = damaged.read_text().splitlines(keepends=True)
    damaged.write_text("".join(lines[:-5]))  # a file cut short: parses, but too few rows
    manifest = batch_detect(sources, out, workers=1, model=model, providers="cpu")
    reused = {Path(r.source).name for r in manifest.reused}
    assert reused == set(VIDEOS) - {"openface_default.wmv"}
    assert _outputs(out) == _outputs(local_run[0])
    assert (
        "openface_default.wmv: its output is 283 rows / 283 frames, the manifest records 288 / 288"
        in caplog.text
    )


def test_sigkill_mid_batch_then_rerun_finishes_only_the_rest(local_run, model, sources, tmp_path):
    out = tmp_path / "out"
    code = (
        "import sys; from aunce_rt.batch import batch_detect; "
        f"batch_detect(sys.argv[1:-1], sys.argv[-1], workers=1, model={str(model)!r}, providers='cpu', threads=1)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *sources, str(out)], cwd=ROOT, start_new_session=True
    )
    deadline = time.monotonic() + 120
    finished: set[str] = set()
    try:
        while time.monotonic() < deadline and len(finished) < 2:
            assert proc.poll() is None, "the batch ended before it could be killed"
            finished = {s for s, r in read_manifest(out / MANIFEST_NAME).items() if r.status == "ok"}
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its pool worker, mid-video
        proc.wait()
    assert 2 <= len(finished) < 6
    manifest = batch_detect(sources, out, workers=2, model=model, providers="cpu")
    assert {r.source for r in manifest.reused} == finished
    assert len(manifest.ok) == 6 and len(manifest.failed) == 1
    assert _outputs(out) == _outputs(local_run[0])


def test_ray_engine_gives_the_same_outputs(local_run, model, sources, tmp_path):
    ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        manifest = batch_detect(sources, tmp_path, engine="ray", workers=2, model=model, providers="cpu")
    finally:
        ray.shutdown()
    assert [(r.source, r.status, r.frames, r.rows, r.faces) for r in manifest.rows] == [
        (r.source, r.status, r.frames, r.rows, r.faces) for r in local_run[1].rows
    ]
    assert manifest.failed[0].error == local_run[1].failed[0].error
    assert _outputs(tmp_path) == _outputs(local_run[0])


def test_ray_missing_is_a_one_line_error(model, sources, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(AunceError, match=r"pip install \"aunce-rt\[ray\]\""):
        batch_detect(sources[:1], tmp_path, engine="ray", model=model)


def test_sources_folders_globs_lists_and_the_mirrored_tree(tmp_path):
    for rel in ("a/x.mp4", "a/deep/y.mov", "b/x.mp4", "b/notes.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    assert {str(r) for r in expand_sources(tmp_path / "a").values()} == {"x.mp4", "deep/y.mov"}
    assert [str(r) for r in expand_sources(str(tmp_path / "b" / "*")).values()] == ["notes.md", "x.mp4"]
    listing = tmp_path / "list.txt"
    listing.write_text("# study\na/x.mp4\n\nb/x.mp4\n")
    found = expand_sources(listing)  # two x.mp4: the tree below the common folder instead
    assert [str(r) for r in found.values()] == ["a/x.mp4", "b/x.mp4"]
    (tmp_path / "list.csv").write_text("path,site\na/deep/y.mov,1\n")
    assert [str(r) for r in expand_sources([tmp_path / "list.csv", tmp_path / "a"]).values()] == [
        "y.mov",
        "x.mp4",
    ]
    with pytest.raises(InputError, match="not a file, folder or glob"):
        expand_sources([tmp_path / "typo.mp4"])
    with pytest.raises(InputError, match="no video found"):
        expand_sources([str(tmp_path / "none" / "*.mp4")])


def test_verify_output_catches_damage(tmp_path):
    (tmp_path / "v.csv").write_text("frame,face_id\n1,0\n1,1\n2,0\n")
    row = ManifestRow("/v.mp4", "v.csv", "ok", frames=2, rows=3)
    assert verify_output(row, tmp_path) == ""
    assert "rows" in verify_output(ManifestRow("/v.mp4", "v.csv", "ok", frames=3, rows=3), tmp_path)
    (tmp_path / "v.csv").write_text("frame,face_id\n1,0\n1,1\n2")
    assert "truncated" in verify_output(row, tmp_path)
    (tmp_path / "v.jsonl").write_text('{"index": 0}\n{"index": 1\n')
    assert "JSON" in verify_output(ManifestRow("/v.mp4", "v.jsonl", "ok", frames=2, rows=2), tmp_path)
    assert verify_output(ManifestRow("/v.mp4", "gone.csv", "ok", 1, 1), tmp_path).startswith("unreadable")


def test_manifest_round_trip_and_threads(tmp_path):
    rows = [
        ManifestRow("/a, b.mp4", "a, b.mp4.csv", "ok", 10, 12, 2, 1.5, 6.67, "tiny.onnx"),
        ManifestRow("/c.mp4", "", "failed", model="tiny.onnx", error='cannot "open" it'),
    ]
    write_manifest(tmp_path / MANIFEST_NAME, rows)
    assert list(read_manifest(tmp_path / MANIFEST_NAME).values()) == rows
    assert [threads_per_worker(w, cores=8) for w in (1, 2, 3, 16)] == [8, 4, 2, 1]
    with pytest.raises(ValueError, match="status"):
        ManifestRow("/c.mp4", "", "done")


def test_bad_arguments_fail_before_any_work(model, tmp_path):
    with pytest.raises(InputError, match="unknown engine"):
        batch_detect([tmp_path], tmp_path / "o", engine="spark", model=model)
    with pytest.raises(InputError, match="workers"):
        batch_detect([tmp_path], tmp_path / "o", workers=0, model=model)
    with pytest.raises(InputError, match="format"):
        batch_detect([tmp_path], tmp_path / "o", fmt="xml", model=model)


def test_worker_detector_gives_opencv_its_share_of_the_cores():
    import cv2

    from aunce_rt.batch._job import DetectorSpec

    before = cv2.getNumThreads()
    try:
        cv2.setNumThreads(4)
        detector = DetectorSpec(num_threads=1).build()
        detector.close()
        assert cv2.getNumThreads() == 1
    finally:
        cv2.setNumThreads(before)
