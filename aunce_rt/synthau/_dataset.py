"""``SynthAU``: an indexable, deterministic generator of labelled synthetic faces."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from aunce_rt.align import CROP_SIZE, align_face
from aunce_rt.aus import BENCHMARK_AUS
from aunce_rt.synthau._expressions import SUPPORTED_AUS, apply_aus
from aunce_rt.synthau._identity import identity_ids, make_identity
from aunce_rt.synthau._labels import (
    PRESENCE_THRESHOLD,
    TRACE_MAX,
    au_rates,
    flip_labels,
    sample_intensities,
    sample_occurrences,
)
from aunce_rt.synthau._render import render
from aunce_rt.synthau._scene import sample_scene

DEFAULT_IDENTITIES = {"train": 600, "test": 150}
_SPLIT_CODE = {"train": 0, "test": 1}


@dataclass(frozen=True, eq=False)
class SynthSample:
    """One rendered face with its exact ground truth.

    Attributes:
        image: (H, W, 3) uint8 BGR full frame.
        landmarks: (68, 2) float32 iBUG-68 landmark pixels.
        labels: (K,) int8 clean AU occurrences (0/1), in ``au_codes`` order.
        noisy_labels: (K,) int8 labels after label noise (equal to ``labels`` when noise = 0).
        intensities: (K,) float32 AU intensities in [0, 1] (present iff >= 0.25).
        identity: identity id (train and test ranges are disjoint).
        pose: (yaw, pitch, roll) in degrees.
        au_codes: AU codes of the label columns.
        index: the sample's index in its generator.
    """

    image: np.ndarray
    landmarks: np.ndarray
    labels: np.ndarray
    noisy_labels: np.ndarray
    intensities: np.ndarray
    identity: int
    pose: tuple[float, float, float]
    au_codes: tuple[int, ...]
    index: int


def chin_pattern(identity_id: int) -> np.ndarray:
    """Fixed (6, 2) positions (unit square) of one person's chin-boss dimples."""
    return np.random.default_rng([int(identity_id), 17]).random((6, 2))


