"""Rich progress bars for training: a ``TrainCallbacks`` the train commands pass to the library.

One bar over the epochs of the current stage and one over its steps (stderr,
transient); a new stage (warm-up, pretraining, linear evaluation) resets both.
Under torchrun only the main process draws.

Example:
    >>> with epoch_progress() as callbacks:                # doctest: +SKIP
    ...     run_experiment(cfg, out, callbacks=callbacks)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aunce_rt.training.callbacks import EpochSummary, TrainCallbacks

__all__ = ["EpochProgress", "epoch_progress"]


class EpochProgress(TrainCallbacks):
    """Progress bars over epochs and steps, fed by a training stage's hooks; inert without a ``Progress``."""

    def __init__(self, progress: Any = None) -> None:
        self._p = progress
        self._stage: str | None = None
        self._e: Any = None
        self._s: Any = None

    def on_epoch_start(self, stage: str, epoch: int, epochs: int, steps: int) -> None:
        """Show ``epoch`` epochs of ``stage`` as done (a resumed run starts above 0)."""
        if self._p is None:
            return
        if stage != self._stage:
            for task in (self._e, self._s):
                if task is not None:
                    self._p.remove_task(task)
            self._stage = stage
            self._e = self._p.add_task(stage, total=epochs)
            self._s = self._p.add_task("  step", total=max(steps, 1))
        self._p.update(self._e, completed=epoch, total=epochs)
        self._p.update(self._s, completed=0, total=max(steps, 1))

    def on_step(self, step: int, loss: float) -> None:
        """Advance the step bar; ``step`` is the 0-based step in the epoch."""
        if self._p is not None and self._s is not None:
            self._p.update(self._s, completed=step + 1, description=f"  step  loss {loss:.4f}")

    def on_epoch_end(self, summary: EpochSummary) -> None:
        """Mark the epoch done and show its loss (and score, when the stage has one)."""
        if self._p is None or self._e is None:
            return
        self._p.update(self._e, completed=summary.epoch)
        shown = summary.score if summary.score is not None else summary.loss
        self._p.update(self._s, completed=0, description=f"  last epoch {shown:.4f}")


@contextmanager
def epoch_progress(*, enabled: bool = True) -> Iterator[EpochProgress]:
    """Context manager yielding an :class:`EpochProgress` (rich, stderr, transient).

    Disabled, or on a torchrun process other than rank 0, the callbacks draw nothing.
    """
    if not enabled or int(os.environ.get("RANK", "0")) != 0:
        yield EpochProgress(None)
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
        yield EpochProgress(bar)
