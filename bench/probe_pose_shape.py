"""Probe (issue 18): learn each face's head-frame pose offset from its own landmark shape.

``probe_pose_offsets.py`` showed that absolute pitch on unseen SynthAU people is 4.6 deg off
(MAE, one offset learned on other people) because each identity's face shape differs from
MediaPipe's canonical face. Here a linear map learns that offset from the face's frontalised
3-D landmarks (the points turned back by the estimated rotation, centred, over the outer eye
distance), on MANY training identities, so that a new face's offset is predicted from its own
shape, frame by frame, with no calibration:

* training data: SynthAU train-split identities 1..N (``--people``), one clip each of
  ``--frames`` frames with the head swept over yaw +-30, pitch +-15, roll +-6 deg at random
  phases and periods, expressions as ``render_clip`` makes them, tracked in video mode;
* target: the residual rotation ``R_off = R_true.T @ R_est`` (head frame) as a rotation vector
  in degrees; model: ridge regression from the 1,434 frontalised coordinates, alpha by
  grouped 5-fold CV over identities (training people only);
* correction: ``R = R_est @ exp(pred).T``.

Scored on held-out pose clips of test identities, exactly the bench's MAE within +-30 deg yaw
with NO per-clip offset removed: clips 3-5 (``probe_pose_offsets.py``'s cache) are the dev
clips; clips 6-8 (``--confirm``) were added after the first look at 3-5 and give the verdict.
Rule, fixed before the held-out clips were scored: the learned correction goes into the
runtime only if every axis's MAE is <= 3 deg AND the per-axis correlation with OpenFace's
``pose_R*`` on its two sample videos does not fall by more than 0.02 on any axis
(``bench_driver.py`` reports both).

First look (2026-12-02, 150 people x 48 frames, one sweep in 1.1-1.6 s): dev clips pitch MAE
3.37 (constant offset 5.13, none 11.13), yaw 2.24, roll 0.73; the training targets' yaw
residual (CV MAE 4.1 deg vs 2.1 on the dev clips) showed tracking lag on sweeps that fast, so
the training clips became 96 frames (one sweep in 2.2-3.2 s). Nothing else changed.

Verdict of the first round (96-frame training clips; 2026-12-02): fresh clips 6-8 pitch 2.91,
yaw 1.54, roll 0.61 (constant offset 3.12 / 1.54 / 0.79); dev clips 3-5 pitch 3.53; OpenFace r
per axis within 0.02 of the plain runtime's. But on OpenFace's videos the correction moved our
mean yaw 1.9 deg further from OpenFace's (-4.0 -> -5.9, -3.5 -> -5.3): the map is not mirror-
symmetric, so it adds a left/right bias to real faces. Second round (``--mirror``; rule fixed
before it was scored): every training frame also enters flipped (a mirrored face must get the
mirrored pose); nothing else changes. It ships if on FRESH clips 9-11 (``--confirm2``) every
axis is <= 3 deg, OpenFace's r per axis does not fall by more than 0.02, and the mean yaw
difference with OpenFace does not grow by more than 1 deg on either video.

    .venv/bin/python bench/probe_pose_shape.py --cache /work/cache/pose_shape.npz \
        --held-out /work/cache/pitch_clips.npz
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import numpy as np
from _driver_synthau import _D, FPS
from scipy.spatial.transform import Rotation

logger = logging.getLogger("probe_pose_shape")


def train_poses(rng: np.random.Generator, frames: int) -> np.ndarray:
    """(frames, 3) yaw, pitch, roll: one sweep of each axis at random phase and period."""
    t = np.arange(frames) / FPS
    span = frames / FPS
    periods = rng.uniform(0.7, 1.0, 3) * span  # one sweep per clip: slow enough for video-mode tracking
    phase = rng.uniform(0, 2 * np.pi, 3)
    amp = np.array([30.0, 15.0, 6.0])
    return amp * np.sin(2 * np.pi * t[:, None] / periods + phase)


def track_training(cache: Path, people: int, frames: int) -> dict[str, np.ndarray]:
    """Landmarks (M, 478, 2), depth (M, 478), true poses (M, 3), identity (M,) of the training clips."""
    from aunce_rt import AUDetector
    from aunce_rt.synthau import render_clip

    if cache.is_file():
        return dict(np.load(cache))
    lms, zs, poses_all, ids = [], [], [], []
    wh = None
    with tempfile.TemporaryDirectory() as tmp, AUDetector(providers="cpu", max_faces=1) as det:
        for person in range(1, people + 1):
            poses = train_poses(np.random.default_rng([person, 18]), frames)
            clip = render_clip(
                Path(tmp) / "c.mp4", identity=person, seed=person, n_frames=frames, poses=poses
            )
            for r in det.stream(clip.path):
                if r.faces:
                    lms.append(r.faces[0].landmarks)
                    zs.append(r.faces[0].depth)
                    poses_all.append(poses[r.index])
                    ids.append(person)
                    wh = (r.width, r.height)
            if person % 10 == 0:
                logger.info("tracked %d/%d training people (%d frames)", person, people, len(ids))
    data = {
        "L": np.asarray(lms, np.float64),
        "Z": np.asarray(zs, np.float64),
        "P": np.asarray(poses_all, np.float64),
        "id": np.asarray(ids),
        "wh": np.asarray(wh),
    }
    np.savez(cache, **data)
    return data


def facemesh_mirror() -> np.ndarray:
    """FaceMesh's mirror permutation (478,), from the mean aligned face of 250 SynthAU renders."""
    from aunce_rt.pipelines._geometry_data import synth_features
    from aunce_rt.pipelines._geometry_fit import mirror_permutation

    with tempfile.TemporaryDirectory() as tmp:
        d = synth_features(Path(tmp), seed=0, split="train", n=250, appearance_model=None, workers=1)
    return mirror_permutation(d["landmarks"][d["found"].astype(bool)].mean(0))


