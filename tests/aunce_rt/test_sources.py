"""Tests of aunce_rt.sources: every kind of input, the decode thread and the errors."""

from __future__ import annotations

import gc
import http.server
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from aunce_rt.errors import InputError
from aunce_rt.sources import Frame, FrameSource, natural_key, open_source

VIDEO_FRAMES = {
    "single_face.mp4": 72,
    "openface_default.wmv": 288,
    "face_noface.mov": 169,
    "no_face.mp4": 95,
}


def _decode_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("aunce-rt-decode")]


def _write_avi(path: Path, n: int, size: tuple[int, int] = (64, 48)) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    assert writer.isOpened()
    for i in range(n):
        writer.write(np.full((size[1], size[0], 3), (i * 6) % 256, np.uint8))
    writer.release()
    return path


# -- real media ---------------------------------------------------------------------


@pytest.mark.shared
@pytest.mark.parametrize(("name", "count"), sorted(VIDEO_FRAMES.items()))
def test_video_decodes_every_frame(shared_data: Path, name: str, count: int) -> None:
    with open_source(shared_data / "video" / name) as source:
        assert source.kind == "video" and not source.is_live
        assert source.name == name
        assert source.fps is not None and source.fps > 0
        frames = list(source)
    assert len(frames) == count
    assert [f.index for f in frames] == list(range(count))
    stamps = np.array([f.timestamp for f in frames])
    assert stamps[0] == 0.0
    assert np.all(np.diff(stamps) > 0)
    assert all(f.image.dtype == np.uint8 and f.image.ndim == 3 and f.image.shape[2] == 3 for f in frames[:3])
    assert not _decode_threads()


@pytest.mark.shared
def test_video_stride_keeps_decode_index_and_timestamps(shared_data: Path) -> None:
    with open_source(str(shared_data / "video" / "single_face.mp4"), stride=5) as source:
        assert source.frame_count == 15  # ceil(72 / 5)
        frames = list(source)
    assert [f.index for f in frames] == list(range(0, 72, 5))
    # 30 fps: frame 5 is at 1/6 s
    assert frames[1].timestamp == pytest.approx(5 / 30, abs=1e-3)


@pytest.mark.shared
def test_image_sequence_folder_and_glob(shared_data: Path) -> None:
    folder = shared_data / "image_sequence"
    with open_source(folder) as source:
        assert source.kind == "images" and source.frame_count == 30
        frames = list(source)
    assert [f.name for f in frames] == [f"{i:03d}.jpg" for i in range(1, 31)]
    assert [f.timestamp for f in frames] == [float(i) for i in range(30)]
    with open_source(str(folder / "00*.jpg")) as source:
        names = [f.name for f in source]
    assert names == [f"{i:03d}.jpg" for i in range(1, 10)]


@pytest.mark.shared
@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("openface_sample3_16bit_gray.png", (400, 640, 3)),
        ("BWPictureHuman.jpg", (1912, 2560, 3)),
        ("Image_with_alpha.png", (1036, 1524, 3)),
        ("single_face.jpg", (562, 572, 3)),
    ],
)
def test_single_images_become_8bit_bgr(shared_data: Path, name: str, shape: tuple[int, int, int]) -> None:
    path = shared_data / "images" / name
    with open_source(path) as source:
        frames = list(source)
    assert len(frames) == 1
    frame = frames[0]
    assert frame.image.shape == shape and frame.image.dtype == np.uint8
    assert frame.timestamp == 0.0 and frame.index == 0 and frame.name == name
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw.ndim == 2 and raw.dtype == np.uint16:
        expected = np.rint(raw.astype(np.float64) * 255 / 65535).astype(np.uint8)
        np.testing.assert_array_equal(frame.image[:, :, 1], expected)
    elif raw.ndim == 2:
        assert np.array_equal(frame.image[:, :, 0], frame.image[:, :, 2])
    elif raw.shape[2] == 4:
        np.testing.assert_array_equal(frame.image, raw[:, :, :3])


