"""Identities: every shape, colour and accessory parameter of one synthetic person.

All parameters are drawn from an RNG seeded only by the identity id, so the same id
is the same person in every sample, clip and split. Train and test use disjoint id
ranges (``TRAIN_ID_BASE``/``TEST_ID_BASE``), which makes the splits person-disjoint
by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from aunce_rt.synthau._face import MEAN_SHAPE_2D, MIRROR, HeadShape

TRAIN_ID_BASE = 0
TEST_ID_BASE = 1_000_000
_SALT = 0x5A17

# BGR skin tones from light to dark; an identity interpolates between neighbours.
_SKIN = np.array(
    [[196, 214, 242], [170, 196, 232], [140, 172, 214], [112, 146, 196], [82, 112, 160], [58, 80, 120]],
    dtype=np.float32,
)
_HAIR = np.array(
    [[18, 18, 22], [25, 38, 60], [35, 60, 100], [80, 130, 175], [150, 150, 155], [30, 55, 135]],
    dtype=np.float32,
)
_IRIS = np.array(
    [[35, 55, 95], [140, 105, 60], [75, 115, 80], [25, 30, 40], [110, 110, 90]], dtype=np.float32
)


@dataclass(frozen=True, eq=False)
class Identity:
    """One synthetic person (all lengths in mm, colours BGR 0..255).

    Attributes:
        identity_id: the id the parameters were drawn from.
        shape: (68, 2) neutral landmark positions (x, y) in the face frame.
        head: the head's height field.
        skin, lips, hair, brows, iris, clothes: (3,) float32 BGR colours.
        hairline: y of the frontal hairline (negative = above the eyes).
        hair_thickness: how far hair stands off the scalp.
        hair_style: "bald", "short" or "long".
        brow_thickness: eyebrow thickness at its widest.
        eye_open: scale of the eye opening height (1 = mean).
        glasses: None or (frame BGR colour (3,), frame thickness mm, roundness 0..1).
        ear_size: ear height.
        neck_width: half-width of the neck.
        asymmetry: (68, 2) small fixed offsets making the face not perfectly symmetric.
    """

    identity_id: int
    shape: np.ndarray
    head: HeadShape
    skin: np.ndarray
    lips: np.ndarray
    hair: np.ndarray
    brows: np.ndarray
    iris: np.ndarray
    clothes: np.ndarray
    hairline: float
    hair_thickness: float
    hair_style: str
    brow_thickness: float
    eye_open: float
    glasses: tuple[np.ndarray, float, float] | None
    ear_size: float
    neck_width: float


def identity_ids(split: str, count: int) -> np.ndarray:
    """Identity ids of a split: ``count`` ids from the split's own range."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    base = TRAIN_ID_BASE if split == "train" else TEST_ID_BASE
    return np.arange(base, base + count, dtype=np.int64)


def _palette(rng: np.random.Generator, palette: np.ndarray) -> np.ndarray:
    t = rng.uniform(0, len(palette) - 1)
    i = int(t)
    j = min(i + 1, len(palette) - 1)
    return (palette[i] * (1 - (t - i)) + palette[j] * (t - i)).astype(np.float32)


def _shape(rng: np.random.Generator) -> np.ndarray:
    """Neutral landmarks (68, 2): the mean shape with feature sizes and placement varied."""
    p = MEAN_SHAPE_2D.copy()
    eye_spacing = rng.uniform(0.93, 1.07)
    eye_size = rng.uniform(0.9, 1.12)
    for eye in (np.arange(36, 42), np.arange(42, 48)):
        c = p[eye].mean(0)
        p[eye] = c * [eye_spacing, 1.0] + (p[eye] - c) * eye_size
    brows = np.arange(17, 27)
    p[brows, 1] += rng.uniform(-3.5, 3.0)
    p[brows, 0] *= rng.uniform(0.95, 1.06)
    arch = rng.uniform(-1.5, 2.0)  # higher arch lifts the brow middle
    p[[19, 24], 1] -= arch
    p[[18, 20, 23, 25], 1] -= arch * 0.6
    nose = np.arange(27, 36)
    nose_len = rng.uniform(0.9, 1.1)
    p[nose, 1] = p[27, 1] + (p[nose, 1] - p[27, 1]) * nose_len
    p[31:36, 0] *= rng.uniform(0.85, 1.2)
    mouth = np.arange(48, 68)
    mouth_y = rng.uniform(-3.0, 4.0) + (nose_len - 1.0) * 30.0
    mc = p[mouth].mean(0)
    p[mouth, 0] = mc[0] + (p[mouth, 0] - mc[0]) * rng.uniform(0.88, 1.12)
    upper = rng.uniform(0.75, 1.3)
    lower = rng.uniform(0.8, 1.3)
    line_y = p[62, 1]
    for i in (49, 50, 51, 52, 53):
        p[i, 1] = line_y + (p[i, 1] - line_y) * upper
    for i in (55, 56, 57, 58, 59):
        p[i, 1] = line_y + (p[i, 1] - line_y) * lower
    p[mouth, 1] += mouth_y
    jaw = np.arange(0, 17)
    face_len = rng.uniform(0.93, 1.08)
    p[jaw, 1] = np.where(p[jaw, 1] > 40, 40 + (p[jaw, 1] - 40) * face_len, p[jaw, 1])
    p[jaw, 0] *= rng.uniform(0.92, 1.06)
    p[jaw[4:13], 0] *= rng.uniform(0.9, 1.05)  # jaw width
    p = (p + p[MIRROR] * [-1.0, 1.0]) / 2.0  # keep the proportions symmetric
    p += rng.normal(0.0, 0.6, p.shape)  # then a little asymmetry
    return p


