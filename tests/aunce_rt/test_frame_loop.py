"""Tests of aunce_rt.process, the one frame loop: sinks, video, callback, stride, release."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

import aunce_rt
from aunce_rt.detector import AUDetector
from aunce_rt.errors import InputError
from aunce_rt.frame_loop import process
from aunce_rt.results import FrameResult
from aunce_rt.sinks import CSVSink, JSONLSink, VideoSink, read_au_csv
from aunce_rt.sources import open_source


@pytest.fixture(scope="module")
def detector(tiny_model):
    with AUDetector(tiny_model, providers="cpu", num_threads=1) as det:
        yield det


@pytest.fixture
def sequence(shared_data: Path) -> Path:
    return shared_data / "image_sequence"


class _Recorder:
    """A sink keeping what it was given and whether it was closed."""

    def __init__(self) -> None:
        self.indices: list[int] = []
        self.closed = 0

    def write(self, result: FrameResult) -> None:
        self.indices.append(result.index)

    def close(self) -> None:
        self.closed += 1


def test_process_is_exported_from_the_package():
    assert aunce_rt.process is process


def test_every_result_reaches_every_sink_video_and_callback(detector, sequence, tmp_path):
    recorder = _Recorder()
    seen: list[tuple[int, int]] = []
    csv_sink = CSVSink(tmp_path / "aus.csv", detector.au_codes)
    jsonl_sink = JSONLSink(tmp_path / "aus.jsonl")
    results = list(
        process(
            sequence,
            detector,
            [csv_sink, jsonl_sink, recorder],
            video=tmp_path / "annotated.mp4",
            on_frame=lambda frame, result: seen.append((frame.index, result.index)),
        )
    )
    assert [r.index for r in results] == list(range(30))
    assert recorder.indices == list(range(30)) and recorder.closed == 1
    assert seen == [(i, i) for i in range(30)]
    columns = read_au_csv(tmp_path / "aus.csv")
    assert columns["frame"].tolist() == [float(i + 1) for i in range(30)]
    assert len((tmp_path / "aus.jsonl").read_text().splitlines()) == 30
    cap = cv2.VideoCapture(str(tmp_path / "annotated.mp4"))
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    assert frames == 30


def test_stride_keeps_every_nth_frame_and_the_video_rate(detector, shared_data, tmp_path):
    video = shared_data / "video" / "single_face.mp4"
    src = open_source(video, stride=8)
    fps = src.fps
    results = list(process(src, detector, video=tmp_path / "v.mp4", stride=8))
    assert [r.index for r in results] == list(range(0, 72, 8))
    cap = cv2.VideoCapture(str(tmp_path / "v.mp4"))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(fps / 8, rel=0.01)
    cap.release()


def test_a_stride_contradicting_an_opened_source_is_refused(detector, sequence):
    src = open_source(sequence, stride=2)
    with pytest.raises(
        InputError, match=r"stride=3 .* already open with stride 2.*open_source\(source, stride=3\)"
    ):
        next(process(src, detector, stride=3))
    with pytest.raises(StopIteration):  # the refused source was released
        next(src)


def test_leaving_the_loop_early_releases_source_video_and_sinks(detector, sequence, tmp_path):
    src = open_source(sequence)
    recorder = _Recorder()
    video = VideoSink(tmp_path / "v.mp4", fps=10)
    loop = process(src, detector, [recorder], video=video)
    for n, _ in enumerate(loop):
        if n == 4:
            break
    loop.close()
    assert recorder.indices == [0, 1, 2, 3, 4] and recorder.closed == 1
    assert video.frames == 5 and video._writer is None  # finalised
    with pytest.raises(StopIteration):
        next(src)


def test_an_error_mid_stream_keeps_the_rows_and_closes_everything(detector, sequence, tmp_path):
    src = open_source(sequence)
    sink = CSVSink(tmp_path / "aus.csv", detector.au_codes)

    def fail(frame, result) -> None:
        if result.index == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        for _ in process(src, detector, [sink], on_frame=fail):
            pass
    with open(tmp_path / "aus.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["frame"] for r in rows] == ["1", "2", "3"]
    with pytest.raises(StopIteration):
        next(src)
    with pytest.raises(Exception, match="closed"):
        sink.write(FrameResult(index=9, timestamp=0.0, faces=(), width=1, height=1))


def test_sinks_stay_open_for_the_next_source_when_asked(detector, shared_data, tmp_path):
    image = shared_data / "images" / "single_face.jpg"
    with CSVSink(tmp_path / "all.csv", detector.au_codes) as sink:
        for _ in range(2):
            assert len(list(process(image, detector, [sink], close_sinks=False))) == 1
        assert sink.rows == 2


def test_bad_source_is_an_input_error_before_any_frame(detector, tmp_path):
    recorder = _Recorder()
    with pytest.raises(InputError, match="does not exist"):
        next(process(tmp_path / "absent.mp4", detector, [recorder]))
    assert recorder.indices == [] and recorder.closed == 1


def test_arrays_run_through_the_loop(detector):
    results = list(process(np.zeros((240, 320, 3), np.uint8), detector))
    assert len(results) == 1 and results[0].faces == ()


def test_frames_processed_before_a_decode_error_are_yielded(tiny_model) -> None:
    """Issue 16: a failure mid-window must not lose the window's earlier frames."""
    from aunce_rt import AUDetector
    from aunce_rt.errors import InputError
    from aunce_rt.sources import Frame, FrameSource

    def frames():
        for i in range(6):
            yield Frame(index=i, timestamp=float(i), image=np.zeros((64, 64, 3), np.uint8), name="x")
        raise InputError("frame 6 is broken")

    source = FrameSource(frames(), kind="video", name="x", fps=10.0, frame_count=None)
    seen = []
    with AUDetector(tiny_model, providers="cpu", batch_frames=4) as detector:
        with pytest.raises(InputError, match="frame 6"):
            for result in detector.stream(source):
                seen.append(result.index)
    assert seen == [0, 1, 2, 3, 4, 5]
