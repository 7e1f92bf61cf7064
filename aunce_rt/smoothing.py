"""Causal temporal smoothing of AU probabilities, one exponential moving average per track.

``s_t = alpha * p_t + (1 - alpha) * s_{t-1}``, with ``s_0 = p_0``. It uses only the
current and past frames, so a live run and an offline run over the same frames
give identical results (no look-ahead, no delay beyond the EMA's own lag of about
``(1 - alpha) / alpha`` frames). ``alpha = 1`` turns smoothing off.

Example:
    >>> import numpy as np
    >>> sm = CausalSmoother(alpha=0.5)
    >>> sm.update(0, np.array([0.0, 1.0]))
    array([0., 1.], dtype=float32)
    >>> sm.update(0, np.array([1.0, 1.0]))
    array([0.5, 1. ], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from aunce_rt.errors import InputError


class CausalSmoother:
    """Per-track EMA of AU probability vectors.

    Args:
        alpha: weight of the newest frame, in (0, 1]; smaller is smoother and slower.
    """

    def __init__(self, alpha: float) -> None:
        if not 0.0 < float(alpha) <= 1.0:
            raise InputError(f"smoothing alpha must be in (0, 1]; got {alpha} (1 turns smoothing off)")
        self.alpha = float(alpha)
        self._state: dict[int, np.ndarray] = {}

    @property
    def track_ids(self) -> list[int]:
        """Tracks with a smoothing state."""
        return list(self._state)

    def update(self, track_id: int, probs: np.ndarray) -> np.ndarray:
        """Fold this frame's probabilities into the track's average.

        Args:
            track_id: face track id.
            probs: ``(K,)`` probabilities of this frame.

        Returns:
            ``(K,)`` float32 smoothed probabilities (a new array).
        """
        p = np.asarray(probs, dtype=np.float32).reshape(-1)
        prev = self._state.get(track_id)
        if prev is None:
            s = p.copy()
        elif prev.shape != p.shape:
            raise InputError(
                f"track {track_id}: got {p.shape[0]} probabilities after {prev.shape[0]}; "
                "call drop(track_id) before reusing an id for another model"
            )
        else:
            s = self.alpha * p + (1.0 - self.alpha) * prev
        self._state[track_id] = s
        return s.copy()

    def drop(self, track_id: int) -> None:
        """Forget a track (no error if unknown)."""
        self._state.pop(track_id, None)

    def retain(self, track_ids: Iterable[int]) -> None:
        """Forget every track not in ``track_ids`` (e.g. the tracker's active ids)."""
        keep = set(track_ids)
        for tid in [t for t in self._state if t not in keep]:
            del self._state[tid]

    def reset(self) -> None:
        """Forget every track."""
        self._state.clear()