def confirm_clips(cache: Path, clips: tuple[int, ...] = (6, 7, 8)) -> dict[str, np.ndarray]:
    """Pose clips ``clips`` (test identities ``TEST_ID_BASE + k``, the bench's sweeps), cached."""
    from probe_pose_offsets import track

    return track(cache, clips)


def features(points: np.ndarray, z: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """(estimated rotation (3, 3), frontalised shape (1434,)) of one face."""
    from aunce_rt import face_geometry as fg

    rot = fg.face_geometry(points, z, w, h).rotation
    p3 = np.column_stack([points, z * fg.DEPTH_GAIN])
    p3 = p3 - p3.mean(axis=0)
    view = fg.head_rotation(np.column_stack([points, z * fg.DEPTH_GAIN]))
    front = p3 @ view  # head axes
    front /= np.linalg.norm(front[263] - front[33]) + 1e-9
    return rot, front.reshape(-1)


def design(lm: np.ndarray, z: np.ndarray, poses: np.ndarray, w: int, h: int, perm: np.ndarray | None = None):
    """Rotations, features, targets and truths of the found frames; with ``perm`` (FaceMesh's mirror
    permutation), of the horizontally flipped frames instead (x -> w - x, points re-indexed, truth
    mirrored: ``M R M``, M = diag(-1, 1, 1))."""
    from aunce_rt.synthau._face import rotation_matrix

    flip = np.diag([-1.0, 1.0, 1.0])
    rots, feats, targets, truths = [], [], [], []
    for i in range(len(lm)):
        if np.isnan(lm[i, 0, 0]):
            continue
        true = _D @ rotation_matrix(*(float(v) for v in poses[i])) @ _D
        if perm is None:
            rot, f = features(lm[i], z[i], w, h)
        else:
            pts = lm[i][perm].copy()
            pts[:, 0] = w - pts[:, 0]
            rot, f = features(pts, z[i][perm], w, h)
            true = flip @ true @ flip
        rots.append(rot)
        feats.append(f)
        truths.append(true)
        targets.append(Rotation.from_matrix(true.T @ rot).as_rotvec(degrees=True))
    return np.array(rots), np.array(feats), np.array(targets), np.array(truths)


def openface_check(predict, cache: Path) -> str:
    """Per axis on OpenFace's two sample videos: Pearson r with its ``pose_R*`` and the mean
    difference (ours - OpenFace, deg), without and with the learned correction."""
    from aunce_rt import AUDetector
    from aunce_rt.face_geometry import rotation_to_euler
    from aunce_rt.sinks import read_au_csv

    data = Path(__file__).resolve().parents[2] / "shared" / "data"
    names = ("openface_default", "openface_changeLighting")
    if cache.is_file():
        got = dict(np.load(cache))
    else:
        got = {}
        with AUDetector(providers="cpu", max_faces=1) as det:
            for name in names:
                frames = list(det.stream(data / "video" / f"{name}.wmv"))
                lm = np.full((len(frames), 478, 2), np.nan)
                z = np.full((len(frames), 478), np.nan)
                for r in frames:
                    if r.faces:
                        lm[r.index], z[r.index] = r.faces[0].landmarks, r.faces[0].depth
                got[f"L_{name}"], got[f"Z_{name}"] = lm, z
                got[f"wh_{name}"] = np.array([frames[0].width, frames[0].height])
        np.savez(cache, **got)
    lines = [
        "| video | axis | r plain | r corrected | mean ours - OpenFace plain (deg) | corrected (deg) | frames |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        ref = read_au_csv(data / "reference" / "openface2" / f"{name}.openface2.csv")
        lm, z = got[f"L_{name}"], got[f"Z_{name}"]
        w, h = (int(v) for v in got[f"wh_{name}"])
        n = min(len(lm), len(ref["frame"]))
        plain, corr = np.full((n, 3), np.nan), np.full((n, 3), np.nan)
        for i in range(n):
            if np.isnan(lm[i, 0, 0]):
                continue
            rot, f = features(lm[i], z[i], w, h)
            plain[i] = rotation_to_euler(rot)
            corr[i] = rotation_to_euler(rot @ Rotation.from_rotvec(predict(f), degrees=True).as_matrix().T)
        ok = np.isfinite(plain[:, 0]) & (ref["success"][:n] == 1)
        for j, col in enumerate(("pose_Rx", "pose_Ry", "pose_Rz")):
            b = np.degrees(ref[col][:n][ok])
            a0, a1 = plain[ok, j], corr[ok, j]
            lines.append(
                f"| {name} | {col} | {np.corrcoef(a0, b)[0, 1]:.3f} | {np.corrcoef(a1, b)[0, 1]:.3f} "
                f"| {np.mean(a0 - b):+.1f} | {np.mean(a1 - b):+.1f} | {ok.sum()} |"
            )
    return "\n".join(lines)


def mae_table(name: str, est: list[np.ndarray], true: np.ndarray) -> str:
    from aunce_rt.face_geometry import rotation_to_euler

    e = np.array([rotation_to_euler(r) for r in est])
    t = np.array([rotation_to_euler(r) for r in true])
    m = np.abs(t[:, 1]) < 30
    a = np.abs(e - t)[m].mean(axis=0)
    return f"| {name} | {m.sum()} | {a[0]:.2f} | {a[1]:.2f} | {a[2]:.2f} |"


def main() -> int:
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GroupKFold, cross_val_predict

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--held-out", type=Path, required=True, help="probe_pose_offsets.py's cache")
    ap.add_argument("--people", type=int, default=150)
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument(
        "--confirm", type=Path, default=None, help="cache of fresh held-out clips 6-8 (rendered if missing)"
    )
    ap.add_argument("--mirror", action="store_true", help="train on flipped frames too (second round)")
    ap.add_argument("--confirm2", type=Path, default=None, help="cache of fresh clips 9-11 (second round)")
    ap.add_argument("--openface", type=Path, default=None, help="landmark cache of OpenFace's sample videos")
    ap.add_argument("--save", type=Path, default=None, help="write the chosen map (.npz)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    tr = track_training(args.cache, args.people, args.frames)
    w, h = (int(v) for v in tr["wh"])
    rot, x, y, _ = design(tr["L"], tr["Z"], tr["P"], w, h)
    groups = tr["id"][~np.isnan(tr["L"][:, 0, 0])]
    if args.mirror:  # every training frame also enters flipped: a mirrored face gets the mirrored pose
        perm = facemesh_mirror()
        _, xm, ym, _ = design(tr["L"], tr["Z"], tr["P"], w, h, perm)
        x, y, groups = np.concatenate([x, xm]), np.concatenate([y, ym]), np.concatenate([groups, groups])
    logger.info("training rows %d from %d people; target sd %s", len(x), len(set(groups)), y.std(0).round(2))
    mu = x.mean(axis=0)
    best = None
    for alpha in (0.1, 1.0, 10.0, 100.0, 1000.0):
        pred = cross_val_predict(Ridge(alpha=alpha), x - mu, y, groups=groups, cv=GroupKFold(5))
        err = np.abs(pred - y).mean(axis=0)
        logger.info(
            "alpha %g: CV residual MAE (rotvec deg) %s (intercept only %s)",
            alpha,
            err.round(2),
            np.abs(y - y.mean(0)).mean(0).round(2),
        )
        if best is None or err.mean() < best[1]:
            best = (alpha, err.mean())
    model = Ridge(alpha=best[0]).fit(x - mu, y)
    logger.info("chosen alpha %g", best[0])

    sets = {"dev clips 3-5 (probe_pose_offsets cache)": (dict(np.load(args.held_out)), (3, 4, 5))}
    if args.confirm:
        sets["fresh clips 6-8 (scored once, last)"] = (confirm_clips(args.confirm), (6, 7, 8))
    if args.confirm2:
        sets["fresh clips 9-11 (second round's verdict)"] = (
            confirm_clips(args.confirm2, (9, 10, 11)),
            (9, 10, 11),
        )
    const = Rotation.from_rotvec(y.mean(axis=0), degrees=True).as_matrix()
    for title, (ho, clips) in sets.items():
        hw, hh = (int(v) for v in ho["wh"])
        rows = [f"\n{title}\n", "| map | frames (abs yaw < 30) | pitch MAE | yaw MAE | roll MAE |"]
        rows.append("|---|---:|---:|---:|---:|")
        est_plain, est_const, est_shape, truths = [], [], [], []
        for k in clips:
            r, f, _, t = design(ho[f"L{k}"], ho[f"Z{k}"], ho[f"P{k}"], hw, hh)
            pred = model.predict(f - mu)
            est_plain += list(r)
            est_const += [ri @ const.T for ri in r]
            est_shape += [
                ri @ Rotation.from_rotvec(p, degrees=True).as_matrix().T
                for ri, p in zip(r, pred, strict=True)
            ]
            truths += list(t)
        truths = np.array(truths)
        rows.append(mae_table("none (the runtime)", est_plain, truths))
        rows.append(mae_table("constant: mean training offset", est_const, truths))
        rows.append(mae_table(f"shape -> offset (ridge, alpha {best[0]:g})", est_shape, truths))
        print("\n".join(rows))
    if args.openface:
        print("\nOpenFace 2.2's sample videos (a peer, not truth)\n")
        print(openface_check(lambda f: model.predict((f - mu)[None])[0], args.openface))
    if args.save:
        np.savez(args.save, coef=model.coef_, intercept=model.intercept_, mean=mu, alpha=best[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
