"""The ONE training loop: epochs of :func:`~aunce_rt.training.step.train_step` over a loader.

:func:`fit` serves every stage (warm-up, AUNCE pretraining, WCE/WFL baselines) in
one process and under torchrun alike. A multi-process run differs only in what
goes in: :func:`make_loader` with a ``DistContext`` shards the data with a
``DistributedSampler`` (``fit`` sets its epoch), and the state carries the DDP
wrapper and the all-gather of features (``TrainState.gather``). Progress goes out
through :class:`~aunce_rt.training.callbacks.TrainCallbacks` and the log.

Example:
    >>> loader = make_loader(data, views=state.views, batch_size=32, generator=state.loader_generator)  # doctest: +SKIP
    >>> seconds = fit(state, loader, epochs=60)                                                      # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from aunce_rt.align import INPUT_SIZE
from aunce_rt.errors import InputError
from aunce_rt.training.augment import TransformedDataset, train_transform
from aunce_rt.training.callbacks import EpochSummary, TrainCallbacks
from aunce_rt.training.distributed import DistContext
from aunce_rt.training.step import train_step
from aunce_rt.training.train_state import TrainState

log = logging.getLogger(__name__)

__all__ = ["fit", "make_loader", "train_one_epoch"]


def train_one_epoch(
    state: TrainState,
    loader: DataLoader,
    *,
    device: str | torch.device = "cpu",
    max_steps: int | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> float:
    """Train over ``loader`` once; append and return the epoch's mean loss.

    Args:
        state: the run; ``epoch``, ``step`` and ``history`` advance.
        loader: yields the batches ``compute_loss`` expects.
        device: where to compute.
        max_steps: stop after this many batches (quick runs); None = the whole loader.
        on_step: called with (step index in the epoch, loss) after every step.
    """
    device = torch.device(device)
    total, count = 0.0, 0
    for i, batch in enumerate(loader):
        if max_steps is not None and i >= max_steps:
            break
        value = train_step(state, batch, device)
        total += value
        count += 1
        if on_step is not None:
            on_step(i, value)
    if count == 0:
        raise InputError("the training loader yielded no batch; use more images or a smaller batch size")
    mean = total / count
    state.history.append(mean)
    state.epoch += 1
    return mean


def make_loader(
    data: Dataset | DataLoader,
    *,
    views: int,
    batch_size: int,
    generator: torch.Generator,
    image_size: int = INPUT_SIZE,
    resize: int | None = None,
    num_workers: int = 0,
    augment: str = "simclr",
    ctx: DistContext | None = None,
    seed: int = 0,
) -> DataLoader:
    """A shuffling training loader with the SimCLR view transform over a raw dataset.

    A ``DataLoader`` is returned unchanged (its batches must already be views).

    Args:
        ctx: under torchrun, the process context: ``batch_size`` is then the GLOBAL
            batch, each process takes ``batch_size / world_size`` images of its
            ``DistributedSampler`` shard (shuffled with ``seed`` and the epoch).
        seed: the DistributedSampler's shuffling seed (one process ignores it:
            ``generator`` shuffles).
    """
    if isinstance(data, DataLoader):
        return data
    n = len(data)  # type: ignore[arg-type]
    if n == 0:
        raise InputError("the training dataset is empty; check the image list")
    if getattr(data, "makes_views", False):  # e.g. CLP's ClipDataset: its items are views already
        ds = data
    else:
        ds = TransformedDataset(
            data, train_transform(image_size, resize=resize, strength=augment), views=views
        )
    if ctx is not None and ctx.distributed:
        from torch.utils.data import DistributedSampler

        if batch_size % ctx.world_size:
            raise InputError(
                f"batch_size {batch_size} must be divisible by the {ctx.world_size} processes; "
                f"set a multiple of {ctx.world_size}"
            )
        sampler = DistributedSampler(ds, ctx.world_size, ctx.rank, shuffle=True, seed=seed, drop_last=True)
        return DataLoader(
            ds,
            batch_size=batch_size // ctx.world_size,
            sampler=sampler,
            drop_last=True,
            num_workers=num_workers,
        )
    return DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=True,
        drop_last=n > batch_size,  # a contrastive batch of one image has no negatives
        num_workers=num_workers,
        generator=generator,
        persistent_workers=num_workers > 0,
    )


def fit(
    state: TrainState,
    loader: DataLoader,
    *,
    epochs: int,
    device: str | torch.device = "cpu",
    stage: str | None = None,
    max_steps_per_epoch: int | None = None,
    on_epoch_end: Callable[[TrainState], None] | None = None,
    callbacks: TrainCallbacks | None = None,
) -> float:
    """Train ``state`` from its current epoch up to ``epochs``; returns the wall time in seconds.

    Args:
        state: the run (from ``start_train_state``; possibly resumed, possibly DDP-wrapped).
        loader: batches of views (:func:`make_loader`); a ``DistributedSampler``'s
            epoch is set before every epoch.
        epochs: the stage's total epochs.
        device: where to compute.
        stage: the name progress and logs show (default: the loss name).
        max_steps_per_epoch: cap on batches per epoch (quick runs).
        on_epoch_end: called with the state after every epoch (the run's checkpoints
            and metrics rows).
        callbacks: progress hooks (the CLI's progress bars).
    """
    stage = stage or state.loss_name
    hooks = callbacks or TrainCallbacks()
    steps = len(loader) if max_steps_per_epoch is None else min(len(loader), max_steps_per_epoch)
    state.total_steps = steps * epochs  # the schedule ends on this process's last step
    sampler: Any = getattr(loader, "sampler", None)
    world = torch.distributed.get_world_size() if _distributed() else 1
    log.info(
        "fit %s (%s): epochs %d..%d of %d steps, %d process(es)",
        stage,
        state.loss_name,
        state.epoch + 1,
        epochs,
        steps,
        world,
    )
    start = time.perf_counter()
    while state.epoch < epochs:
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(state.epoch)
        hooks.on_epoch_start(stage, state.epoch, epochs, steps)
        t0 = time.perf_counter()
        mean = train_one_epoch(
            state, loader, device=device, max_steps=max_steps_per_epoch, on_step=hooks.on_step
        )
        log.info("%s epoch %d/%d: %s loss %.4f", stage, state.epoch, epochs, state.loss_name, mean)
        if on_epoch_end is not None:
            on_epoch_end(state)
        hooks.on_epoch_end(EpochSummary(stage, state.epoch, epochs, mean, time.perf_counter() - t0))
    return time.perf_counter() - start


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()
