"""Clips of T consecutive face-track crops, two clip-wise augmented views each (CLP pretraining).

CLP as reconstructed here (spec/CLP.md "Notation"): a sample picks a track uniformly
(tracks shorter than T are skipped), then a start so that T consecutive crops fit;
the view transforms A and A' are each drawn ONCE per clip and applied to all T
frames, so frames differ in content only, never in augmentation (ambiguity 4).
Views are float32 RGB in [0, 1] (the objective normalises them and keeps the
unnormalised view as its reconstruction target).

Augmentation (spec table): random resized crop (scale 0.6-1) to ``image_size``,
horizontal flip, colour jitter 0.4/0.4/0.4/0.1 with p 0.8, grayscale with p 0.2.

Example:
    >>> index = extract_face_tracks("videos/", "cache/tracks")     # doctest: +SKIP
    >>> ds = ClipDataset(index, clip_len=4, image_size=224)        # doctest: +SKIP
    >>> v1, v2, identity = ds[0]   # (4, 3, 224, 224) twice, int    # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2

from aunce_rt.datasets.face_tracks import TrackIndex
from aunce_rt.errors import InputError
from aunce_rt.training.augment import to_rgb_tensor

__all__ = ["ClipDataset", "clip_transform"]


def clip_transform(image_size: int, *, scale: tuple[float, float] = (0.6, 1.0)) -> v2.Compose:
    """One view A: (T, 3, H, W) uint8 RGB -> (T, 3, size, size) float32 in [0, 1], one draw per clip.

    torchvision's v2 transforms draw their parameters once per call, so every frame
    of the (T, ...) tensor gets the same crop, flip, jitter and grayscale.
    """
    return v2.Compose(
        [
            v2.RandomResizedCrop(image_size, scale=scale, antialias=True),
            v2.RandomHorizontalFlip(),
            v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
            v2.RandomGrayscale(p=0.2),
            v2.ToDtype(torch.float32, scale=True),
        ]
    )


class ClipDataset(Dataset):
    """Clips of ``clip_len`` consecutive crops of a face track; see the module doc.

    Item ``i`` is track ``i mod n`` (so an epoch visits every eligible track
    ``repeats`` times), its start drawn with torch's global RNG (seeded and saved
    with the run's checkpoints).

    Args:
        index: the tracks (``aunce_rt.datasets.face_tracks.extract_face_tracks``).
        clip_len: T >= 1 consecutive frames per clip (spec: 4).
        image_size: side of the views (spec: 224).
        repeats: samples per eligible track and epoch.

    Attributes:
        identity_ids: identity name -> integer id of the clips.
    """

    makes_views = True  # the training loader takes the items as they are

    def __init__(self, index: TrackIndex, clip_len: int = 4, image_size: int = 224, repeats: int = 1) -> None:
        if clip_len < 1 or repeats < 1:
            raise InputError(f"clip_len and repeats must be >= 1; got {clip_len} and {repeats}")
        self.tracks = [t for t in index.tracks if len(t.frames) >= clip_len]
        if not self.tracks:
            longest = max((len(t.frames) for t in index.tracks), default=0)
            raise InputError(
                f"no face track has {clip_len} frames (longest: {longest}) in {index.cache_dir}; "
                "lower clip_len, raise the sampling fps or add longer videos"
            )
        self.cache_dir = Path(index.cache_dir)
        self.clip_len, self.repeats = clip_len, repeats
        self.identity_ids = {name: i for i, name in enumerate(sorted({t.identity for t in self.tracks}))}
        self.transform = clip_transform(image_size)

    def __len__(self) -> int:
        return len(self.tracks) * self.repeats

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        """(v1 (T, 3, S, S), v2 (T, 3, S, S) float32 in [0, 1], identity id)."""
        track = self.tracks[i % len(self.tracks)]
        start = int(torch.randint(len(track.frames) - self.clip_len + 1, ()))
        frames = [self._read(name) for name in track.frames[start : start + self.clip_len]]
        clip = torch.stack(frames)  # (T, 3, H, W) uint8 RGB
        return self.transform(clip), self.transform(clip), self.identity_ids[track.identity]

    def _read(self, name: str) -> torch.Tensor:
        path = self.cache_dir / name
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(
                f"cannot read the cached crop {path}; delete its video folder's tracks.json to redo it"
            )
        return to_rgb_tensor(np.asarray(image))
