"""Resumable training-state checkpoints of a run, in the one checkpoint format.

A run's ``warmup.pt`` and ``pretrain.pt`` are ``models.save_model`` files of kind
"train_state": the model payload (weights, encoder config, AU codes, thresholds,
provenance) plus the optimizer, loss scaler, epoch, step, loss history and RNG
states of the :class:`~aunce_rt.training.train_state.TrainState`. They are written
atomically (temporary file, fsync, ``os.replace``), so a run killed at any moment
resumes from its last complete checkpoint. A ``loss="clp"`` run (CLP as
reconstructed here) has no AU encoder: its checkpoint holds the same training keys
and the objective's weights (network, momentum encoder, queue) as ``state_dict``.

Example:
    >>> save_train_state("run/pretrain.pt", state, au_codes=(1, 2, 4), extra={"stage": "pretrain"})  # doctest: +SKIP
    >>> state.load_state_dict(train_state_of(read_checkpoint("run/pretrain.pt")))                 # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from aunce_rt.errors import ModelError
from aunce_rt.models.checkpoint import TRAIN_STATE_KEYS, atomic_torch_save, save_model
from aunce_rt.training.train_state import TrainState

__all__ = ["atomic_save", "read_checkpoint", "save_train_state", "train_state_of"]


def atomic_save(obj: Mapping[str, Any], path: str | Path) -> Path:
    """``torch.save`` to a temporary file beside ``path``, fsync, then ``os.replace``."""
    return atomic_torch_save(obj, path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a run checkpoint with ``weights_only=True``; ModelError if unreadable."""
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(
            f"cannot read run checkpoint {path} ({type(exc).__name__}: {exc}); delete it to restart"
        ) from None
    if not isinstance(obj, dict) or "state_dict" not in obj or "epoch" not in obj:
        raise ModelError(
            f"{path} is not an aunce-rt run checkpoint (no state_dict/epoch); delete it to restart"
        )
    return obj


def save_train_state(
    path: str | Path,
    state: TrainState,
    *,
    au_codes: Sequence[int],
    extra: Mapping[str, Any],
) -> Path:
    """Write ``state`` as a "train_state" checkpoint (``models.save_model``), atomically.

    The thresholds are the checkpoint format's defaults; a finished model's come
    with its probe (``RUN/checkpoints/<unit>/model.pt``).
    """
    train_state = state.state_dict()
    if state.loss_name == "clp":  # a CLPObjective is no AUEncoder: the same keys, written directly
        payload = {"kind": "train_state", "state_dict": train_state.pop("model"), "au_codes": list(au_codes)}
        return atomic_torch_save({**payload, **train_state, "extra": dict(extra)}, path)
    del train_state["model"]  # save_model writes the (unwrapped) module's weights
    return save_model(
        path, state.module, au_codes=au_codes, extra=dict(extra), kind="train_state", train_state=train_state
    )


def train_state_of(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The :meth:`TrainState.load_state_dict` mapping of a run checkpoint (this or an older format)."""
    return {"model": payload["state_dict"], **{k: payload[k] for k in TRAIN_STATE_KEYS if k in payload}}
