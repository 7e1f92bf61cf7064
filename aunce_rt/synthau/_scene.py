"""Per-image nuisance parameters: head pose, framing, lighting, gaze, background, camera.

These are drawn independently of the AUs, so that they dominate the pixel variance
while carrying no label information.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Scene:
    """How one face is framed, lit and photographed.

    Attributes:
        pose: (yaw, pitch, roll) in degrees (see ``_face.rotation_matrix``).
        iod_px: distance between the eye centres in pixels (frontal).
        center: (x, y) pixel position of the mid-eye point.
        light_dir: (3,) unit vector towards the light, camera frame (z to camera).
        ambient, diffuse, specular: light strengths.
        light_color: (3,) BGR gain of the light.
        exposure: overall brightness gain.
        gaze: (x, y) iris offset in mm.
        background_seed: seed of the background generator.
        blur: Gaussian blur sigma in pixels (0 = sharp).
        noise: Gaussian pixel noise sigma (0..255 scale).
        jpeg_quality: JPEG re-encoding quality (0 = none).
        noise_seed: seed of the pixel noise.
    """

    pose: tuple[float, float, float]
    iod_px: float
    center: tuple[float, float]
    light_dir: np.ndarray
    ambient: float
    diffuse: float
    specular: float
    light_color: np.ndarray
    exposure: float
    gaze: tuple[float, float]
    background_seed: int
    blur: float
    noise: float
    jpeg_quality: int
    noise_seed: int


def sample_pose(rng: np.random.Generator, max_pose: tuple[float, float, float]) -> tuple[float, float, float]:
    """Head pose with most mass near frontal: a clipped normal over each axis."""
    return tuple(float(np.clip(rng.normal(0.0, m / 2.0), -m, m)) for m in max_pose)  # type: ignore[return-value]


def sample_scene(
    rng: np.random.Generator,
    size: tuple[int, int],
    max_pose: tuple[float, float, float] = (25.0, 20.0, 20.0),
    iod_range: tuple[float, float] | None = None,
    degrade: bool = True,
) -> Scene:
    """Draw a scene for a frame of ``size`` = (width, height)."""
    w, h = size
    short = min(w, h)
    lo, hi = iod_range or (0.2 * short, 0.28 * short)
    iod = float(rng.uniform(lo, hi))
    cx = float(w / 2 + rng.uniform(-0.12, 0.12) * w)
    cy = float(h * 0.45 + rng.uniform(-0.08, 0.06) * h)
    el = rng.uniform(-0.6, 0.9)  # light elevation: mostly from above
    az = rng.uniform(-1.1, 1.1)
    light = np.array([np.sin(az) * np.cos(el), -np.sin(el), np.cos(az) * np.cos(el)])
    light /= np.linalg.norm(light)
    color = np.array([rng.uniform(0.85, 1.12), rng.uniform(0.92, 1.05), rng.uniform(0.85, 1.12)])
    return Scene(
        pose=sample_pose(rng, max_pose),
        iod_px=iod,
        center=(cx, cy),
        light_dir=light,
        ambient=float(rng.uniform(0.35, 0.6)),
        diffuse=float(rng.uniform(0.4, 0.75)),
        specular=float(rng.uniform(0.0, 0.18)),
        light_color=color.astype(np.float32),
        exposure=float(rng.uniform(0.8, 1.15)),
        gaze=(float(rng.normal(0.0, 1.5)), float(rng.normal(0.0, 0.8))),
        background_seed=int(rng.integers(0, 2**31 - 1)),
        blur=float(rng.uniform(0.0, 1.1)) if degrade and rng.random() < 0.5 else 0.0,
        noise=float(rng.uniform(0.0, 5.0)) if degrade else 0.0,
        jpeg_quality=int(rng.integers(45, 96)) if degrade and rng.random() < 0.7 else 0,
        noise_seed=int(rng.integers(0, 2**31 - 1)),
    )
