"""Driver-monitoring bench (issue 18): pose vs OpenFace, blinks, SynthAU pose error, monitor cost.

Prints markdown tables (a script, not a test):

1. On the two OpenFace 2.2 sample videos (``../shared/data/video/openface_*.wmv``,
   reference CSVs in ``../shared/data/reference/openface2/``): Pearson correlation
   over time of our head rotation (``aunce_rt.face_geometry``, the CSV's
   ``pose_Rx/Ry/Rz``) with OpenFace's, per axis, on frames where both found the face;
   the reference's standard deviation says how much the head moves on that axis.
   Gaze: the reference CSVs were made with gaze off (``Gaze: 0`` in their
   ``*_of_details.txt``), so our gaze is compared with MediaPipe's eyeLook*
   blendshapes (``reference/mediapipe_blendshapes/``; a peer model, not truth):
   Pearson r of our eye-in-head angles with (look out - look in), (look down - look up).
   Blinks: our ``blink`` + ``eye_closure`` events vs OpenFace's ``AU45_c`` episodes.
2. SynthAU clips (``_driver_synthau.py``): head pose swept to +-30 deg yaw and +-15 deg
   pitch, MAE per axis per true |yaw| bin on held-out clips; eye gaze from rendered iris
   offsets, Pearson r, slope and MAE of the eye-in-head angles.
2b. A SynthAU clip with eye closures of known timing (``render_clip(eye_closure=...)``:
   0.15-0.3 s blinks every 2-6 s, plus 0.8-3 s closures; lids fully shut): blink
   detection F1 (our ``blink`` + ``eye_closure`` events vs the true closure episodes,
   matched when they overlap) and PERCLOS (P80 over 60 s) vs the truth at several times.
   Seed 1: the blink thresholds of `MonitorConfig` were set on a 30 s clip of seed 0.
3. Monitor cost per frame and memory on a 30-minute equivalent stream (54,000
   frames at 30 fps, real landmarks of the sample video replayed with their
   timestamps shifted): ``DriverMonitor.update`` including the geometry, and the
   state machine alone (``observe``); traced Python memory after 10 and 30 minutes.

    .venv/bin/python bench/bench_driver.py [--synthau-clips 3] [--minutes 30] [--depth-gain 1.0]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

import numpy as np
from _driver_synthau import gaze_table, head_gaze_angles, pose_table

from aunce_rt import AUDetector, face_geometry
from aunce_rt.driver import DriverMonitor, FaceSignals
from aunce_rt.results import FrameResult
from aunce_rt.sinks import read_au_csv

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
VIDEOS = ("openface_default", "openface_changeLighting")
log = logging.getLogger("bench_driver")


def run_video(detector: AUDetector, name: str) -> list[FrameResult]:
    return list(detector.stream(DATA / "video" / f"{name}.wmv"))


def _episodes(flags: np.ndarray) -> int:
    f = np.asarray(flags, bool).astype(int)
    return int(np.sum(np.diff(np.concatenate([[0], f])) == 1))


def _closures(frames: list[FrameResult], eye: str) -> int:
    """Blink + eye_closure events of the first face, from both eyes' mean EAR or one eye's."""
    monitor, count = DriverMonitor(), 0
    for r in frames:
        if r.faces:
            g = r.faces[0].geometry(r.width, r.height)
            s = FaceSignals.from_geometry(g)
            if eye != "both":
                s = replace(s, ear=g.ear_right if eye == "right" else g.ear_left)
            count += sum(
                e.kind in ("blink", "eye_closure") for e in monitor.observe(0, r.timestamp, r.index, s)
            )
    return count


def openface_table(results: dict[str, list[FrameResult]]) -> str:
    lines = [
        "| video | axis | r (ours vs OpenFace) | OpenFace sd (rad) | ours sd (rad) | frames |",
        "|---|---|---|---|---|---|",
    ]
    blink_lines = [
        "| video | our blinks + closures (both eyes) | right eye alone | left eye alone | OpenFace AU45_c episodes |",
        "|---|---|---|---|---|",
    ]
    for name, frames in results.items():
        ref = read_au_csv(DATA / "reference" / "openface2" / f"{name}.openface2.csv")
        n = min(len(frames), len(ref["frame"]))
        ours = np.full((n, 3), np.nan)
        for i, r in enumerate(frames[:n]):
            if r.faces:
                c = r.faces[0].geometry(r.width, r.height).openface_columns()
                ours[i] = (c["pose_Rx"], c["pose_Ry"], c["pose_Rz"])
        ok = np.isfinite(ours[:, 0]) & (ref["success"][:n] == 1)
        for j, axis in enumerate(("pose_Rx (pitch)", "pose_Ry (yaw)", "pose_Rz (roll)")):
            a, b = ours[ok, j], ref[axis.split()[0]][:n][ok]
            r = float(np.corrcoef(a, b)[0, 1])
            lines.append(f"| {name} | {axis} | {r:.3f} | {b.std():.3f} | {a.std():.3f} | {ok.sum()} |")
        counts = [_closures(frames, eye) for eye in ("both", "right", "left")]
        blink_lines.append(
            f"| {name} | {' | '.join(map(str, counts))} | {_episodes(ref['AU45_c'][:n] > 0)} |"
        )
    return "\n".join(lines) + "\n\n" + "\n".join(blink_lines)


def _blendshape_gaze(name: str, n: int) -> np.ndarray:
    """(n, 2) MediaPipe blendshape gaze proxies: (look to the subject's left, look down)."""
    b = read_au_csv(DATA / "reference" / "mediapipe_blendshapes" / f"{name}.wmv.blendshapes.csv")
    left = 0.5 * (b["eyeLookOutLeft"] - b["eyeLookInLeft"] + b["eyeLookInRight"] - b["eyeLookOutRight"])
    down = 0.5 * (b["eyeLookDownLeft"] + b["eyeLookDownRight"] - b["eyeLookUpLeft"] - b["eyeLookUpRight"])
    out = np.full((n, 2), np.nan)
    frames = b["frame"].astype(int)
    keep = frames < n
    out[frames[keep]] = np.column_stack([left, down])[keep]
    return out


def gaze_real_table(results: dict[str, list[FrameResult]]) -> str:
    """Our eye-in-head gaze angles vs MediaPipe's eyeLook* blendshapes, Pearson r over time."""
    lines = [
        "| video | axis | r, eye in head (ours vs blendshapes) | r, camera frame | ours sd (deg) | frames |",
        "|---|---|---|---|---|---|",
    ]
    for name, frames in results.items():
        ref = _blendshape_gaze(name, len(frames))
        head, cam = np.full((len(frames), 2), np.nan), np.full((len(frames), 2), np.nan)
        for i, r in enumerate(frames):
            if r.faces:
                g = r.faces[0].geometry(r.width, r.height)
                head[i] = head_gaze_angles(np.column_stack([g.rotation, g.gaze_0, g.gaze_1]))
                cam[i] = (g.gaze_angle_x, g.gaze_angle_y)
        ok = np.isfinite(head[:, 0]) & np.isfinite(ref[:, 0])
        for j, axis in enumerate(("x (+ = image right / subject's left)", "y (+ = down)")):
            r_head = float(np.corrcoef(head[ok, j], ref[ok, j])[0, 1])
            r_cam = float(np.corrcoef(cam[ok, j], ref[ok, j])[0, 1])
            sd = float(np.degrees(head[ok, j].std()))
            lines.append(f"| {name} | {axis} | {r_head:.3f} | {r_cam:.3f} | {sd:.2f} | {ok.sum()} |")
    return "\n".join(lines)


def closure_truth(seconds: float, fps: float, seed: int) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """(T,) lid closure and the true (start, end) episodes: blinks and longer closures."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fps)
    closure = np.zeros(n)
    episodes = []
    t = 2.5  # the first seconds open: the monitor learns the open eye
    while True:
        t += rng.uniform(2.0, 6.0)
        dur = rng.uniform(0.8, 3.0) if rng.random() < 0.25 else rng.uniform(0.15, 0.3)
        if t + dur > seconds - 1.0:
            break
        a, b = int(round(t * fps)), int(round((t + dur) * fps))
        closure[a:b] = 1.0
        episodes.append((a / fps, b / fps))
        t += dur
    return closure, episodes


def closure_table(detector: AUDetector, seconds: float, seed: int = 1) -> str:
    from aunce_rt.synthau import TEST_ID_BASE, render_clip

    fps = 30.0
    closure, truth = closure_truth(seconds, fps, seed)
    monitor = DriverMonitor()
    predicted, perclos = [], []
    checks = [c for c in (60.0, 65.0, 70.0, 75.0, 80.0, 85.0) if c < seconds]
    with tempfile.TemporaryDirectory() as tmp:
        clip = render_clip(
            Path(tmp) / "blinks.mp4",
            identity=TEST_ID_BASE + 7,
            n_frames=len(closure),
            seed=seed,
            eye_closure=closure,
        )
        found = 0
        for r in detector.stream(clip.path):
            found += bool(r.faces)
            for e in monitor.update(r):
                if e.kind in ("blink", "eye_closure"):
                    predicted.append((e.start, e.end))
            if checks and r.timestamp >= checks[0] - 1e-9:
                state = monitor.states.get(0)
                window = (np.arange(len(closure)) / fps > r.timestamp - 60.0) & (
                    np.arange(len(closure)) / fps <= r.timestamp
                )
                true_perclos = float((closure[window] >= 0.8).mean())
                perclos.append((checks.pop(0), None if state is None else state.perclos, true_perclos))
    matched_true = sum(any(ps < te and pe > ts for ps, pe in predicted) for ts, te in truth)
    matched_pred = sum(any(ps < te and pe > ts for ts, te in truth) for ps, pe in predicted)
    recall = matched_true / max(len(truth), 1)
    precision = matched_pred / max(len(predicted), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    lines = [
        f"{len(closure)} frames, face found in {found}; {len(truth)} true closures "
        f"({sum(e - s <= 0.5 for s, e in truth)} blinks <= 0.5 s), {len(predicted)} detected\n",
        "| measure | value |",
        "|---|---|",
        f"| precision | {precision:.3f} |",
        f"| recall | {recall:.3f} |",
        f"| F1 | {f1:.3f} |",
    ]
    for at, ours, true in perclos:
        ours_s = "-" if ours is None else f"{ours:.3f}"
        err = "-" if ours is None else f"{abs(ours - true):.3f}"
        lines.append(f"| PERCLOS at {at:.0f} s: ours / truth / abs error | {ours_s} / {true:.3f} / {err} |")
    return "\n".join(lines)


def cost_table(frames: list[FrameResult], minutes: float) -> str:
    fps = 30.0
    n = int(minutes * 60 * fps)
    with_face = [r for r in frames if r.faces]
    signals = [FaceSignals.from_geometry(r.faces[0].geometry(r.width, r.height)) for r in with_face]
    lines = ["| measure | value |", "|---|---|"]

    def feed(monitor: DriverMonitor, i: int, use_update: bool) -> None:
        if use_update:
            r = with_face[i % len(with_face)]
            monitor.update(replace(r, index=i, timestamp=i / fps))
        else:
            monitor.observe(0, i / fps, i, signals[i % len(signals)])

    for label, use_update in (("update (geometry + monitor)", True), ("observe (monitor only)", False)):
        monitor = DriverMonitor()
        t0 = time.perf_counter()
        for i in range(n):
            feed(monitor, i, use_update)
        lines.append(f"| {label}, ms/frame | {1e3 * (time.perf_counter() - t0) / n:.4f} |")
        monitor = DriverMonitor()
        tracemalloc.start()
        mem = {}
        for i in range(n):
            feed(monitor, i, use_update)
            if i + 1 in (int(n / 3), n):
                mem[i + 1] = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        (a, ma), (b, mb) = sorted(mem.items())
        lines.append(
            f"| {label}, traced memory after {a / fps / 60:.0f} / {b / fps / 60:.0f} min "
            f"| {ma / 1024:.0f} KiB / {mb / 1024:.0f} KiB |"
        )
    g0 = time.perf_counter()
    for r in with_face:
        r.faces[0].geometry(r.width, r.height)
    lines.append(
        f"| face_geometry alone, ms/face | {1e3 * (time.perf_counter() - g0) / len(with_face):.4f} |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthau-clips", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--closure-seconds", type=float, default=80.0, help="0 skips the blink clip")
    parser.add_argument(
        "--depth-gain",
        type=float,
        default=None,
        help="override face_geometry.DEPTH_GAIN (1.0 = MediaPipe's depth as is: the 'before' figures)",
    )
    args = parser.parse_args()
    if args.depth_gain is not None:
        face_geometry.DEPTH_GAIN = args.depth_gain
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    detector = AUDetector(num_threads=1)
    results = {name: run_video(detector, name) for name in VIDEOS}
    print("## Head rotation vs OpenFace 2.2 (Pearson r over time)\n")
    print(openface_table(results))
    print("\n## Gaze vs MediaPipe's eyeLook* blendshapes (Pearson r over time)\n")
    print(gaze_real_table(results))
    if args.synthau_clips > 0:
        print("\n## SynthAU head pose swept to +-30 deg yaw: error per true yaw bin (held-out clips)\n")
        print(pose_table(detector, args.synthau_clips))
        print("\n## SynthAU eye gaze: eye-in-head angles vs the rendered iris offsets\n")
        print(gaze_table(detector, args.synthau_clips))
    if args.closure_seconds > 0:
        print("\n## SynthAU eye closures: blink detection and PERCLOS against truth\n")
        print(closure_table(detector, args.closure_seconds))
    print(f"\n## Monitor cost, {args.minutes:g}-minute equivalent stream at 30 fps\n")
    print(cost_table(results[VIDEOS[0]], args.minutes))


if __name__ == "__main__":
    main()
