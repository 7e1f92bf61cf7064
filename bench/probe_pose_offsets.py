"""Probe (issue 18): head pose error on SynthAU with ONE offset learned on other people.

``bench_driver.py`` removes each pose clip's own constant rotation offset (each SynthAU
identity's "frontal" against MediaPipe's canonical face). Here the offset is learned once, on
clips 0-2 (identities ``TEST_ID_BASE + 0..2``), and applied to the held-out clips 3-5, as a user
without a per-person calibration would see it; and the head's vertical axis is rebuilt from
other landmark pairs (``face_geometry._Y_PAIRS``) to see whether the chin and lips cause the
identity-dependent pitch. Landmarks are cached in ``--cache``.

    .venv/bin/python bench/probe_pose_offsets.py --cache /tmp/pose_clips.npz
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from _driver_synthau import _D, FRAMES, _nearest_rotation, sweep_poses

VARIANTS = {
    "current (forehead/nose/lips/chin pairs)": None,
    "upper face only (10-2, 151-4, 9-5, 168-2)": np.array([(10, 2), (151, 4), (9, 5), (168, 2)]),
    "forehead to subnasale (10-2, 151-2, 9-2)": np.array([(10, 2), (151, 2), (9, 2)]),
    "no chin (10-2, 168-2, 9-200, 151-175)": np.array([(10, 2), (168, 2), (9, 200), (151, 175)]),
}


def track(cache: Path, clips: tuple[int, ...] = tuple(range(6))) -> dict[str, np.ndarray]:
    """Landmarks (T, 478, 2), depth (T, 478) and true poses (T, 3) of pose clips ``clips``, cached."""
    from aunce_rt import AUDetector
    from aunce_rt.synthau import TEST_ID_BASE, render_clip

    if cache.is_file():
        return dict(np.load(cache))
    data: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp, AUDetector(providers="cpu", max_faces=1) as det:
        for k in clips:
            poses = sweep_poses(k)
            clip = render_clip(
                Path(tmp) / f"p{k}.mp4", identity=TEST_ID_BASE + k, seed=k, n_frames=FRAMES, poses=poses
            )
            lm, z = np.full((FRAMES, 478, 2), np.nan), np.full((FRAMES, 478), np.nan)
            for r in det.stream(clip.path):
                if r.faces:
                    lm[r.index], z[r.index] = r.faces[0].landmarks, r.faces[0].depth
                    data["wh"] = np.array([r.width, r.height])
            data[f"L{k}"], data[f"Z{k}"], data[f"P{k}"] = lm, z, poses
    np.savez(cache, **data)
    return data


def main() -> int:
    from aunce_rt import face_geometry as fg
    from aunce_rt.synthau._face import rotation_matrix

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "pose_clips.npz")
    args = ap.parse_args()
    d = track(args.cache)
    w, h = (int(v) for v in d["wh"])
    original = fg._Y_PAIRS.copy()
    print(
        "| y-axis pairs | offset learned on clips 0-2 (pitch, yaw, roll) | pitch MAE | yaw MAE | roll MAE |"
    )
    print("|---|---|---:|---:|---:|")
    for name, pairs in VARIANTS.items():
        fg._Y_PAIRS = original if pairs is None else pairs
        est, tru = {}, {}
        for k in range(6):
            found = np.flatnonzero(~np.isnan(d[f"L{k}"][:, 0, 0]))
            est[k] = [fg.face_geometry(d[f"L{k}"][i], d[f"Z{k}"][i], w, h).rotation for i in found]
            tru[k] = [_D @ rotation_matrix(*(float(v) for v in d[f"P{k}"][i])) @ _D for i in found]
        common = _nearest_rotation(
            sum(t.T @ e for k in (0, 1, 2) for t, e in zip(tru[k], est[k], strict=True))
        )
        e = np.array([fg.rotation_to_euler(r @ common.T) for k in (3, 4, 5) for r in est[k]])
        t = np.array([fg.rotation_to_euler(r) for k in (3, 4, 5) for r in tru[k]])
        mae = np.abs(e - t)[np.abs(t[:, 1]) < 30].mean(0)
        off = ", ".join(f"{v:.1f}" for v in fg.rotation_to_euler(common))
        print(f"| {name} | ({off}) | {mae[0]:.2f} | {mae[1]:.2f} | {mae[2]:.2f} |")
    fg._Y_PAIRS = original
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
