"""One-file AU model checkpoints: weights, encoder config, AU codes, thresholds, provenance.

The file is a ``torch.save`` of a dict of tensors and primitives only, so it loads
with ``torch.load(weights_only=True)``::

    {"format": "aunce-rt-model", "format_version": 1, "aunce_rt_version": str,
     "encoder_config": dict, "au_codes": list[int], "thresholds": list[float],
     "state_dict": AUModel.state_dict(), "extra": dict}

Training-run checkpoints (for resuming) are the same dict with more keys
("optimizer", "epoch", "rng", ...); ``load_model`` reads them too.

Example:
    >>> path = save_model("model.pt", model, au_codes=[1, 2, 4])  # doctest: +SKIP
    >>> loaded = load_model(path)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from aunce_rt._version import __version__
from aunce_rt.errors import ModelError, OutputError
from aunce_rt.models.encoder import create_encoder
from aunce_rt.models.probe import AUModel, AUProbe

__all__ = ["FORMAT", "FORMAT_VERSION", "LoadedModel", "load_model", "save_model"]

logger = logging.getLogger(__name__)

FORMAT = "aunce-rt-model"
FORMAT_VERSION = 1
DEFAULT_THRESHOLD = 0.5
_REQUIRED = ("encoder_config", "state_dict", "au_codes")


@dataclass(frozen=True)
class LoadedModel:
    """A model read back from a checkpoint.

    Attributes:
        model: the AU model, in eval mode.
        au_codes: the K AU codes, in output order.
        thresholds: the K decision thresholds on probabilities.
        encoder_config: the ``create_encoder`` keyword arguments.
        extra: provenance (dataset, protocol, metrics, config, git revision ...).
    """

    model: AUModel
    au_codes: tuple[int, ...]
    thresholds: tuple[float, ...]
    encoder_config: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def save_model(
    path: str | Path,
    model: AUModel,
    *,
    au_codes: Sequence[int],
    thresholds: Sequence[float] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a model checkpoint.

    Args:
        path: the file to write (parent folders are created).
        model: the AU model.
        au_codes: the AU code of each of the model's N outputs.
        thresholds: N probability thresholds; None means 0.5 each.
        extra: JSON-able provenance: training dataset, protocol, metrics, config, git revision.

    Returns:
        The path written.

    Raises:
        ValueError: AU codes or thresholds do not match the model, or ``extra`` is not JSON-able.
        OutputError: the file cannot be written.
    """
    codes = [int(c) for c in au_codes]
    n = model.encoder.num_aus
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
        "aunce_rt_version": __version__,
        "encoder_config": dict(model.encoder.config),
        "au_codes": codes,
        "thresholds": levels,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extra": extra,
    }
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(payload, path)
    except OSError as exc:
        raise OutputError(f"cannot write checkpoint {path} ({exc}); choose a writable folder") from exc
    logger.info("saved %s model (%d AUs) to %s", model.encoder.backbone_name, n, path)
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
    """Read a checkpoint written by ``save_model`` (or a training-run checkpoint).

    An encoder-only state dict (keys without the "encoder."/"probe." prefixes, as a
    pretraining run may save) is accepted: the probe then keeps its initial weights
    and a warning is logged.

    Args:
        path: the checkpoint file.
        map_location: device to load tensors on.

    Returns:
        The model in eval mode with its AU codes, thresholds, config and provenance.

    Raises:
        ModelError: the file is missing, corrupt, or not an aunce-rt model checkpoint.
    """
    path = Path(path)
    obj = _read(path, map_location)
    config = dict(obj["encoder_config"])
    try:
        encoder = create_encoder(**config)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"checkpoint {path} has an unusable encoder_config {config} ({exc})") from exc
    model = AUModel(encoder, AUProbe(encoder.num_aus, encoder.node_dim))
    state = _split_state(obj["state_dict"])
    try:
        if any(k.startswith("encoder.") for k in state):
            model.load_state_dict(state, strict=True)
        else:
            encoder.load_state_dict(state, strict=True)
            logger.warning("checkpoint %s holds encoder weights only; the probe is untrained", path)
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
    return LoadedModel(model, codes, levels, config, dict(obj.get("extra") or {}))
