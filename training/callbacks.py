"""Training progress hooks: what a training loop tells its caller, and nothing else.

Library code only logs; a front end (the CLI's rich progress bars,
``aunce_rt.cli._progress``) subclasses :class:`TrainCallbacks` and passes it in.

Example:
    >>> class Print(TrainCallbacks):
    ...     def on_epoch_end(self, summary: EpochSummary) -> None:
    ...         print(summary.stage, summary.epoch, round(summary.loss, 3))
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EpochSummary", "TrainCallbacks"]


@dataclass(frozen=True)
class EpochSummary:
    """One finished epoch of a training stage.

    Attributes:
        stage: "warmup", "pretrain" or "linear" (or the loss name outside a run).
        epoch: the epoch just finished, 1-based.
        epochs: the stage's total epochs.
        loss: the epoch's mean training loss.
        seconds: wall time of the epoch.
        score: the stage's selection score when it has one (linear: validation F1-macro).
    """

    stage: str
    epoch: int
    epochs: int
    loss: float
    seconds: float
    score: float | None = None


class TrainCallbacks:
    """No-op hooks of a training stage; override the ones you need.

    Under torchrun every process calls them; a front end draws on the main process only.
    """

    def on_epoch_start(self, stage: str, epoch: int, epochs: int, steps: int) -> None:
        """An epoch of ``stage`` begins, with ``steps`` optimiser steps.

        ``epoch`` counts the epochs already done (0 at the start; above 0 when a run resumes).
        """

    def on_step(self, step: int, loss: float) -> None:
        """Step ``step`` (0-based, within the epoch) took a loss of ``loss``."""

    def on_epoch_end(self, summary: EpochSummary) -> None:
        """An epoch finished (see :class:`EpochSummary`)."""
