"""Encoder pretraining: AUNCE contrastive learning, or WCE/WFL end to end (baselines).

This module holds the ONE training step of the project. Everything that trains an
encoder (the ``aunce-rt train`` command, resumable runs, DDP, the benchmarks) goes
through :class:`TrainState` and :func:`train_one_epoch`:

- ``loss="aunce"`` (paper Sec. 3, Eqs. 2-4, 8-10): two SimCLR views per image, the
  encoder's per-AU features z1, z2 (B, N, C) and the labels (B, N) go to
  ``aunce_rt.training.losses.AUNCELoss`` with the training split's occurrence rates r_i and
  class weights w_i (Eq. 1). The probe is not trained here; use ``linear_eval``.
- ``loss="wce"`` / ``"wfl"``: one view per image, encoder + linear probe trained
  end to end with weighted cross-entropy / weighted focal loss (Table 8 baselines).
  With ``head="pooled"`` the probe is replaced by one linear layer on the backbone's
  mean-pooled tokens (``models.PooledClassifier``): the supervised backbone warm-up
  that stands in for ImageNet weights when training from random init.

Learning rate: constant (the paper), or ``schedule="cosine"``: a linear ramp over
the first 5% of the steps, then a cosine decay to zero at the last step. The rate
is a function of the step count alone, so a resumed run continues on the curve.

Optimiser: AdamW, betas (0.9, 0.999), wd 1e-6, lr 1e-5 (the paper's fine-tuning rate
for an ImageNet-pretrained Swin; a randomly initialised encoder needs ~1e-3).

Multi-process training: set ``TrainState.gather`` to a function that all-gathers a
tensor (with gradient) along dim 0; :func:`compute_loss` applies it to the views'
features and labels before the loss, so the AUNCE negatives span every process.

Example:
    >>> from models import create_encoder
    >>> enc = create_encoder("mobilenetv3_large_100", 12)   # doctest: +SKIP
    >>> result = pretrain(enc, dataset, loss="aunce", epochs=1, lr=1e-3)  # doctest: +SKIP
    >>> result.history  # mean loss per epoch                 # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from aunce_rt.align import INPUT_SIZE
from aunce_rt.errors import InputError
from aunce_rt.models import AUModel, AUProbe, PooledClassifier
from aunce_rt.training.augment import TransformedDataset, dataset_labels, train_transform
from aunce_rt.training.losses import AUNCELoss, WCELoss, WFLoss, au_class_weights, occurrence_rates

log = logging.getLogger(__name__)

LOSSES: tuple[str, ...] = ("aunce", "wce", "wfl")
HEADS: tuple[str, ...] = ("probe", "pooled")
SCHEDULES: tuple[str, ...] = ("constant", "cosine")
WARMUP_FRACTION = 0.05
Gather = Callable[[torch.Tensor], torch.Tensor]


def build_loss(name: str, loss_kwargs: Mapping[str, Any] | None = None) -> nn.Module:
    """The loss module for an objective name ("aunce", "wce" or "wfl")."""
    kwargs = dict(loss_kwargs or {})
    if name == "aunce":
        return AUNCELoss(**kwargs)
    if name == "wce":
        return WCELoss(**kwargs)
    if name == "wfl":
        return WFLoss(**kwargs)
    raise InputError(f"unknown pretraining loss {name!r}; expected one of {', '.join(LOSSES)}")


@dataclass
class TrainState:
    """Everything a training run needs to take one more step, and to resume.

    Attributes:
        model: the module being trained: the encoder for "aunce" (forward -> (B, N, C)),
            an ``AUModel`` (encoder + probe, forward -> logits (B, N)) for "wce"/"wfl".
        optimizer: AdamW over ``model``'s parameters.
        loss_name: "aunce", "wce" or "wfl".
        loss_fn: the loss module (see :func:`build_loss`).
        occurrence: (N,) occurrence rates r_i of the training labels (-1 ignored).
        au_weights: (N,) class weights w_i (Eq. 1, sum to N).
        loss_generator: RNG of the AUNCE positive sampling.
        loader_generator: RNG of the training loader's shuffling and worker seeds.
        epoch: epochs completed.
        step: optimiser steps taken.
        history: mean training loss of each completed epoch.
        gather: all-gather along dim 0 across processes (identity when None).
        base_lr: the peak learning rate.
        schedule: "constant" or "cosine" (see :func:`scheduled_lr`).
        total_steps: optimiser steps of the whole run (the cosine's end).
        amp: autocast dtype of each step's forward and loss (None: float32); see
            :func:`autocast_step`. float16 steps use dynamic loss scaling (``scaler``,
            saved in the checkpoint so a resumed run keeps its scale).
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    loss_name: str
    loss_fn: nn.Module
    occurrence: torch.Tensor
    au_weights: torch.Tensor
    loss_generator: torch.Generator
    loader_generator: torch.Generator
    epoch: int = 0
    step: int = 0
    history: list[float] = field(default_factory=list)
    gather: Gather | None = None
    base_lr: float = 1e-5
    schedule: str = "constant"
    total_steps: int = 0
    amp: torch.dtype | None = None
    scaler: Any = None  # torch.amp.GradScaler of a float16 run (made on its first step)

    @property
    def views(self) -> int:
        """Augmented views per image: 2 for contrastive pretraining, else 1."""
        return 2 if self.loss_name == "aunce" else 1

    def state_dict(self) -> dict[str, Any]:
        """Tensors and primitives only (loadable with ``torch.load(weights_only=True)``)."""
        rng: dict[str, Any] = {
            "torch": torch.get_rng_state(),
            "python": _python_rng_state(),
            "numpy": _numpy_rng_state(),
            "loss_generator": self.loss_generator.get_state(),
            "loader_generator": self.loader_generator.get_state(),
        }
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        out = {
            "loss_name": self.loss_name,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "history": list(self.history),
            "rng": rng,
        }
        if self.scaler is not None:
            out["scaler"] = self.scaler.state_dict()
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (same loss, same model architecture)."""
        if state.get("loss_name", self.loss_name) != self.loss_name:
            raise InputError(
                f"cannot resume a {state['loss_name']!r} run with loss={self.loss_name!r}; "
                f"pass loss={state['loss_name']!r}"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch = int(state["epoch"])
        self.step = int(state["step"])
        self.history = [float(v) for v in state["history"]]
        if state.get("scaler") and self.scaler is not None:
            self.scaler.load_state_dict(state["scaler"])
        rng = state.get("rng", {})
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        if "python" in rng:
            random.setstate(_to_python_state(rng["python"]))
        if "numpy" in rng:
            _set_numpy_rng_state(rng["numpy"])
        if "loss_generator" in rng:
            self.loss_generator.set_state(rng["loss_generator"])
        if "loader_generator" in rng:
            self.loader_generator.set_state(rng["loader_generator"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])


@dataclass(frozen=True)
class PretrainResult:
    """What :func:`pretrain` returns.

    Attributes:
        encoder: the trained encoder (in eval mode).
        model: encoder + trained probe for "wce"/"wfl"; None for "aunce" (fit a probe
            with ``aunce_rt.training.linear_eval.linear_eval``).
        loss_name: the objective that was optimised.
        history: mean training loss per epoch, (epochs,).
        seconds: wall time of the training loop.
        state: the final :class:`TrainState` (for checkpoints).
    """

    encoder: nn.Module
    model: AUModel | None
    loss_name: str
    history: tuple[float, ...]
    seconds: float
    state: TrainState


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) global RNGs."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def label_statistics(labels: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Occurrence rates r_i and class weights w_i (Eq. 1) of training labels (S, N), -1 masked."""
    y = torch.as_tensor(np.asarray(labels), dtype=torch.float32)
    if y.ndim != 2:
        raise InputError(f"training labels must have shape (S, N); got {tuple(y.shape)}")
    rates = torch.as_tensor(occurrence_rates(y), dtype=torch.float32)
    weights = torch.as_tensor(au_class_weights(y), dtype=torch.float32)
    return rates, weights


def scheduled_lr(base_lr: float, step: int, total_steps: int, schedule: str = "constant") -> float:
    """The learning rate of optimiser step ``step`` (0-based) of ``total_steps``.

    "constant": ``base_lr``. "cosine": a linear ramp to ``base_lr`` over the first 5%
    of the steps, then a half cosine down to 0 at the last step.

    Example:
        >>> scheduled_lr(1.0, 0, 100, "cosine"), scheduled_lr(1.0, 5, 100, "cosine")
        (0.2, 1.0)
    """
    if schedule not in SCHEDULES:
        raise InputError(
            f"unknown learning-rate schedule {schedule!r}; expected one of {', '.join(SCHEDULES)}"
        )
    if schedule == "constant" or total_steps <= 0:
        return base_lr
    warm = max(1, round(WARMUP_FRACTION * total_steps))
    if step < warm:
        return base_lr * (step + 1) / warm
    t = min(1.0, (step - warm) / max(1, total_steps - warm))
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * t))


