"""Adapt a CLP model to a user's own unlabelled face video (``aunce-rt adapt``), CLP as reconstructed here.

A model trained with ``method: clp`` keeps its whole CLP network in its checkpoint
(``models.clp.CLPEncoder``). Adapting continues the CLP objective (temporal
contrastive + cross-identity reconstruction, ``training.clp_objective``) on clips of
the user's videos, from the trained weights, with the model's own CLP settings; the
momentum encoder starts as a copy of the trained network and the queue empty.

The AU probe is kept as it is: the footage has no labels to refit it with, and CLP
trains r to keep AU content while it becomes invariant to the new people (a
project decision; spec/CLP.md says nothing of adaptation). ``aunce-rt adapt
--eval`` measures whether that held, before and after, on labelled data.

Everything lands in a work folder and is resumable: the face tracks are cached,
the training state is checkpointed every epoch, and the adapted ``model.pt`` is
written last (a killed run started again continues from its last epoch).

Only CLP models can be adapted: an AUNCE (ME-GraphAU-style) encoder was never
trained with a self-supervised objective, and the bundled default reads landmark
geometry, not pixels.

Example:
    >>> result = adapt_model("run/checkpoints/fold1-seed0/model.pt", ["my_videos/"], "adapt_work")  # doctest: +SKIP
    >>> result.model                                                   # doctest: +SKIP
    PosixPath('adapt_work/model.pt')
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aunce_rt.errors import InputError
from aunce_rt.models import AUModel, LoadedModel, load_model, save_model
from aunce_rt.models.clp import CLPEncoder
from aunce_rt.provenance import git_revision
from aunce_rt.training import clp_stage
from aunce_rt.training._config_io import from_dict
from aunce_rt.training.callbacks import TrainCallbacks
from aunce_rt.training.checkpoints import read_checkpoint, save_train_state, train_state_of
from aunce_rt.training.config import ExperimentConfig
from aunce_rt.training.distributed import DistContext
from aunce_rt.training.train_state import TrainState

logger = logging.getLogger(__name__)

__all__ = ["AdaptResult", "adapt_model", "read_clp_model"]

VIDEO_SUFFIXES = (".mp4", ".avi", ".mpg", ".mpeg", ".mov", ".mkv", ".webm")


@dataclass(frozen=True)
class AdaptResult:
    """What :func:`adapt_model` did.

    Attributes:
        model: the adapted checkpoint (``work/model.pt``; export it, or load it with ``load_model``).
        base: the checkpoint it started from.
        tracks: face tracks found in the videos.
        identities: identities among them (one per video unless speakers were given).
        clips: clips per epoch.
        epochs: epochs of CLP training run in all (a resumed run counts the earlier ones).
        history: mean CLP loss per epoch.
        seconds: wall time of the training in this call.
    """

    model: Path
    base: Path
    tracks: int
    identities: int
    clips: int
    epochs: int
    history: tuple[float, ...]
    seconds: float


def read_clp_model(path: str | Path) -> tuple[LoadedModel, ExperimentConfig]:
    """A CLP model checkpoint and the experiment config it was trained with; InputError otherwise."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        raise InputError(
            f"{path} is an exported ONNX graph; adapt trains the encoder, so give the model.pt checkpoint it "
            "was exported from (RUN/checkpoints/<split>-seed<seed>/model.pt of a `method: clp` run)"
        )
    loaded = load_model(path)
    if not isinstance(loaded.model.encoder, CLPEncoder):
        raise InputError(
            f"{path} holds a {loaded.encoder_config.get('backbone', '?')} AUNCE-style encoder; adapt continues "
            "CLP's self-supervised training, so it needs a model trained with `method: clp` "
            "(e.g. `aunce-rt train run --config clp_synthau_tiny`); the bundled default reads landmark "
            "geometry and has no image encoder to adapt"
        )
    config = loaded.extra.get("config")
    if not isinstance(config, dict):
        raise InputError(
            f"{path} does not record its training config (extra['config']); re-save it from its run"
        )
    return loaded, from_dict(ExperimentConfig, config)