class SynthAU:
    """Deterministic synthetic AU dataset: sample ``idx`` is the same image for the same settings.

    Args:
        seed: dataset seed (same seed -> byte-identical images).
        split: "train" or "test"; their identities come from disjoint id ranges.
        au_codes: AUs to label (a subset of the 12 BP4D AUs); others stay at rest.
        noise: label-noise flip rate for ``noisy_labels`` (the clean truth is kept apart).
        num_identities: number of people in the split (default 600 train, 150 test).
        frame_size: (width, height) of the full frames.
        rate_scale: multiplies BP4D's occurrence rates (class-imbalance knob).
        balanced: draw every AU with rate 0.5 instead.
        rates: AU code -> occurrence rate, replacing the rate of the AUs it names
            (after ``rate_scale``/``balanced``); None keeps every default.
        max_pose: largest |yaw|, |pitch|, |roll| in degrees.
        degrade: apply blur, pixel noise and JPEG re-encoding.
        trace_max: absent AUs may show a trace up to this intensity (default 0.15,
            below the 0.25 presence threshold; up to 0.25 fills the gap, like the
            onsets and offsets of video).

    Example:
        >>> ds = SynthAU(seed=0, split="train")
        >>> s = ds.render_sample(0)
        >>> s.image.shape, s.landmarks.shape, s.labels.shape
        ((256, 256, 3), (68, 2), (12,))
    """

    def __init__(
        self,
        seed: int = 0,
        split: str = "train",
        au_codes: Sequence[int] = BENCHMARK_AUS["synthau"],
        noise: float = 0.0,
        *,
        num_identities: int | None = None,
        frame_size: tuple[int, int] = (256, 256),
        rate_scale: float = 1.0,
        balanced: bool = False,
        rates: Mapping[int, float] | None = None,
        max_pose: tuple[float, float, float] = (25.0, 20.0, 20.0),
        degrade: bool = True,
        trace_max: float = TRACE_MAX,
    ) -> None:
        if split not in _SPLIT_CODE:
            raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
        codes = tuple(int(c) for c in au_codes)
        bad = [c for c in codes if c not in SUPPORTED_AUS]
        if bad or not codes:
            raise ValueError(f"SynthAU renders AUs {SUPPORTED_AUS}; got {codes} (unsupported: {bad})")
        if not 0.0 <= noise <= 1.0:
            raise ValueError(f"noise must be a flip rate in [0, 1]; got {noise}")
        self.seed = int(seed)
        self.split = split
        self.au_codes = codes
        self.noise = float(noise)
        self.frame_size = (int(frame_size[0]), int(frame_size[1]))
        self.max_pose = tuple(float(m) for m in max_pose)
        self.degrade = degrade
        if not 0.0 <= trace_max <= PRESENCE_THRESHOLD:
            raise ValueError(f"trace_max must be in [0, {PRESENCE_THRESHOLD}]; got {trace_max}")
        self.trace_max = float(trace_max)
        self.rates = au_rates(codes, rate_scale, balanced, rates)
        self.identities = identity_ids(split, num_identities or DEFAULT_IDENTITIES[split])

    def _rngs(self, idx: int) -> list[np.random.Generator]:
        seq = np.random.SeedSequence([self.seed, _SPLIT_CODE[self.split], int(idx)])
        return [np.random.default_rng(s) for s in seq.spawn(3)]

    def _identity(self, label_rng: np.random.Generator) -> int:
        return int(self.identities[label_rng.integers(len(self.identities))])

    def render_order(self, indices: Iterable[int]) -> list[int]:
        """``indices`` grouped by identity (stable within each person).

        Every sample is a function of its index alone, so the order changes nothing
        in the output; rendering each person's samples together builds their head
        grid once (it is cached), which makes writing a dataset faster.
        """
        idx = [int(i) for i in indices]
        who = [self._identity(self._rngs(i)[0]) for i in idx]
        return [i for _, i in sorted(zip(who, idx, strict=True), key=lambda p: p[0])]

    def truth(self, idx: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """Cheap ground truth of sample ``idx`` without rendering.

        Returns:
            (identity id, labels (K,) int8, noisy labels (K,) int8, intensities (K,) float32).
        """
        label_rng, _, noise_rng = self._rngs(idx)
        identity = self._identity(label_rng)
        occ = sample_occurrences(label_rng, 1, self.au_codes, self.rates)
        inten = sample_intensities(label_rng, occ, self.trace_max)[0]
        noisy = flip_labels(noise_rng, occ, self.noise)[0]
        return identity, occ[0], noisy, inten

    def render_sample(self, idx: int) -> SynthSample:
        """Render sample ``idx`` (deterministic)."""
        identity_id, labels, noisy, inten = self.truth(idx)
        _, scene_rng, _ = self._rngs(idx)
        identity = make_identity(identity_id)
        scene = sample_scene(scene_rng, self.frame_size, self.max_pose, degrade=self.degrade)  # type: ignore[arg-type]
        expr = apply_aus(
            identity.shape, dict(zip(self.au_codes, inten.tolist(), strict=True)), chin_pattern(identity_id)
        )
        image, landmarks = render(identity, expr, scene, self.frame_size)
        return SynthSample(
            image, landmarks, labels, noisy, inten, identity_id, scene.pose, self.au_codes, int(idx)
        )

    __getitem__ = render_sample

    @staticmethod
    def aligned_crop(sample: SynthSample, size: int = CROP_SIZE) -> np.ndarray:
        """The sample's face aligned with ``aunce_rt.align`` from its true landmarks: (size, size, 3) BGR."""
        return aligned_crop_of(sample.image, sample.landmarks, size)


def aligned_crop_of(image: np.ndarray, landmarks: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """``image``'s face aligned with ``aunce_rt.align`` from true iBUG-68 ``landmarks``: (size, size, 3)."""
    crop, _ = align_face(image, landmarks, layout="ibug68", size=size)
    return crop


def aligned_crop(sample: SynthSample, size: int = CROP_SIZE) -> np.ndarray:
    """Aligned (size, size, 3) uint8 BGR crop of ``sample`` (see ``SynthAU.aligned_crop``)."""
    return SynthAU.aligned_crop(sample, size)