def make_train_state(
    encoder: nn.Module,
    *,
    loss: str = "aunce",
    head: str = "probe",
    schedule: str = "constant",
    total_steps: int = 0,
    occurrence: torch.Tensor,
    au_weights: torch.Tensor,
    lr: float = 1e-5,
    weight_decay: float = 1e-6,
    seed: int = 3407,
    loss_kwargs: Mapping[str, Any] | None = None,
    device: str | torch.device = "cpu",
) -> TrainState:
    """Build the model, optimiser, loss and RNGs of a run (seed the globals first).

    Args:
        encoder: an ``AUEncoder`` (``aunce_rt.models.create_encoder``).
        loss: "aunce", "wce" or "wfl".
        head: for "wce"/"wfl": "probe" (the per-AU probe on the encoder's features) or
            "pooled" (a linear layer on the backbone's pooled tokens: the warm-up).
        schedule: learning-rate schedule, "constant" or "cosine".
        total_steps: optimiser steps of the run (needed by "cosine").
        occurrence: (N,) training occurrence rates r_i.
        au_weights: (N,) class weights w_i.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        seed: seed of the loss-sampling and loader generators.
        loss_kwargs: keyword arguments of the loss class.
        device: where the model and loss tensors live.
    """
    if head not in HEADS:
        raise InputError(f"unknown head {head!r}; expected one of {', '.join(HEADS)}")
    if head == "pooled" and loss == "aunce":
        raise InputError("head='pooled' trains the backbone with a supervised loss; use loss='wce' or 'wfl'")
    scheduled_lr(lr, 0, total_steps, schedule)  # validates the schedule name
    loss_fn = build_loss(loss, loss_kwargs)
    device = torch.device(device)
    model: nn.Module = encoder
    if head == "pooled":
        model = PooledClassifier(encoder)
    elif loss != "aunce":
        model = AUModel(encoder, AUProbe(int(encoder.num_aus), int(encoder.node_dim)))
    model = model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.999), weight_decay=weight_decay)
    loss_gen = torch.Generator(device=device)
    loss_gen.manual_seed(seed)
    loader_gen = torch.Generator()
    loader_gen.manual_seed(seed)
    return TrainState(
        model=model,
        optimizer=optimizer,
        loss_name=loss,
        loss_fn=loss_fn.to(device),
        occurrence=occurrence.to(device),
        au_weights=au_weights.to(device),
        loss_generator=loss_gen,
        loader_generator=loader_gen,
        base_lr=lr,
        schedule=schedule,
        total_steps=total_steps,
    )


