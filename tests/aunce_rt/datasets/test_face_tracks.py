"""Face tracks from a folder of videos: SynthAU videos through the runtime's landmarks, cached and resumed."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aunce_rt.datasets.face_tracks import extract_face_tracks, find_videos
from aunce_rt.errors import InputError


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    from aunce_rt.synthau import render_clip

    root = tmp_path_factory.mktemp("videos")
    render_clip(root / "alice" / "a1.mp4", identity=3, n_frames=12, fps=10.0, seed=1, size=(320, 240))
    render_clip(root / "bob" / "b1.mp4", identity=5, n_frames=12, fps=10.0, seed=2, size=(320, 240))
    writer = cv2.VideoWriter(str(root / "empty.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 240))
    for _ in range(6):
        writer.write(np.zeros((240, 320, 3), np.uint8))  # no face: no track
    writer.release()
    return root


def test_finds_videos_recursively_and_refuses_an_empty_folder(videos, tmp_path) -> None:
    assert [p.relative_to(videos).as_posix() for p in find_videos(videos)] == [
        "alice/a1.mp4",
        "bob/b1.mp4",
        "empty.avi",
    ]
    with pytest.raises(InputError, match="no video"):
        find_videos(tmp_path)


def test_tracks_are_aligned_crops_sampled_at_the_frame_rate(videos, tmp_path, monkeypatch) -> None:
    index = extract_face_tracks(videos, tmp_path / "cache", fps=5.0, identity="folder")
    assert {t.video for t in index.tracks} == {"alice/a1.mp4", "bob/b1.mp4"}
    assert index.identities == ("alice", "bob")
    for track in index.tracks:
        assert np.allclose(np.diff(track.times), 0.2, atol=1e-3)  # 10 fps video sampled at 5 fps
        crop = cv2.imread(str(index.cache_dir / track.frames[0]))
        assert crop.shape == (256, 256, 3)  # the template crop training stores
    assert sum(len(t.frames) for t in index.tracks) >= 10  # MediaPipe finds the rendered faces

    # Resumed: finished videos are read back, no landmark backend is made.
    import aunce_rt.landmarks as landmarks

    def refuse(*args, **kwargs):
        raise AssertionError("a cached video was processed again")

    monkeypatch.setattr(landmarks, "create_backend", refuse)
    again = extract_face_tracks(videos, tmp_path / "cache", fps=5.0)
    assert [t.frames for t in again.tracks] == [t.frames for t in index.tracks]
    assert {t.identity for t in again.tracks} == {"alice/a1.mp4", "bob/b1.mp4"}  # identity = video


def test_speaker_ids_name_the_identity(videos, tmp_path) -> None:
    index = extract_face_tracks(
        videos, tmp_path / "c", fps=2.0, speakers={"alice/a1.mp4": "spk1", "bob/b1.mp4": "spk1"}
    )
    assert index.identities == ("spk1",)


def test_bad_settings_say_what_is_expected(videos, tmp_path) -> None:
    with pytest.raises(InputError, match="identity"):
        extract_face_tracks(videos, tmp_path, identity="speaker")
    with pytest.raises(InputError, match="fps"):
        extract_face_tracks(videos, tmp_path, fps=-1)
