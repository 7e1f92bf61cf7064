"""SynthAU frames written on the fly in each supported on-disk format (test helper, not a test)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np


@dataclass(frozen=True)
class Frame:
    """One SynthAU frame: full image (H, W, 3) BGR, iBUG-68 landmarks (68, 2), labels (12,)."""

    image: np.ndarray
    landmarks: np.ndarray
    labels: np.ndarray


@lru_cache(maxsize=4)
def synth_frames(n: int, seed: int = 0) -> tuple[Frame, ...]:
    """``n`` SynthAU samples (cached per process)."""
    from aunce_rt.synthau import SynthAU

    gen = SynthAU(seed=seed, split="train")
    out = []
    for i in range(n):
        s = gen.render_sample(i)
        out.append(
            Frame(s.image, np.asarray(s.landmarks, dtype=np.float64), np.asarray(s.labels, dtype=np.int8))
        )
    return tuple(out)


def write_image(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


def write_bp4d(
    root: Path,
    sessions: dict[tuple[str, str], int],
    au_codes: tuple[int, ...],
    seed: int = 0,
    *,
    unknown_at: tuple[int, int] | None = None,
    landmarks: bool = True,
) -> dict[str, np.ndarray]:
    """BP4D raw layout: AUCoding/AU_OCC/<subj>_<sess>.csv + Sequences/<subj>/<sess>/<frame>.jpg (+ .npy landmarks).

    The CSV has every AU 1..27 as a column (extra AUs ignored by readers); frame
    numbers start at 1 and images are written with 4-digit padding. ``unknown_at``
    = (frame row, AU column index) gets the value 9 (not coded). Returns the
    labels (frames, len(au_codes)) written per "subj_sess".
    """
    frames = synth_frames(sum(sessions.values()), seed)
    it = iter(frames)
    truth = {}
    for (subj, sess), count in sessions.items():
        csv_path = root / "AUCoding" / "AU_OCC" / f"{subj}_{sess}.csv"
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        all_aus = list(range(1, 28))
        rows, labels = [], []
        for k in range(count):
            f = next(it)
            frame_no = k + 1
            values = dict.fromkeys(all_aus, 0)
            for code, v in zip(au_codes, f.labels, strict=True):
                values[code] = int(v)
            lab = [values[c] for c in au_codes]
            if unknown_at is not None and unknown_at[0] == k:
                values[au_codes[unknown_at[1]]] = 9
                lab[unknown_at[1]] = -1
            labels.append(lab)
            rows.append([frame_no, *(values[c] for c in all_aus)])
            img = write_image(root / "Sequences" / subj / sess / f"{frame_no:04d}.jpg", f.image)
            if landmarks:
                np.save(img.with_suffix(".npy"), f.landmarks)
        with csv_path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["0", *all_aus])
            w.writerows(rows)
        truth[f"{subj}_{sess}"] = np.array(labels, dtype=np.int8)
    return truth