def check_not_autocast(device: str | torch.device) -> None:
    """Refuse a training loop started inside ``torch.autocast`` (its weight cache would freeze the weights)."""
    kind = torch.device(device).type
    if torch.is_autocast_enabled(kind):
        raise InputError(
            f"training was started inside torch.autocast({kind!r}): autocast caches the cast weights "
            "for the whole context, so the model would keep using its first step's weights. "
            "Pass amp=torch.bfloat16 (or float16 on CUDA) to the training function instead"
        )


def start_train_state(
    encoder: nn.Module,
    labels: np.ndarray | torch.Tensor,
    *,
    loss: str,
    lr: float,
    weight_decay: float,
    seed: int,
    loss_kwargs: Mapping[str, Any] | None,
    device: str | torch.device,
    resume: Mapping[str, Any] | None = None,
    head: str = "probe",
    schedule: str = "constant",
    total_steps: int = 0,
    amp: torch.dtype | None = None,
) -> TrainState:
    """Seed, build the run's state from the training labels (r_i, w_i) and resume it if asked.

    The one place a pretraining run starts, for :func:`pretrain` and the DDP runner;
    it refuses to start inside ``torch.autocast`` (see :func:`check_not_autocast`).
    """
    check_not_autocast(device)
    occurrence, au_weights = label_statistics(labels)
    seed_everything(seed)
    state = make_train_state(
        encoder,
        loss=loss,
        head=head,
        schedule=schedule,
        total_steps=total_steps,
        occurrence=occurrence,
        au_weights=au_weights,
        lr=lr,
        weight_decay=weight_decay,
        seed=seed,
        loss_kwargs=loss_kwargs,
        device=device,
    )
    state.amp = amp
    if amp == torch.float16:  # fp16 gradients underflow without loss scaling
        state.scaler = torch.amp.GradScaler(torch.device(device).type)
    if resume is not None:
        state.load_state_dict(resume)
        log.info("resumed %s pretraining at epoch %d, step %d", loss, state.epoch, state.step)
    return state