def _head(rng: np.random.Generator, shape: np.ndarray, hair_thickness: float, hairline: float) -> HeadShape:
    """Height field matching the landmarks: the jaw line is the outline of the lower face."""
    top = rng.uniform(-140.0, -125.0)
    half = rng.uniform(72.0, 80.0)
    chin = shape[8, 1]
    jaw = shape[1:9]  # jaw points from ear level down to the chin
    upper_y = np.array([top, top + 8, top + 25, -85.0, -60.0, -30.0, 0.0])
    cranium = np.sqrt(
        np.clip(1.0 - ((np.minimum(upper_y, -60.0) + 60.0) / (top + 60.0 - 2.0)) ** 2, 0.0, 1.0)
    )
    ys = np.concatenate([upper_y, jaw[:, 1], [chin + 2.0]])
    widths = np.concatenate(
        [half * cranium + hair_thickness * (upper_y < -25), np.abs(jaw[:, 0]) + 1.0, [4.0]]
    )
    widths[6] = max(widths[6], np.abs(jaw[0, 0]) + 1.0)
    widths[-2:] = [10.0, 0.0]
    depth = np.concatenate(
        [
            90.0 * np.maximum(cranium, 0.3) + hair_thickness * (upper_y < hairline),
            [90, 89, 88, 87, 86, 84, 76, 55],
            [40],
        ]
    )
    sock = rng.uniform(6.0, 10.0)
    nose_h = rng.uniform(0.8, 1.2)
    ey = shape[36:48, 1].mean()
    ex = shape[42:48, 0].mean()
    nt = shape[30]
    my = shape[62, 1]
    bumps = [
        (ex, ey + 1, 16, 10, -sock),
        (-ex, ey + 1, 16, 10, -sock),
        (ex, shape[24, 1] + 4, 22, 5, 3.0),
        (-ex, shape[24, 1] + 4, 22, 5, 3.0),
        (0, shape[27, 1] + 4, 5, 9, 3.0 * nose_h),
        (0, (shape[27, 1] + nt[1]) / 2 + 3, 6, 10, 9.0 * nose_h),
        (0, nt[1] - 2, 7, 5, 15.0 * nose_h),
        (shape[31, 0] + 2, shape[31, 1] - 3, 5, 5, 6.0),
        (shape[35, 0] - 2, shape[35, 1] - 3, 5, 5, 6.0),
        (0, nt[1] + 8, 7, 5, 2.0),
        (46, ey + 24, 15, 13, rng.uniform(2.0, 6.0)),
        (-46, ey + 24, 15, 13, rng.uniform(2.0, 6.0)),
        (0, shape[51, 1] + 2, 20, 5, 4.0),
        (0, shape[57, 1] - 2, 16, 5, 4.0),
        (0, shape[57, 1] + 8, 12, 4, -2.0),
        (0, chin - 14, 15, 9, rng.uniform(2.0, 6.0)),
        (0, my - 32, 20, 20, 2.0),
    ]
    return HeadShape(ys, widths, depth, np.array(bumps, dtype=np.float32), rng.uniform(0.36, 0.48))


@lru_cache(maxsize=1024)
def make_identity(identity_id: int) -> Identity:
    """The person with id ``identity_id`` (deterministic; cached)."""
    rng = np.random.default_rng([_SALT, int(identity_id)])
    shape = _shape(rng)
    style = str(rng.choice(["bald", "short", "long"], p=[0.07, 0.5, 0.43]))
    hair_thickness = 0.0 if style == "bald" else rng.uniform(3.0, 14.0)
    hairline = float(rng.uniform(-78.0, -58.0))
    head = _head(rng, shape, hair_thickness, hairline)
    skin = _palette(rng, _SKIN) * rng.uniform(0.95, 1.05, 3).astype(np.float32)
    hair = _palette(rng, _HAIR) * rng.uniform(0.85, 1.15)
    dark = min(1.0, 60.0 / float(hair.mean()) + 0.3)
    lip_tint = np.array([rng.uniform(0.78, 0.9), rng.uniform(0.68, 0.8), rng.uniform(0.95, 1.05)], np.float32)
    glasses = None
    if rng.random() < 0.18:
        frame = np.full(3, rng.uniform(10, 90), np.float32) * rng.uniform(0.8, 1.2, 3).astype(np.float32)
        glasses = (frame, float(rng.uniform(1.0, 2.5)), float(rng.uniform(0.0, 1.0)))
    return Identity(
        identity_id=int(identity_id),
        shape=shape,
        head=head,
        skin=np.clip(skin, 30, 250),
        lips=np.clip(skin * lip_tint, 20, 250),
        hair=np.clip(hair, 5, 240),
        brows=np.clip(hair * dark, 5, 200),
        iris=_palette(rng, _IRIS),
        clothes=rng.uniform(20, 230, 3).astype(np.float32),
        hairline=hairline,
        hair_thickness=float(hair_thickness),
        hair_style=style,
        brow_thickness=float(rng.uniform(4.0, 7.0)),
        eye_open=float(rng.uniform(0.85, 1.15)),
        glasses=glasses,
        ear_size=float(rng.uniform(52.0, 64.0)),
        neck_width=float(rng.uniform(40.0, 52.0)),
    )
