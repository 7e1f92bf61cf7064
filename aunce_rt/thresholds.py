"""Per-AU decision thresholds: the model's, one for all, per AU code, or one per AU.

Example:
    >>> resolve_thresholds({12: 0.9}, [1, 12], [0.5, 0.5]).tolist()
    [0.5, 0.8999999761581421]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from aunce_rt.aus import au_label
from aunce_rt.errors import InputError

ThresholdSpec = float | Mapping[int | str, float] | Sequence[float] | None


def resolve_thresholds(spec: ThresholdSpec, au_codes: Sequence[int], defaults: Sequence[float]) -> np.ndarray:
    """Per-AU decision thresholds (K,) float32.

    Args:
        spec: None (the model's), one float for every AU, a mapping from AU code
            (12 or "AU12") to threshold overriding those AUs, or a sequence of K.
        au_codes: the model's AU codes.
        defaults: the model's thresholds (K,).
    """
    out = np.asarray(defaults, np.float32).copy()
    codes = [int(c) for c in au_codes]
    if spec is None:
        pass
    elif isinstance(spec, (int, float)):
        out[:] = float(spec)
    elif isinstance(spec, Mapping):
        for key, value in spec.items():
            digits = str(key).upper().removeprefix("AU")
            code = int(digits) if digits.isdigit() else None
            if code not in codes:
                raise InputError(
                    f"threshold given for {key!r}, which is not among the model's AUs "
                    f"{[au_label(c) for c in codes]}; use one of those"
                )
            out[codes.index(code)] = float(value)
    else:
        values = np.asarray(list(spec), np.float32)
        if values.shape != (len(codes),):
            raise InputError(
                f"got {values.size} thresholds for a model with {len(codes)} AUs; pass one float, "
                "a dict {AU code: threshold} or one value per AU"
            )
        out[:] = values
    if not np.all((out >= 0.0) & (out <= 1.0)):
        raise InputError(f"thresholds must lie in [0, 1]; got {out.tolist()}")
    return out