# -- generated media ----------------------------------------------------------------


def test_folder_is_sorted_naturally_and_skips_non_images(tmp_path: Path) -> None:
    for i in (10, 2, 1):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((40, 40, 3), i, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.png").write_bytes(b"")
    with open_source(tmp_path, stride=2) as source:
        assert source.frame_count == 2
        frames = list(source)
    assert [(f.index, f.name) for f in frames] == [(0, "1.png"), (2, "10.png")]
    assert int(frames[1].image[0, 0, 0]) == 10
    assert sorted(["b10", "b9", "a1"], key=natural_key) == ["a1", "b9", "b10"]


def test_truncated_video_yields_decoded_frames_then_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    full = _write_avi(tmp_path / "full.avi", 40)
    data = full.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    with caplog.at_level(logging.WARNING, logger="aunce_rt.sources"):
        with open_source(cut) as source:
            assert source.frame_count == 40
            frames = list(source)
    assert 0 < len(frames) < 40
    assert [f.index for f in frames] == list(range(len(frames)))
    messages = [r.getMessage() for r in caplog.records]
    assert any("cut.avi" in m and f"decoded {len(frames)} of the 40" in m for m in messages), messages


def test_complete_video_does_not_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write_avi(tmp_path / "ok.avi", 12)
    with caplog.at_level(logging.WARNING, logger="aunce_rt.sources"):
        assert len(list(open_source(path))) == 12
    assert not caplog.records


def test_large_image_works(tmp_path: Path) -> None:
    big = np.zeros((6000, 8000, 3), np.uint8)
    big[::100] = 255
    path = tmp_path / "big.jpg"
    assert cv2.imwrite(str(path), big, [cv2.IMWRITE_JPEG_QUALITY, 50])
    with open_source(path) as source:
        (frame,) = list(source)
    assert frame.image.shape == (6000, 8000, 3)
    with open_source(big) as source:
        assert next(source).image.shape == (6000, 8000, 3)


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.full((40, 50), 200, np.uint8), 200),
        (np.full((40, 50, 1), 200, np.uint8), 200),
        (np.full((40, 50, 3), 1.0, np.float32), 255),
        (np.full((40, 50, 3), 0.5, np.float64), 128),
        (np.full((40, 50), 65535, np.uint16), 255),
        (np.full((40, 50), 4095, np.uint16), 255),  # 12-bit data in uint16
        (np.full((40, 50, 4), 90, np.uint8), 90),
        (np.ones((40, 50), bool), 255),
    ],
)
def test_arrays_of_any_depth(array: np.ndarray, expected: int) -> None:
    with open_source(array) as source:
        assert source.kind == "array" and source.frame_count == 1
        (frame,) = list(source)
    assert frame.image.shape == (40, 50, 3) and frame.image.dtype == np.uint8
    assert np.all(frame.image == expected)


def test_list_of_arrays_and_paths(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), np.full((40, 40, 3), 7, np.uint8))
    items = [np.zeros((40, 40, 3), np.uint8), path, np.full((40, 40), 0.5, np.float32)]
    with open_source(items) as source:
        assert source.kind == "images" and source.frame_count == 3
        frames = list(source)
    assert [f.name for f in frames] == ["array0", "a.png", "array2"]
    assert [int(f.image[0, 0, 0]) for f in frames] == [0, 7, 128]


