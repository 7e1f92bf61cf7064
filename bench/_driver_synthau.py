"""SynthAU parts of bench_driver.py: head pose swept to +-30 deg yaw, and eye gaze, against truth.

Pose clips (``render_clip(poses=...)``, 240 frames at 30 fps): yaw sweeps +-30 deg
(one 8 s period), pitch +-15 deg (5.3 s), roll +-6 deg (6.7 s), phases from the clip
number. Truth: SynthAU's ``rotation_matrix(yaw, pitch, roll)`` (its axes: z towards the
camera; yaw > 0 turns to image right) turned into OpenFace's axes (``D R D``, D =
diag(1, 1, -1)) and read as OpenFace's pitch, yaw, roll. One constant head-frame
rotation per clip is removed (the landmark frame's "straight" face is not the
renderer's): ``R_est ~ R_true @ R_off``, ``R_off`` the least-squares rotation.
Clips 0 and 1 set `face_geometry.DEPTH_GAIN`; the bench starts at clip 3 (held out).

Gaze clips: the same head motion at a third of the amplitude, irises moved in the face
plane by ``gx = 4 sin(..)``, ``gy = 2.5 sin(..)`` mm. Truth (eye in head, radians):
``asin(g / 12 mm)``, an adult eyeball's radius (SynthAU draws an iris offset, not a
turned eyeball). Ours: each eye's gaze vector in head axes (``R.T @ g``), their mean,
``atan2(x, -z)`` and ``atan2(y, -z)``. Per-clip offset removed; Pearson r, the slope of
ours on truth and MAE in degrees.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np

from aunce_rt import AUDetector
from aunce_rt.face_geometry import rotation_to_euler
from aunce_rt.synthau import TEST_ID_BASE, render_clip
from aunce_rt.synthau._face import rotation_matrix
from aunce_rt.synthau._identity import make_identity

FPS = 30.0
FRAMES = 240
FIRST_HELD_OUT = 3  # clips 0 and 1 chose DEPTH_GAIN
EYEBALL_MM = 12.0
_D = np.diag([1.0, 1.0, -1.0])
# |yaw| bins in OpenFace's Euler order: SynthAU's +-30 deg sweep reads up to ~33 deg there
# when pitch is large (R = Rz Rx Ry is not Rx Ry Rz), hence the last bin.
YAW_BINS = ((0.0, 10.0), (10.0, 20.0), (20.0, 30.0), (30.0, 90.0))


def sweep_poses(k: int, scale: float = 1.0) -> np.ndarray:
    """(FRAMES, 3) SynthAU yaw, pitch, roll (degrees) of pose clip ``k``."""
    t = np.arange(FRAMES) / FPS
    return scale * np.column_stack(
        [
            30.0 * np.sin(2 * np.pi * t / 8.0 + k),
            15.0 * np.sin(2 * np.pi * t / 5.3 + 2 * k),
            6.0 * np.sin(2 * np.pi * t / 6.7 + k),
        ]
    )


def _nearest_rotation(m: np.ndarray) -> np.ndarray:
    u, _, vt = np.linalg.svd(m)
    if np.linalg.det(u @ vt) < 0:
        u[:, -1] *= -1
    return u @ vt


def _track(detector: AUDetector, path: Path) -> dict[int, np.ndarray]:
    """Frame index -> (3, 6): rotation, the two gaze vectors, and in the last column the
    subject's right iris landmark's offset from its eye corners' midpoint over the eye's
    width (x, y, 0): what MediaPipe's iris landmark itself does, before any geometry."""
    out = {}
    for r in detector.stream(path):
        if r.faces:
            g = r.faces[0].geometry(r.width, r.height)
            p = np.asarray(r.faces[0].landmarks, np.float64)
            iris = (p[468] - 0.5 * (p[33] + p[133])) / np.linalg.norm(p[133] - p[33])
            out[r.index] = np.column_stack([g.rotation, g.gaze_0, g.gaze_1, [iris[0], iris[1], 0.0]])
    return out