def adapt_model(
    base: str | Path,
    videos: Sequence[str | Path],
    work: str | Path,
    *,
    epochs: int = 2,
    lr: float | None = None,
    batch_size: int | None = None,
    fps: float | None = None,
    seed: int = 0,
    callbacks: TrainCallbacks | None = None,
) -> AdaptResult:
    """Continue CLP training of ``base`` on clips of ``videos`` (files or folders) into ``work``.

    Args:
        base: a CLP model checkpoint (``model.pt`` of a ``method: clp`` run).
        videos: face videos, or folders searched recursively for them.
        work: the work folder: face-track cache, training checkpoint, the adapted ``model.pt``.
        epochs: epochs over the clips (a resumed run continues up to this number).
        lr: learning rate; None means a tenth of the model's pretraining rate (small steps keep
            r close to the space its probe was fitted in).
        batch_size: clips per step; None keeps the model's.
        fps: frame rate the tracks are sampled at; None keeps the model's (``clp.fps``).
        seed: clip sampling and augmentation seed.
        callbacks: progress hooks (the CLI's progress bar).
    """
    if epochs < 1:
        raise InputError(f"epochs must be at least 1; got {epochs}")
    base = Path(base)
    loaded, cfg = read_clp_model(base)
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    folder = _video_folder(videos, work / "videos")
    pretrain_cfg = cfg.pretrain.model_copy(
        update={
            "epochs": epochs,
            "lr": cfg.pretrain.lr / 10 if lr is None else lr,
            **({"batch_size": batch_size} if batch_size is not None else {}),
        }
    )
    clp_cfg = cfg.clp.model_copy(
        update={"videos": str(folder), "cache": str(work / "tracks"), **({"fps": fps} if fps else {})}
    )
    settings = {
        "base": str(base.resolve()),
        "videos": sorted(str(p) for p in _videos_in(folder)),
        "lr": pretrain_cfg.lr,
        "batch_size": pretrain_cfg.batch_size,
        "fps": clp_cfg.fps,
        "seed": seed,
    }
    _check_same_settings(work / "adapt.json", settings)
    clips = clp_stage.clip_dataset(clp_cfg, cfg.data, cache=work, seed=seed)
    encoder = loaded.model.encoder
    objective = clp_stage.make_clp_objective(clp_cfg, net=encoder.net)
    ckpt = work / "adapt.pt"
    resume = train_state_of(read_checkpoint(ckpt)) if ckpt.is_file() else None
    if resume is not None:
        logger.info("resuming the adaptation from epoch %d (%s)", resume["epoch"], ckpt)
    extra = {"stage": "adapt", "adapt": settings, "config": loaded.extra.get("config")}

    def checkpoint(state: TrainState) -> None:
        save_train_state(ckpt, state, au_codes=loaded.au_codes, extra=extra)

    start = time.perf_counter()
    pre = clp_stage.pretrain_clp(
        objective,
        clips,
        pretrain_cfg,
        seed=seed,
        ctx=DistContext(),
        resume=resume,
        on_epoch_end=checkpoint,
        callbacks=callbacks,
    )
    seconds = time.perf_counter() - start
    adapted = AUModel(CLPEncoder(pre.encoder, encoder.num_aus, encoder.feature), loaded.model.probe).eval()
    history = tuple(float(h) for h in pre.history)
    model_path = save_model(
        work / "model.pt",
        adapted,
        au_codes=loaded.au_codes,
        thresholds=loaded.thresholds,
        extra={
            **{k: v for k, v in loaded.extra.items() if k != "metrics"},  # the base's metrics no longer hold
            "stage": "adapt",
            "adapted_from": str(base.resolve()),
            "adapt": {
                **settings,
                "epochs": epochs,
                "clips": len(clips),
                "tracks": len(clips.tracks),
                "history": list(history),
            },  # fmt: skip
            "git_revision": git_revision() or "unknown",
        },
    )
    logger.info("adapted %s on %d tracks (%d clips) in %.0f s -> %s", base, len(clips.tracks), len(clips),
                seconds, model_path)  # fmt: skip
    return AdaptResult(
        model=model_path,
        base=base,
        tracks=len(clips.tracks),
        identities=len(clips.identity_ids),
        clips=len(clips),
        epochs=epochs,
        history=history,
        seconds=seconds,
    )


def _videos_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES]


def _video_folder(videos: Sequence[str | Path], link_dir: Path) -> Path:
    """One folder holding every video: the folder itself when one is given, else links in ``link_dir``."""
    paths = [Path(v) for v in videos]
    missing = [str(p) for p in paths if not p.exists()]
    if not paths or missing:
        raise InputError(f"no such video or folder: {', '.join(missing) or '(none given)'}; give face videos")
    if len(paths) == 1 and paths[0].is_dir():
        folder = paths[0]
    else:
        link_dir.mkdir(parents=True, exist_ok=True)
        for k, p in enumerate(paths):
            for v in _videos_in(p) if p.is_dir() else [p]:
                link = link_dir / f"{k:03d}_{v.name}"
                if not link.exists():
                    os.symlink(v.resolve(), link)
        folder = link_dir
    if not _videos_in(folder):
        raise InputError(
            f"no videos ({', '.join(VIDEO_SUFFIXES)}) in {', '.join(map(str, paths))}; give face videos"
        )
    return folder


def _check_same_settings(path: Path, settings: dict[str, Any]) -> None:
    """Refuse to resume a work folder started with another model, videos or settings."""
    if path.is_file():
        before = json.loads(path.read_text())
        if before != settings:
            changed = sorted(k for k in settings if before.get(k) != settings[k])
            raise InputError(
                f"{path.parent} holds an adaptation with other {', '.join(changed)}; "
                "pass another work folder, or delete it to start over"
            )
    path.write_text(json.dumps(settings, indent=1))
