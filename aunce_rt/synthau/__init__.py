"""SynthAU: procedural synthetic faces showing the 12 BP4D Action Units, with exact truth.

Torch-free (numpy + OpenCV). Faces come from a 3D face model (an iBUG-68 mean
shape on a head height field) deformed by identity parameters and per-AU
displacements, bulges and wrinkles, posed, lit and rasterised with
anti-aliasing; see ``_expressions`` for each AU's signature and ``_labels`` for
label sampling (BP4D rates, co-occurrences, intensity threshold 0.25, label noise).

Example:
    >>> from aunce_rt.synthau import SynthAU
    >>> ds = SynthAU(seed=0, split="train", noise=0.1)
    >>> s = ds.render_sample(3)
    >>> ds.aligned_crop(s).shape
    (256, 256, 3)
"""

from __future__ import annotations

from aunce_rt.synthau._dataset import SynthAU, SynthSample, aligned_crop
from aunce_rt.synthau._expressions import SUPPORTED_AUS
from aunce_rt.synthau._identity import TEST_ID_BASE, TRAIN_ID_BASE
from aunce_rt.synthau._io import (
    GENERATOR_VERSION,
    ClipTruth,
    open_video_writer,
    render_clip,
    render_frames,
    write_dataset,
)
from aunce_rt.synthau._labels import PRESENCE_THRESHOLD

__all__ = [
    "GENERATOR_VERSION",
    "PRESENCE_THRESHOLD",
    "SUPPORTED_AUS",
    "TEST_ID_BASE",
    "TRAIN_ID_BASE",
    "ClipTruth",
    "SynthAU",
    "SynthSample",
    "aligned_crop",
    "open_video_writer",
    "render_clip",
    "render_frames",
    "render_sample",
    "write_dataset",
]


def render_sample(idx: int, seed: int = 0, split: str = "train", noise: float = 0.0) -> SynthSample:
    """Sample ``idx`` of ``SynthAU(seed, split, noise=noise)``."""
    return SynthAU(seed=seed, split=split, noise=noise).render_sample(idx)
