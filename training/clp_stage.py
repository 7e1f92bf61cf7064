"""The ``method: clp`` pretraining stage: face video -> clips -> CLP objective, as reconstructed here.

Reads the ``clp`` config section (``aunce_rt.training.config.CLPConfig``) once:

- :func:`clip_dataset`: the face videos (``clp.videos``, or rendered SynthAU videos of
  people outside the probe's identities), their cached face tracks, the clips;
- :func:`make_clp_objective`: the network, momentum encoder, queue and losses;
- :func:`pretrain_clp`: the pretraining through the project's one loop
  (``training.pretrain.pretrain`` with ``loss="clp"``); the linear probe then reads
  r through :func:`probe_encoder` exactly as it reads an AUNCE encoder.

Deviation from spec/CLP.md's settings table: the optimiser is the project's AdamW
with ``cfg.pretrain``'s rate and schedule, not SGD 0.03 with 5k warm-up steps.

Example:
    >>> clips = clip_dataset(cfg.clp, cfg.data, cache=run.path / "cache", seed=0)   # doctest: +SKIP
    >>> pre = pretrain_clp(make_clp_objective(cfg.clp), clips, cfg.pretrain, seed=0, ctx=ctx)  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from aunce_rt.datasets.face_tracks import extract_face_tracks
from aunce_rt.errors import InputError
from aunce_rt.models.clp import CLPEncoder, CLPNet
from aunce_rt.training.callbacks import TrainCallbacks
from aunce_rt.training.clp_objective import CLPObjective
from aunce_rt.training.config import CLPConfig, DataConfig, OptimConfig
from aunce_rt.training.data.clips import ClipDataset
from aunce_rt.training.distributed import DistContext
from aunce_rt.training.pretrain import PretrainResult, TrainState, pretrain
from aunce_rt.training.stages import optim_kwargs

logger = logging.getLogger(__name__)

__all__ = ["clip_dataset", "make_clp_objective", "pretrain_clp", "probe_encoder", "read_speakers"]


def read_speakers(path: str | Path) -> dict[str, str]:
    """A ``video,speaker`` CSV (header optional; video paths relative to the videos folder) -> a dict."""
    rows = list(csv.reader(Path(path).read_text().splitlines()))
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["video", "speaker"]:
        rows = rows[1:]
    bad = [r for r in rows if len(r) < 2]
    if bad:
        raise InputError(f"{path}: expected 'video,speaker' rows; got {bad[0]!r}")
    return {r[0].strip(): r[1].strip() for r in rows}


def clip_dataset(clp: CLPConfig, data: DataConfig, *, cache: Path, seed: int) -> ClipDataset:
    """The clips of the config: tracks of ``clp.videos`` (or SynthAU videos), cached under ``clp.cache``."""
    videos = Path(clp.videos) if clp.videos else None
    if videos is None:
        if clp.synth_videos < 1:
            raise InputError(
                "method clp needs face video: set clp.videos to a folder, or clp.synth_videos > 0"
            )
        from aunce_rt.datasets.synth_videos import synthau_videos

        videos = cache / "clp_videos"
        synthau_videos(videos, count=clp.synth_videos, frames=clp.synth_video_frames, seed=seed)
    tracks_dir = Path(clp.cache) if clp.cache else cache / "tracks"
    index = extract_face_tracks(
        videos,
        tracks_dir,
        fps=clp.fps,
        landmarks=clp.landmarks,
        min_frames=clp.clip_len,
        identity=clp.identity,
        speakers=read_speakers(clp.speakers) if clp.speakers else None,
    )
    ds = ClipDataset(index, clip_len=clp.clip_len, image_size=data.image_size, repeats=clp.repeats)
    logger.info(
        "CLP clips: %d tracks of %d identities, T = %d", len(ds.tracks), len(ds.identity_ids), clp.clip_len
    )
    return ds


def make_clp_objective(clp: CLPConfig, net: CLPNet | None = None) -> CLPObjective:
    """The CLP network (random init, or ``net``: a trained one to go on training), its momentum
    encoder (a copy of the network), queue and losses."""
    if net is None:
        net = CLPNet(
            clp.backbone,
            au_dim=clp.au_dim,
            id_dim=clp.id_dim,
            proj_dim=clp.proj_dim,
            recon_size=clp.recon_size,
            init_weights=clp.init_weights or None,
        )
    return CLPObjective(
        net,
        temperature=clp.temperature,
        margin=clp.margin,
        margin_mode=clp.margin_mode,
        queue_size=clp.queue_size,
        momentum=clp.momentum,
        lambda_x=clp.lambda_x,
        lambda_r=clp.lambda_r,
        cir=clp.cir,
        cir_positive=clp.cir_positive,
        key_groups=clp.key_groups,
        batch_negatives=clp.batch_negatives,
    )


def probe_encoder(net: nn.Module, num_aus: int, feature: str = "r") -> CLPEncoder:
    """r (or, ``feature="f"``, E's pooled feature) of the trained network as the per-AU features
    linear evaluation reads (and a saved model's encoder)."""
    if not isinstance(net, CLPNet):
        raise InputError(f"expected the CLPNet of a clp run, got a {type(net).__name__}")
    return CLPEncoder(net, num_aus, feature).eval()


def pretrain_clp(
    objective: CLPObjective,
    clips: ClipDataset,
    optim: OptimConfig,
    *,
    seed: int,
    ctx: DistContext,
    resume: Mapping[str, Any] | None = None,
    on_epoch_end: Callable[[TrainState], None] | None = None,
    amp: torch.dtype | None = None,
    callbacks: TrainCallbacks | None = None,
    max_steps_per_epoch: int | None = None,
) -> PretrainResult:
    """CLP pretraining for ``optim.epochs`` epochs (at least 1) of ``optim.batch_size`` clips.

    Each epoch's mean loss terms (TCL, cross-identity, reconstruction, cycle) are logged.
    """
    objective.pop_term_means()  # start the first epoch's sums from zero

    def log_terms(state: TrainState) -> None:
        terms = objective.pop_term_means()
        if terms:
            logger.info(
                "CLP epoch %d terms: %s",
                state.epoch,
                ", ".join(f"{k} {v:.4f}" for k, v in terms.items()),
            )
        if on_epoch_end is not None:
            on_epoch_end(state)

    return pretrain(
        objective,
        clips,
        loss="clp",
        epochs=max(optim.epochs, 1),
        seed=seed,
        device=ctx.device,
        resume=resume,
        on_epoch_end=log_terms,
        callbacks=callbacks,
        amp=amp,
        ctx=ctx,
        stage="pretrain",
        max_steps_per_epoch=max_steps_per_epoch,
        **optim_kwargs(optim),
    )
