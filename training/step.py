"""The ONE training step of the project: forward, loss, backward, optimiser step.

Everything that trains an encoder goes through :func:`train_step` (via
``aunce_rt.training.loop.fit``):

- ``loss="aunce"`` (paper Sec. 3, Eqs. 2-4, 8-10): two SimCLR views per image, the
  encoder's per-AU features z1, z2 (B, N, C) and the labels (B, N) go to
  ``aunce_rt.training.losses.AUNCELoss`` with the training split's occurrence rates r_i and
  class weights w_i (Eq. 1).
- ``loss="wce"`` / ``"wfl"``: one view per image, logits (B, N) of the model.

Multi-process training: ``TrainState.gather`` all-gathers a tensor (with gradient)
along dim 0; :func:`compute_loss` applies it to the views' features and labels
before the loss, so the AUNCE negatives span every process.

Example:
    >>> value = train_step(state, (x1, x2, labels), torch.device("cpu"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch

from aunce_rt.training.train_state import TrainState, scheduled_lr

__all__ = ["autocast_step", "compute_loss", "train_step"]


def compute_loss(state: TrainState, batch: Sequence[torch.Tensor], device: torch.device) -> torch.Tensor:
    """Forward one batch and return the scalar loss (no backward).

    Args:
        state: the run.
        batch: ``(view1 (B,3,H,W), view2 (B,3,H,W), labels (B,N))`` for "aunce",
            ``(clip views (B,T,3,H,W) x 2, identities (B,))`` for "clp",
            ``(images (B,3,H,W), labels (B,N))`` otherwise.
        device: where to compute.
    """
    if state.loss_name == "clp":  # (v1 (B,T,3,H,W), v2, ids (B,)); the objective makes its own terms
        v1, v2, ids = batch
        return state.model(v1.to(device), v2.to(device), ids.to(device)).total
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
