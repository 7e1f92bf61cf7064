"""One-file AU model checkpoints: weights, encoder config, AU codes, thresholds, provenance.

The file is a ``torch.save`` of a dict of tensors and primitives only, so it loads
with ``torch.load(weights_only=True)``::

    {"format": "aunce-rt-model", "format_version": 1, "aunce_rt_version": str,
     "encoder_config": dict, "au_codes": list[int], "thresholds": list[float],
     "state_dict": AUModel.state_dict(), "extra": dict}

plus ``"kind"``: "model" (a finished model: encoder + trained probe) or
"train_state" (a resumable training state: the same payload plus the training
keys "loss_name", "optimizer", "epoch", "step", "history", "rng" and, for float16
runs, "scaler"; its ``state_dict`` is the module being trained: an ``AUModel``, the
bare encoder of AUNCE pretraining, or the warm-up's ``PooledClassifier``) and
``"probe_trained"``. ``load_model`` reads both kinds, and refuses a checkpoint whose
probe was never trained (AUNCE pretraining, warm-up) saying how to train one.
Files written before ``kind`` existed read as "model", or "train_state" when they
hold an "epoch"; their probe counts as trained when their weights include one.

Example:
    >>> path = save_model("model.pt", model, au_codes=[1, 2, 4])  # doctest: +SKIP
    >>> loaded = load_model(path)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from aunce_rt._version import __version__
from aunce_rt.errors import ModelError, OutputError
from aunce_rt.models.clp import ARCH as CLP_ARCH
from aunce_rt.models.clp import CLPEncoder, create_clp_encoder
from aunce_rt.models.encoder import AUEncoder, create_encoder
from aunce_rt.models.probe import AUModel, AUProbe

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "KINDS",
    "LoadedModel",
    "atomic_torch_save",
    "build_encoder",
    "checkpoint_kind",
    "load_model",
    "save_model",
]

logger = logging.getLogger(__name__)

FORMAT = "aunce-rt-model"
FORMAT_VERSION = 1
DEFAULT_THRESHOLD = 0.5
KINDS = ("model", "train_state")
TRAIN_STATE_KEYS = ("loss_name", "optimizer", "epoch", "step", "history", "rng", "scaler")
_REQUIRED = ("encoder_config", "state_dict", "au_codes")
ENCODERS = (AUEncoder, CLPEncoder)  # the encoders a checkpoint can hold; see build_encoder


def build_encoder(config: Mapping[str, Any]) -> AUEncoder | CLPEncoder:
    """An encoder (random weights) from a checkpoint's ``encoder_config``: ``arch`` "clp" builds
    a CLP encoder (``models.clp``), anything else the ME-GraphAU-style ``create_encoder``."""
    config = dict(config)
    if config.get("arch") == CLP_ARCH:
        return create_clp_encoder(**config)
    return create_encoder(**config)


@dataclass(frozen=True)
class LoadedModel:
    """A model read back from a checkpoint.

    Attributes:
        model: the AU model, in eval mode.
        au_codes: the K AU codes, in output order.
        thresholds: the K decision thresholds on probabilities.
        encoder_config: the ``create_encoder`` keyword arguments.
        extra: provenance (dataset, protocol, metrics, config, git revision ...).
        kind: "model" or "train_state" (a resumable training state whose probe is trained).
    """

    model: AUModel
    au_codes: tuple[int, ...]
    thresholds: tuple[float, ...]
    encoder_config: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    kind: str = "model"


def save_model(
    path: str | Path,
    model: nn.Module,
    *,
    au_codes: Sequence[int],
    thresholds: Sequence[float] | None = None,
    extra: dict[str, Any] | None = None,
    kind: str = "model",
    train_state: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically (temporary file, fsync, rename): a killed run never leaves half a file.

    Args:
        path: the file to write (parent folders are created).
        model: the AU model (``kind="model"``); for ``kind="train_state"`` the module
            being trained: an ``AUModel``, an ``AUEncoder`` or a module with an
            ``encoder`` attribute (``PooledClassifier``); a DDP wrapper is unwrapped.
        au_codes: the AU code of each of the model's N outputs.
        thresholds: N probability thresholds; None means 0.5 each.
        extra: JSON-able provenance: training dataset, protocol, metrics, config, git revision.
        kind: "model" or "train_state" (see the module docstring).
        train_state: for "train_state": the training keys (``TRAIN_STATE_KEYS``; "epoch" required).

    Returns:
        The path written.

    Raises:
        ValueError: AU codes or thresholds do not match the model, ``extra`` is not
            JSON-able, or ``kind`` and ``model``/``train_state`` do not go together.
        OutputError: the file cannot be written.

    Example:
        >>> save_model("model.pt", model, au_codes=[1, 2, 4])  # doctest: +SKIP
    """
    model = getattr(model, "module", model)  # DistributedDataParallel -> the module
    if kind not in KINDS:
        raise ValueError(f"checkpoint kind must be one of {', '.join(KINDS)}; got {kind!r}")
    if kind == "model" and (not isinstance(model, AUModel) or train_state is not None):
        raise ValueError(
            f"a 'model' checkpoint holds an AUModel (encoder + trained probe) and no training state; got a "
            f"{type(model).__name__}{' and a train_state' if train_state is not None else ''}: "
            "pass kind='train_state' for a resumable training state"
        )
    if kind == "train_state" and (train_state is None or "epoch" not in train_state):
        raise ValueError("a 'train_state' checkpoint needs train_state= with at least its 'epoch'")
    encoder = model if isinstance(model, ENCODERS) else getattr(model, "encoder", None)
    if not isinstance(encoder, ENCODERS):
        raise ValueError(
            f"cannot find the AUEncoder of a {type(model).__name__}; save an AUModel or AUEncoder"
        )
    codes = [int(c) for c in au_codes]
    n = encoder.num_aus
    if len(codes) != n:
        raise ValueError(f"got {len(codes)} AU codes for a model with {n} outputs; give one code per output")
    levels = [DEFAULT_THRESHOLD] * n if thresholds is None else [float(t) for t in thresholds]
    if len(levels) != n:
        raise ValueError(
            f"got {len(levels)} thresholds for a model with {n} outputs; give one per AU or None"
        )
    extra = dict(extra or {})
    try:
        json.dumps(extra)
    except TypeError as exc:
        raise ValueError(f"extra must be JSON-able (str, numbers, lists, dicts); {exc}") from exc
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "probe_trained": isinstance(model, AUModel),
        "aunce_rt_version": __version__,
        "encoder_config": dict(encoder.config),
        "au_codes": codes,
        "thresholds": levels,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extra": extra,
    }
    if train_state is not None:
        payload.update({k: train_state[k] for k in TRAIN_STATE_KEYS if k in train_state})
    path = Path(path)
    try:
        atomic_torch_save(payload, path)
    except OSError as exc:
        raise OutputError(f"cannot write checkpoint {path} ({exc}); choose a writable folder") from exc
    logger.info("saved %s %s (%d AUs) to %s", encoder.backbone_name, kind, n, path)
    return path


