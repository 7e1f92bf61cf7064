"""Random-number-generator state: seeding, and saving/restoring the global RNGs in a checkpoint.

The states are tensors and primitives only, so a checkpoint holding them loads with
``torch.load(weights_only=True)``.

Example:
    >>> seed_everything(3407)
    >>> state = global_rng_state()
    >>> set_global_rng_state(state)
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["global_rng_state", "seed_everything", "set_global_rng_state"]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) global RNGs."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def global_rng_state() -> dict[str, Any]:
    """The torch (CPU and, when present, CUDA), Python and NumPy global RNG states."""
    rng: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": _python_rng_state(),
        "numpy": _numpy_rng_state(),
    }
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return rng


def set_global_rng_state(rng: Mapping[str, Any]) -> None:
    """Restore what :func:`global_rng_state` returned (missing entries are left alone)."""
    if "torch" in rng:
        torch.set_rng_state(rng["torch"])
    if "python" in rng:
        random.setstate(_to_python_state(rng["python"]))
    if "numpy" in rng:
        _set_numpy_rng_state(rng["numpy"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


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