def compute_loss(state: TrainState, batch: Sequence[torch.Tensor], device: torch.device) -> torch.Tensor:
    """Forward one batch and return the scalar loss (no backward).

    Args:
        state: the run.
        batch: ``(view1 (B,3,H,W), view2 (B,3,H,W), labels (B,N))`` for "aunce",
            ``(images (B,3,H,W), labels (B,N))`` otherwise.
        device: where to compute.
    """
    gather = state.gather or (lambda t: t)
    labels = batch[-1].to(device).long()  # (B, N) in {-1, 0, 1}
    if state.loss_name == "aunce":
        x1, x2 = batch[0].to(device), batch[1].to(device)
        b = x1.shape[0]
        z = state.model(torch.cat([x1, x2]))  # (2B, N, C): one pass, shared BN statistics
        z1, z2 = gather(z[:b]), gather(z[b:])  # (B', N, C) each, B' = B x processes
        return state.loss_fn(
            z1,
            z2,
            gather(labels),
            au_weights=state.au_weights,
            occurrence=state.occurrence,
            generator=state.loss_generator,
        )
    logits = state.model(batch[0].to(device))  # (B, N)
    return state.loss_fn(logits, labels, au_weights=state.au_weights)


def autocast_step(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager[Any]:
    """The autocast context of ONE training step (a no-op for float32).

    Autocast caches the low-precision copies of the weights for as long as its
    context lives, so it must be entered anew for every step: around a whole
    training loop the forward would keep using the first step's weights and the
    model would hardly learn (measured: a ResNet-10-T's WCE loss stalls at 0.70
    where per-step autocast reaches 0.36 in 10 steps).
    """
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def train_step(state: TrainState, batch: Sequence[torch.Tensor], device: torch.device) -> float:
    """One optimiser step on ``batch`` (forward and loss under ``state.amp``); returns the loss value."""
    state.model.train()
    lr = scheduled_lr(state.base_lr, state.step, state.total_steps, state.schedule)
    for group in state.optimizer.param_groups:
        group["lr"] = lr
    state.optimizer.zero_grad(set_to_none=True)
    with autocast_step(device, state.amp):
        loss = compute_loss(state, batch, device)
    if not torch.isfinite(loss):
        raise FloatingPointError(
            f"non-finite {state.loss_name} loss ({loss.item()}) at step {state.step}; "
            "lower the learning rate or check the labels"
        )
    if state.amp == torch.float16:  # fp16 gradients underflow without loss scaling
        if state.scaler is None:
            state.scaler = torch.amp.GradScaler(device.type)
        state.scaler.scale(loss).backward()
        state.scaler.step(state.optimizer)
        state.scaler.update()
    else:
        loss.backward()
        state.optimizer.step()
    state.step += 1
    return float(loss.detach())


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
        loader: yields the batches :func:`compute_loss` expects.
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
) -> DataLoader:
    """A shuffling training loader with the SimCLR view transform over a raw dataset.

    A ``DataLoader`` is returned unchanged (its batches must already be views).
    """
    if isinstance(data, DataLoader):
        return data
    n = len(data)  # type: ignore[arg-type]
    if n == 0:
        raise InputError("the training dataset is empty; check the image list")
    ds = TransformedDataset(data, train_transform(image_size, resize=resize, strength=augment), views=views)
    return DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=True,
        drop_last=n > batch_size,  # a contrastive batch of one image has no negatives
        num_workers=num_workers,
        generator=generator,
        persistent_workers=num_workers > 0,
    )


