"""SynthAU as a dataset source: render aligned crops once into a cache folder and index them.

Uses the SynthAU contract (``SynthAU.render_sample``, ``SynthAU.aligned_crop``):
crops are aligned with ``aunce_rt.align`` like every other dataset, subjects are
SynthAU identities ("id<k>"), so the protocol's folds are identity-exclusive.
The manifest is written last, so an interrupted render is redone, never half-read.

Example:
    >>> manifest = synthau_manifest("cache/synthau", frames=240, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from aunce_rt.aus import BENCHMARK_AUS
from training.data.formats import write_manifest
from training.data.index import AUIndex


def synthau_manifest(
    out_dir: str | Path,
    *,
    frames: int,
    seed: int,
    identities: int = 24,
    noise: float = 0.0,
    trace_max: float | None = None,
) -> Path:
    """Render ``frames`` SynthAU samples (train split) as 256x256 aligned crops; return the manifest.

    Args:
        out_dir: cache folder (crops/ and manifest.csv inside); reused when it
            already holds the same request.
        frames: number of samples.
        identities: number of SynthAU people (the subjects of the folds).
        seed: SynthAU seed.
        noise: label noise rate (the manifest stores the noisy labels when > 0).
        trace_max: largest trace intensity of absent AUs (None: SynthAU's default).
    """
    import numpy as np

    from training.data.synthau import SynthAU

    out_dir = Path(out_dir).resolve()  # manifest paths are written relative to it
    manifest = out_dir / "manifest.csv"
    spec: dict[str, float | int] = {"frames": frames, "seed": seed, "identities": identities, "noise": noise}
    if trace_max is not None:
        spec["trace_max"] = trace_max
    kw = {} if trace_max is None else {"trace_max": trace_max}
    spec_file = out_dir / "synthau.json"
    if manifest.is_file() and spec_file.is_file() and json.loads(spec_file.read_text()) == spec:
        return manifest
    (out_dir / "crops").mkdir(parents=True, exist_ok=True)
    gen = SynthAU(seed=seed, split="train", noise=noise, num_identities=identities, **kw)
    todo = [i for i in range(frames) if not (out_dir / "crops" / f"{i:05d}.png").is_file()]
    todo = gen.render_order(todo)  # each person's samples together: their head is built once
    workers = max(1, min(os.cpu_count() or 1, 8)) if len(todo) >= 64 else 1
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        share = -(-len(todo) // workers)
        chunks = [todo[k : k + share] for k in range(0, len(todo), share)]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            list(pool.map(_render_crops, [(out_dir, seed, noise, identities, kw, c) for c in chunks]))
    else:
        _render_crops((out_dir, seed, noise, identities, kw, todo))
    paths, subjects, labels = [], [], []
    for i in range(frames):
        identity, clean, noisy, _ = gen.truth(i)
        paths.append(str(out_dir / "crops" / f"{i:05d}.png"))
        subjects.append(f"id{int(identity)}")
        labels.append(noisy if noise > 0 else clean)
    codes = tuple(getattr(gen, "au_codes", BENCHMARK_AUS["synthau"]))
    index = AUIndex(tuple(paths), np.asarray(labels, dtype=np.int8), tuple(subjects), codes, source="synthau")
    write_manifest(index, manifest, root=out_dir)
    spec_file.write_text(json.dumps(spec))
    return manifest


def _render_crops(job: tuple[Path, int, float, int, dict, list[int]]) -> None:
    """Render and write the aligned crops of the sample indices in ``job`` (a worker's share)."""
    import cv2

    from training.data.synthau import SynthAU

    out_dir, seed, noise, identities, kw, indices = job
    gen = SynthAU(seed=seed, split="train", noise=noise, num_identities=identities, **kw)
    for i in indices:
        path = out_dir / "crops" / f"{i:05d}.png"
        tmp = path.with_name(f".tmp.{path.name}")
        cv2.imwrite(str(tmp), gen.aligned_crop(gen.render_sample(i)))
        os.replace(tmp, path)
