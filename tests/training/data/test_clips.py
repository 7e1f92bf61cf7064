"""ClipDataset: consecutive frames of one track, one augmentation draw per clip and view."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from aunce_rt.datasets.face_tracks import FaceTrack, TrackIndex
from aunce_rt.errors import InputError
from aunce_rt.training.data.clips import ClipDataset


def make_index(tmp_path, lengths=(6, 2, 5), same=False) -> TrackIndex:
    """Tracks of 32 px crops whose frame k is filled with the value 10 * k (or all equal)."""
    tracks = []
    for n, length in enumerate(lengths):
        names = []
        for k in range(length):
            name = f"v{n}/t000_{k:05d}.png"
            (tmp_path / f"v{n}").mkdir(exist_ok=True)
            value = 100 if same else 10 * k + 5
            cv2.imwrite(str(tmp_path / name), np.full((32, 32, 3), value, np.uint8))
            names.append(name)
        tracks.append(
            FaceTrack(f"v{n}.mp4", f"person{n % 2}", tuple(names), tuple(0.5 * k for k in range(length)))
        )
    return TrackIndex(tmp_path, tuple(tracks), 2.0)


def test_clips_are_consecutive_frames_and_short_tracks_are_skipped(tmp_path) -> None:
    ds = ClipDataset(make_index(tmp_path), clip_len=3, image_size=16, repeats=2)
    assert len(ds) == 4 and [len(t.frames) for t in ds.tracks] == [6, 5]
    ds.transform = lambda clip: clip.float()  # no augmentation: read the frame values back
    torch.manual_seed(0)
    starts = set()
    for i in range(len(ds)):
        v1, v2, identity = ds[i]
        values = v1[:, 0, 0, 0]  # (T,)
        assert torch.equal(torch.diff(values), torch.full((2,), 10.0))  # consecutive
        assert torch.equal(v1, v2) and identity == ds.identity_ids[ds.tracks[i % 2].identity]
        starts.add(int(values[0]))
    assert len(starts) > 1  # the start is drawn


def test_one_augmentation_per_clip_and_view(tmp_path) -> None:
    ds = ClipDataset(make_index(tmp_path, lengths=(4,), same=True), clip_len=4, image_size=16)
    torch.manual_seed(1)
    differ = 0
    for _ in range(5):
        v1, v2, _ = ds[0]
        assert v1.shape == (4, 3, 16, 16) and v1.dtype == torch.float32
        assert 0 <= float(v1.min()) and float(v1.max()) <= 1
        assert all(torch.equal(v1[0], v1[t]) for t in range(4))  # same draw for every frame
        differ += not torch.equal(v1, v2)  # an independent draw per view
    assert differ >= 3


def test_no_track_long_enough_says_how_to_fix_it(tmp_path) -> None:
    with pytest.raises(InputError, match="lower clip_len"):
        ClipDataset(make_index(tmp_path, lengths=(2, 3)), clip_len=4)
