"""Unlabelled SynthAU face videos: CLP pretraining material of people the probe never sees.

Video ``k`` shows SynthAU person ``PRETRAIN_ID_BASE + k`` (an identity range apart
from SynthAU's train and test people, so the linear probe's subjects never appear
in pretraining) changing expression and moving their head
(``aunce_rt.synthau.render_clip``). The renderer's truth file is deleted: these
videos are unlabelled. Finished videos are kept, so a rerun renders only the rest.

Example:
    >>> paths = synthau_videos("cache/videos", count=8, frames=60, seed=0)   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from aunce_rt.errors import InputError

log = logging.getLogger(__name__)

__all__ = ["PRETRAIN_ID_BASE", "synthau_videos"]

PRETRAIN_ID_BASE = 500_000  # SynthAU train ids start at 0, test ids at 1_000_000


def synthau_videos(
    folder: str | Path,
    *,
    count: int,
    frames: int = 60,
    fps: float = 10.0,
    seed: int = 0,
    size: tuple[int, int] = (320, 240),
) -> list[Path]:
    """Render (or keep) ``count`` SynthAU videos of ``frames`` frames at ``fps`` into ``folder``.

    Returns:
        The video paths, ``person<k>.mp4``.
    """
    from aunce_rt.synthau import render_clip

    if count < 1 or frames < 1:
        raise InputError(f"need at least one video of one frame; got count={count}, frames={frames}")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(count):
        path = out / f"person{k:04d}.mp4"
        if not path.is_file():
            tmp = out / f".tmp.person{k:04d}.mp4"
            render_clip(
                tmp,
                identity=PRETRAIN_ID_BASE + k,
                n_frames=frames,
                fps=fps,
                seed=seed * 100_003 + k,
                size=size,
            )
            tmp.with_name(tmp.stem + ".truth.csv").unlink(missing_ok=True)  # unlabelled material
            os.replace(tmp, path)
        paths.append(path)
    log.info("SynthAU pretraining videos: %d in %s", count, out)
    return paths