# -- errors -------------------------------------------------------------------------


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _png(path: Path, side: int) -> Path:
    assert cv2.imwrite(str(path), np.zeros((side, side, 3), np.uint8))
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda d: d / "missing.mp4", "does not exist"),
        (lambda d: _bytes(d / "empty.mp4", b""), "0-byte"),
        (lambda d: _bytes(d / "empty.jpg", b""), "0-byte"),
        (lambda d: _bytes(d / "text.mp4", b"this is not a video\n" * 20), "text file, not a video"),
        (lambda d: _bytes(d / "binary.mp4", b"\x00\x01garbage" * 20), "cannot decode video"),
        (lambda d: _bytes(d / "bad.jpg", b"\xff\xd8garbage" * 30), "cannot decode image"),
        (lambda d: _png(d / "tiny.png", 16), "too small"),
        (lambda d: _mkdir(d / "empty_dir"), r"holds no images; looked for .*\.jpg"),
        (lambda d: str(d / "*.nothing"), "matches no images"),
        (lambda d: _write_avi(d / "tiny.avi", 3, size=(16, 16)), "too small"),
    ],
)
def test_bad_inputs_raise_input_error(tmp_path: Path, make, match: str) -> None:
    source = make(tmp_path)
    with pytest.raises(InputError, match=match) as info:
        open_source(source)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ({"a": 1}, "unsupported source of type dict"),
        (True, "unsupported source"),
        ([], "empty"),
        ([np.zeros((40, 40, 3), np.uint8), 3.5], "item 1 of the list is a float"),
        (np.zeros((40, 40, 5), np.uint8), r"shape \(40, 40, 5\) is not an image"),
        (np.zeros((10, 40), np.uint8), "too small"),
        (np.zeros((40, 40), np.complex64), "dtype complex64"),
    ],
)
def test_unsupported_objects_raise_input_error(source: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        open_source(source)  # type: ignore[arg-type]


def test_bad_stride_and_prefetch() -> None:
    with pytest.raises(InputError, match="stride"):
        open_source(np.zeros((40, 40), np.uint8), stride=0)
    with pytest.raises(InputError, match="prefetch"):
        open_source(np.zeros((40, 40), np.uint8), prefetch=0)


def test_list_with_a_video_asks_for_one_at_a_time(tmp_path: Path) -> None:
    video = _write_avi(tmp_path / "v.avi", 3)
    with pytest.raises(InputError, match="pass videos one at a time"):
        open_source([video])


def test_missing_camera_names_index_and_fix() -> None:
    with pytest.raises(InputError, match="no camera at index 97; list cameras with .* or pass a video file"):
        open_source(97)
    with pytest.raises(InputError, match="no camera at index 97"):
        open_source("97")


def _closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_stream_masks_password() -> None:
    port = _closed_port()
    with pytest.raises(InputError, match="could not connect to") as info:
        open_source(f"rtsp://user:secret@127.0.0.1:{port}/live")
    assert "secret" not in str(info.value) and f"user:***@127.0.0.1:{port}" in str(info.value)


@pytest.mark.parametrize("scheme", ["rtsp", "http", "rtmp"])
def test_refused_stream_says_connection_refused(scheme: str) -> None:
    # Issue 16: a refused connection ended with "no frame within 10 s" after 0.4 s.
    url = f"{scheme}://127.0.0.1:{_closed_port()}/x"
    with pytest.raises(InputError) as info:
        open_source(url)
    assert str(info.value) == (
        f"could not connect to {url!r}: connection refused; check the address and that the stream is up"
    )


def test_server_without_video_is_not_a_timeout() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:  # answers every request with 501: connected, but no video
        with pytest.raises(InputError, match="the server gave no video FFmpeg can read") as info:
            open_source(f"http://127.0.0.1:{server.server_port}/x.mp4")
        assert "within" not in str(info.value)
    finally:
        server.shutdown()
        server.server_close()


def test_decode_error_in_folder_surfaces_in_consumer(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "1.png"), np.zeros((40, 40, 3), np.uint8))
    (tmp_path / "2.png").write_bytes(b"not a png at all" * 10)
    source = open_source(tmp_path, skip_unreadable=False)
    assert next(source).name == "1.png"
    with pytest.raises(InputError, match="2.png"):
        next(source)
    assert list(source) == []  # closed after the error