def pretrain(
    encoder: nn.Module,
    data: Dataset | DataLoader,
    *,
    loss: str = "aunce",
    head: str = "probe",
    schedule: str = "constant",
    epochs: int = 60,
    lr: float = 1e-5,
    weight_decay: float = 1e-6,
    batch_size: int = 32,
    seed: int = 3407,
    loss_kwargs: Mapping[str, Any] | None = None,
    device: str | torch.device = "cpu",
    image_size: int = INPUT_SIZE,
    resize: int | None = None,
    num_workers: int = 0,
    augment: str = "simclr",
    labels: np.ndarray | None = None,
    max_steps_per_epoch: int | None = None,
    resume: Mapping[str, Any] | None = None,
    on_epoch_end: Callable[[TrainState], None] | None = None,
    progress: bool = True,
    amp: torch.dtype | None = None,
) -> PretrainResult:
    """Pretrain ``encoder`` with AUNCE, or train it end to end with WCE/WFL.

    Args:
        encoder: an ``AUEncoder`` from ``aunce_rt.models.create_encoder`` (trained in place).
        data: a dataset of ``(image BGR ndarray | (3,H,W) uint8 RGB tensor, labels (N,))``
            (views are made here), or a ready ``DataLoader`` of views.
        loss: "aunce" (contrastive, two views), "wce" or "wfl" (end to end, one view).
        head: "probe" or, for "wce"/"wfl", "pooled" (backbone warm-up; see module doc).
        schedule: learning-rate schedule, "constant" (paper) or "cosine".
        epochs: total epochs (a resumed run continues up to this number).
        lr: AdamW learning rate (1e-5 = paper, for a pretrained backbone).
        weight_decay: AdamW weight decay.
        batch_size: images per batch (each seen twice for AUNCE).
        seed: seeds every RNG (paper: 3407).
        loss_kwargs: keyword arguments of the loss class.
        device: "cpu" or "cuda[:i]".
        image_size: network input side (random crop from the stored crop).
        resize: resize stored crops to this side before cropping (None = as stored).
        num_workers: DataLoader worker processes.
        augment: view augmentation, "simclr" (paper) or "light" (see ``train_transform``).
        labels: training labels (S, N) for r_i and w_i; read from ``data`` when None.
        max_steps_per_epoch: cap on batches per epoch (quick runs).
        resume: a :meth:`TrainState.state_dict` to continue from.
        on_epoch_end: called with the state after every epoch (checkpoints, logging).
        progress: show a rich progress bar on stderr.
        amp: mixed precision: the autocast dtype of every step's forward and loss
            (``torch.bfloat16`` on CPU or CUDA, ``torch.float16`` on CUDA), None for
            float32. Weights and optimiser state stay float32. Pass it here; do not
            wrap this call in ``torch.autocast`` (refused: see :func:`autocast_step`).

    Returns:
        A :class:`PretrainResult` with the trained encoder, per-epoch loss history and state.
    """
    if loss not in LOSSES:
        raise InputError(f"unknown pretraining loss {loss!r}; expected one of {', '.join(LOSSES)}")
    if epochs < 1:
        raise InputError(f"epochs must be >= 1; got {epochs}")
    train_labels = labels if labels is not None else dataset_labels(data)
    if train_labels is None:
        raise InputError(
            "cannot find the training labels to compute occurrence rates; "
            "pass labels=(S, N) array or a dataset with a .labels attribute"
        )
    state = start_train_state(
        encoder,
        train_labels,
        loss=loss,
        lr=lr,
        weight_decay=weight_decay,
        seed=seed,
        loss_kwargs=loss_kwargs,
        device=device,
        resume=resume,
        head=head,
        schedule=schedule,
        amp=amp,
    )
    loader = make_loader(
        data,
        views=state.views,
        batch_size=batch_size,
        generator=state.loader_generator,
        image_size=image_size,
        resize=resize,
        num_workers=num_workers,
        augment=augment,
    )
    steps = len(loader) if max_steps_per_epoch is None else min(len(loader), max_steps_per_epoch)
    state.total_steps = steps * epochs  # the schedule ends on the run's last step
    start = time.perf_counter()
    with epoch_progress(f"pretrain ({loss})", epochs, steps, enabled=progress) as bar:
        bar.advance_epoch(state.epoch)
        while state.epoch < epochs:
            mean = train_one_epoch(
                state, loader, device=device, max_steps=max_steps_per_epoch, on_step=bar.on_step
            )
            log.info("epoch %d/%d: %s loss %.4f", state.epoch, epochs, loss, mean)
            bar.end_epoch(state.epoch, mean)
            if on_epoch_end is not None:
                on_epoch_end(state)
    seconds = time.perf_counter() - start
    state.model.eval()
    model = state.model if isinstance(state.model, AUModel) else None
    enc = state.model.encoder if isinstance(state.model, AUModel | PooledClassifier) else state.model
    return PretrainResult(
        encoder=enc,
        model=model,
        loss_name=loss,
        history=tuple(state.history),
        seconds=seconds,
        state=state,
    )