def pose_table(detector: AUDetector, clips: int) -> str:
    """MAE per axis and per |yaw| bin over ``clips`` held-out sweep clips."""
    est, true, offsets, pairs = [], [], [], []
    found = 0
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(FIRST_HELD_OUT, FIRST_HELD_OUT + clips):
            poses = sweep_poses(k)
            clip = render_clip(
                Path(tmp) / f"p{k}.mp4", identity=TEST_ID_BASE + k, seed=k, n_frames=FRAMES, poses=poses
            )
            tracked = _track(detector, clip.path)
            found += len(tracked)
            r_est = [m[:, :3] for m in tracked.values()]  # (3, 3) rotations
            r_true = [_D @ rotation_matrix(*(float(v) for v in poses[i])) @ _D for i in tracked]
            off = _nearest_rotation(sum(t.T @ e for t, e in zip(r_true, r_est, strict=True)))
            offsets.append("(" + ", ".join(f"{v:.1f}" for v in rotation_to_euler(off)) + ")")
            est += [rotation_to_euler(e @ off.T) for e in r_est]
            true += [rotation_to_euler(t) for t in r_true]
            pairs += list(zip(r_true, r_est, strict=True))
    # one offset for every clip (a fixed convention between the renderer's frontal head and
    # MediaPipe's canonical face), instead of one per clip (per identity)
    common = _nearest_rotation(sum(t.T @ e for t, e in pairs))
    err_common = np.abs(np.array([rotation_to_euler(e @ common.T) for _, e in pairs]) - np.array(true))
    e, t = np.array(est), np.array(true)
    err, yaw = np.abs(e - t), np.abs(t[:, 1])
    lines = [
        f"{clips} clips x {FRAMES} frames, face found in {found}/{clips * FRAMES}; removed head-frame "
        f"offsets (pitch, yaw, roll deg): {', '.join(offsets)}\n",
        "| true abs(yaw) | frames | pitch MAE (deg) | yaw MAE (deg) | roll MAE (deg) |",
        "|---|---|---|---|---|",
    ]
    for lo, hi in YAW_BINS:
        m = (yaw >= lo) & (yaw < hi)
        a = err[m].mean(axis=0)
        label = f"{lo:.0f}-{hi:.0f}" if hi <= 30 else f"over {lo:.0f}"
        lines.append(f"| {label} | {m.sum()} | {a[0]:.2f} | {a[1]:.2f} | {a[2]:.2f} |")
    for label, m in (("0-30", yaw < 30.0), ("all", yaw >= 0)):
        a = err[m].mean(axis=0)
        lines.append(f"| {label} | {m.sum()} | {a[0]:.2f} | {a[1]:.2f} | {a[2]:.2f} |")
    m = yaw < 30.0
    a = err_common[m].mean(axis=0)
    lines.append(
        f"| 0-30, ONE offset for all clips {tuple(round(v, 1) for v in rotation_to_euler(common))} "
        f"| {m.sum()} | {a[0]:.2f} | {a[1]:.2f} | {a[2]:.2f} |"
    )
    return "\n".join(lines)


def _gaze_truth(k: int) -> np.ndarray:
    t = np.arange(FRAMES) / FPS
    return np.column_stack([4.0 * np.sin(2 * np.pi * t / 3.1 + k), 2.5 * np.sin(2 * np.pi * t / 2.3 + 2 * k)])


def head_gaze_angles(stacked: np.ndarray) -> tuple[float, float]:
    """Eye-in-head gaze angles (x, y) in radians from a (3, 5+) rotation + two gaze vectors."""
    rot, g = stacked[:, :3], stacked[:, 3] + stacked[:, 4]
    h = rot.T @ g
    return math.atan2(h[0], -h[2]), math.atan2(h[1], -h[2])


def gaze_table(detector: AUDetector, clips: int) -> str:
    """Pearson r, slope and MAE of eye-in-head gaze angles vs the rendered iris offsets."""
    rows = {"x (horizontal)": ([], []), "y (vertical)": ([], [])}
    iris_ours, iris_true = [], []
    found = 0
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(FIRST_HELD_OUT, FIRST_HELD_OUT + clips):
            gaze = _gaze_truth(k)
            clip = render_clip(
                Path(tmp) / f"g{k}.mp4",
                identity=TEST_ID_BASE + 10 + k,
                seed=10 + k,
                n_frames=FRAMES,
                poses=sweep_poses(k, scale=1 / 3),
                gaze=gaze,
            )
            tracked = _track(detector, clip.path)
            found += len(tracked)
            ours = np.degrees([head_gaze_angles(m) for m in tracked.values()])
            truth = np.degrees(np.arcsin(gaze[list(tracked)] / EYEBALL_MM))
            eye = make_identity(TEST_ID_BASE + 10 + k).shape[36:40]  # subject's right eye, mm
            iris_ours.append(np.array([m[:2, 5] for m in tracked.values()]))
            iris_true.append(gaze[list(tracked)] / np.linalg.norm(eye[3] - eye[0]))
            for j, (a, b) in enumerate(rows.values()):
                a.append(ours[:, j] - ours[:, j].mean())
                b.append(truth[:, j] - truth[:, j].mean())
    lines = [
        f"{clips} clips x {FRAMES} frames, face found in {found}/{clips * FRAMES}\n",
        "| axis | Pearson r | slope (ours on truth) | MAE (deg) | truth range (deg) |",
        "|---|---|---|---|---|",
    ]
    for axis, (a, b) in rows.items():
        o, t = np.concatenate(a), np.concatenate(b)
        r = float(np.corrcoef(o, t)[0, 1])
        slope = float(np.polyfit(t, o, 1)[0])
        mae = float(np.abs(o - t).mean())
        lines.append(f"| {axis} | {r:.3f} | {slope:.2f} | {mae:.2f} | {t.min():.1f}..{t.max():.1f} |")
    o, t = np.concatenate(iris_ours), np.concatenate(iris_true)
    o, t = o - o.mean(axis=0), t - t.mean(axis=0)
    slopes = [float(np.polyfit(t[:, j], o[:, j], 1)[0]) for j in (0, 1)]
    lines.append(
        f"\nMediaPipe's iris landmark alone (offset from the eye corners' midpoint over the eye width, "
        f"vs the rendered iris offset over the eye width): slope x {slopes[0]:.2f}, y {slopes[1]:.2f}"
    )
    return "\n".join(lines)