def test_unreadable_image_in_folder_is_skipped_by_default(tmp_path: Path) -> None:
    for name in ("1.png", "3.png"):
        cv2.imwrite(str(tmp_path / name), np.zeros((40, 40, 3), np.uint8))
    (tmp_path / "2.png").write_bytes(b"not a png at all" * 10)
    source = open_source(tmp_path)
    assert [f.name for f in source] == ["1.png", "3.png"]
    assert len(source.errors) == 1 and "2.png" in source.errors[0]


# -- the decode thread --------------------------------------------------------------


class _Recorder:
    """A fake capture: yields frames, records how far it got and whether it was released."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n = n
        self.fail_at = fail_at
        self.produced = 0
        self.released = 0

    def frames(self) -> Iterator[Frame]:
        for i in range(self.n):
            if i == self.fail_at:
                raise RuntimeError(f"decoder broke at frame {i}")
            self.produced += 1
            yield Frame(index=i, timestamp=float(i), image=np.zeros((2, 2, 3), np.uint8), name="fake")

    def release(self) -> None:
        self.released += 1


def _fake(rec: _Recorder, kind: str = "video", prefetch: int = 2) -> FrameSource:
    return FrameSource(
        rec.frames(),
        kind=kind,
        name="fake",
        fps=None,
        frame_count=rec.n,
        prefetch=prefetch,
        release=rec.release,
    )


def test_early_stop_releases_and_bounds_prefetch() -> None:
    rec = _Recorder(1000)
    with _fake(rec, prefetch=3) as source:
        assert next(source).index == 0
        time.sleep(0.2)
        assert rec.produced <= 1 + 3 + 1  # consumed + queued + one waiting to be queued
    assert rec.released == 1
    assert not _decode_threads()


def test_never_iterated_source_is_released_on_close() -> None:
    rec = _Recorder(5)
    source = _fake(rec)
    source.close()
    source.close()
    assert rec.released == 1 and rec.produced == 0


def test_dropped_source_is_closed_by_garbage_collection() -> None:
    rec = _Recorder(1000)
    source = _fake(rec)
    next(source)
    del source
    gc.collect()
    deadline = time.monotonic() + 10
    while rec.released == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rec.released == 1
    assert not _decode_threads()


def test_keyboard_interrupt_in_consumer_releases() -> None:
    rec = _Recorder(1000)
    with pytest.raises(KeyboardInterrupt):
        with _fake(rec) as source:
            next(source)
            raise KeyboardInterrupt
    assert rec.released == 1


def test_generator_close_releases() -> None:
    rec = _Recorder(1000)

    def consume() -> Iterator[int]:
        with _fake(rec) as source:
            for frame in source:
                yield frame.index

    gen = consume()
    assert next(gen) == 0
    gen.close()
    assert rec.released == 1


def test_error_in_decode_thread_is_reraised_after_good_frames() -> None:
    rec = _Recorder(10, fail_at=4)
    source = _fake(rec)
    got = []
    with pytest.raises(RuntimeError, match="decoder broke at frame 4"):
        for frame in source:
            got.append(frame.index)
    assert got == [0, 1, 2, 3]
    assert rec.released == 1


def test_live_source_drops_oldest_frames_when_consumer_is_slow() -> None:
    rec = _Recorder(50)
    source = _fake(rec, kind="camera", prefetch=2)
    assert source.is_live
    first = next(source)
    deadline = time.monotonic() + 10
    while rec.produced < 50 and time.monotonic() < deadline:
        time.sleep(0.02)
    received = [first.index] + [f.index for f in source]
    assert received[-2:] == [48, 49]  # the newest frames survive
    assert received == sorted(set(received))
    assert source.dropped == 50 - len(received) > 0
    assert rec.released == 1


def test_a_source_knows_its_stride(shared_data):
    video = shared_data / "video" / "single_face.mp4"
    with open_source(video) as whole, open_source(video, stride=4) as strided:
        assert (whole.stride, strided.stride) == (1, 4)
        assert strided.frame_count == 18
    with open_source(shared_data / "image_sequence", stride=7) as images:
        assert images.stride == 7 and [f.index for f in images] == [0, 7, 14, 21, 28]