def atomic_torch_save(obj: Mapping[str, Any], path: str | Path) -> Path:
    """``torch.save`` to a temporary file beside ``path``, fsync, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        torch.save(dict(obj), fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def _read(path: Path, map_location: str | torch.device) -> Mapping[str, Any]:
    if not path.is_file():
        raise ModelError(f"checkpoint {path} does not exist; give the path of a file written by save_model")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise ModelError(
            f"cannot read checkpoint {path} ({type(exc).__name__}: {str(exc)[:200]}); expected a file written "
            "by models.save_model (torch.save of tensors and primitives); it may be truncated or of another kind"
        ) from exc
    if not isinstance(obj, Mapping):
        raise ModelError(
            f"checkpoint {path} holds a {type(obj).__name__}, expected the dict written by save_model"
        )
    missing = [k for k in _REQUIRED if k not in obj]
    if missing:
        raise ModelError(
            f"checkpoint {path} lacks {', '.join(missing)} (has {', '.join(map(str, list(obj)[:8]))}); "
            "expected a file written by models.save_model; a bare backbone state dict goes to "
            "create_encoder(..., init_weights=PATH) instead"
        )
    return obj


def _split_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove a DDP "module." prefix if every key has it."""
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module.") :]: v for k, v in state.items()}
    return dict(state)


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> LoadedModel:
    """Read a checkpoint written by ``save_model``, of either kind, as a model.

    A checkpoint whose probe was never trained (AUNCE pretraining or the warm-up:
    encoder weights only, or the warm-up's pooled classifier) is refused: its
    outputs would be those of a random probe.

    Args:
        path: the checkpoint file.
        map_location: device to load tensors on.

    Returns:
        The model in eval mode with its AU codes, thresholds, config and provenance.

    Raises:
        ModelError: the file is missing, corrupt, not an aunce-rt model checkpoint,
            or its probe was never trained.
    """
    path = Path(path)
    obj = _read(path, map_location)
    state = _split_state(obj["state_dict"])
    if not obj.get("probe_trained", True) or not any(k.startswith("probe.") for k in state):
        stage = (obj.get("extra") or {}).get("stage", "pretraining")
        raise ModelError(
            f"checkpoint {path} holds an encoder whose AU probe was never trained (a {stage} "
            f"{checkpoint_kind(obj).replace('_', ' ')}); train one with `aunce-rt train linear RUN` "
            "and load RUN/checkpoints/<split>-seed<seed>/model.pt"
        )
    config = dict(obj["encoder_config"])
    try:
        encoder = build_encoder(config)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"checkpoint {path} has an unusable encoder_config {config} ({exc})") from exc
    model = AUModel(encoder, AUProbe(encoder.num_aus, encoder.node_dim))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelError(
            f"checkpoint {path} weights do not fit its encoder_config {config}: {str(exc)[:400]}"
        ) from exc
    codes = tuple(int(c) for c in obj["au_codes"])
    levels = tuple(float(t) for t in obj.get("thresholds") or [DEFAULT_THRESHOLD] * len(codes))
    if len(codes) != encoder.num_aus or len(levels) != len(codes):
        raise ModelError(
            f"checkpoint {path} lists {len(codes)} AU codes and {len(levels)} thresholds for a model with "
            f"{encoder.num_aus} outputs; re-save it with save_model"
        )
    model.to(map_location).eval()
    return LoadedModel(model, codes, levels, config, dict(obj.get("extra") or {}), checkpoint_kind(obj))


def checkpoint_kind(obj: Mapping[str, Any]) -> str:
    """The ``kind`` of a checkpoint payload: its "kind", else inferred (an "epoch" -> "train_state")."""
    return str(obj.get("kind") or ("train_state" if "epoch" in obj else "model"))
