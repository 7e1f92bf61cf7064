"""Calibrate the face screening bounds and the re-identification threshold on SynthAU.

Runs FaceMesh (still-image mode) on SynthAU renders and prints, per quantity that
``aunce_rt.screening.plausibility`` checks, the range seen; and for the geometry
signature of ``aunce_rt.tracking.face_signature``, the distances between renders of
one person and of different people. No test video is used.

    python bench/calib_screening.py --samples 200
"""

from __future__ import annotations

import argparse
import logging
from collections import defaultdict

import numpy as np

from aunce_rt.landmarks import FaceMeshBackend
from aunce_rt.screening import face_features
from aunce_rt.synthau import SynthAU
from aunce_rt.tracking import face_signature, signature_distance

logger = logging.getLogger("calib_screening")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--identities", type=int, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ds = SynthAU(seed=3, split="test", num_identities=args.identities)
    backend = FaceMeshBackend(static=True, max_faces=1)
    feats: dict[str, list[float]] = defaultdict(list)
    sigs: list[tuple[int, np.ndarray]] = []
    for i in range(args.samples):
        s = ds.render_sample(i)
        faces = backend.process(np.ascontiguousarray(s.image[:, :, ::-1]), 0)
        if not faces:
            continue
        for k, v in face_features(faces[0].points).items():
            feats[k].append(v)
        sigs.append((s.identity, face_signature(s.image, faces[0].points)))
    backend.close()
    logger.info("faces found: %d of %d", len(sigs), args.samples)
    for k, v in feats.items():
        a = np.array(v)
        logger.info(
            "%-11s min %.3f p1 %.3f median %.3f p99 %.3f max %.3f",
            k,
            a.min(),
            *np.percentile(a, [1, 50, 99]),
            a.max(),
        )
    same, diff = [], []
    for i in range(len(sigs)):
        for j in range(i + 1, len(sigs)):
            d = signature_distance(sigs[i][1], sigs[j][1])
            (same if sigs[i][0] == sigs[j][0] else diff).append(d)
    for name, d in (("same person", same), ("different", diff)):
        a = np.array(d)
        logger.info(
            "signature %-11s n %5d p5 %.4f median %.4f p95 %.4f", name, a.size, *np.percentile(a, [5, 50, 95])
        )


if __name__ == "__main__":
    main()