class EpochProgress:
    """A rich progress bar over epochs and steps (on stderr); inert when disabled."""

    def __init__(self, progress: Any, epoch_task: Any, step_task: Any, steps: int) -> None:
        self._p, self._e, self._s, self._steps = progress, epoch_task, step_task, steps

    def advance_epoch(self, epoch: int) -> None:
        """Show ``epoch`` epochs as already done (a resumed run)."""
        if self._p is not None:
            self._p.update(self._e, completed=epoch)

    def on_step(self, index: int, loss: float) -> None:
        """Advance the step bar; ``index`` is the 0-based step in the epoch."""
        if self._p is not None:
            self._p.update(self._s, completed=index + 1, description=f"  step  loss {loss:.4f}")

    def end_epoch(self, epoch: int, summary: float) -> None:
        """Mark ``epoch`` (1-based) done and show its summary value."""
        if self._p is not None:
            self._p.update(self._e, completed=epoch)
            self._p.update(self._s, completed=0, description=f"  last epoch {summary:.4f}")


@contextmanager
def epoch_progress(title: str, epochs: int, steps: int, *, enabled: bool = True) -> Iterator[EpochProgress]:
    """Context manager yielding an :class:`EpochProgress` (rich, stderr, transient)."""
    if not enabled:
        yield EpochProgress(None, None, None, steps)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        e = bar.add_task(title, total=epochs)
        s = bar.add_task("  step", total=max(steps, 1))
        yield EpochProgress(bar, e, s, steps)


def _python_rng_state() -> list[Any]:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _to_python_state(state: Sequence[Any]) -> tuple[Any, ...]:
    version, internal, gauss = state
    return (int(version), tuple(int(v) for v in internal), gauss)


def _numpy_rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "name": str(name),
        "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached": float(cached),
    }


def _set_numpy_rng_state(state: Mapping[str, Any]) -> None:
    keys = np.asarray(state["keys"].numpy(), dtype=np.uint32)
    np.random.set_state((state["name"], keys, state["pos"], state["has_gauss"], state["cached"]))
