"""The one training loop: pretrain() in one process and under DDP both run loop.fit; callbacks; betas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

import aunce_rt.training.pretrain as pretrain_mod
from aunce_rt.training.callbacks import EpochSummary, TrainCallbacks
from aunce_rt.training.distributed import DistContext
from aunce_rt.training.loop import fit
from aunce_rt.training.pretrain import label_statistics, make_train_state, pretrain
from tests.training.gloo import free_port, join_gloo
from tests.training.test_pretrain import INPUT, _encoder, _Faces

WORLD = 2


def _spy_fit(calls: list[dict]) -> object:
    """A wrapper of loop.fit that records what each call trained with."""

    def spy(state, loader, **kw):  # type: ignore[no-untyped-def]
        calls.append(
            {
                "sampler": type(loader.sampler).__name__,
                "model": type(state.model).__name__,
                "gather": state.gather is not None,
                "epochs": kw["epochs"],
                "stage": kw["stage"],
            }
        )
        return fit(state, loader, **kw)

    return spy


def test_one_process_pretrain_runs_the_one_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict] = []
    monkeypatch.setattr(pretrain_mod, "fit", _spy_fit(calls))
    res = pretrain(_encoder(), _Faces(), loss="aunce", epochs=2, lr=1e-3, batch_size=4, image_size=INPUT)
    assert calls == [
        {"sampler": "RandomSampler", "model": "AUEncoder", "gather": False, "epochs": 2, "stage": None}
    ]
    assert len(res.history) == 2


def _ddp_worker(rank: int, port: int, out: str) -> None:
    join_gloo(rank, port, WORLD)
    try:
        torch.set_num_threads(1)
        calls: list[dict] = []
        pretrain_mod.fit = _spy_fit(calls)  # this spawned process's own module
        ctx = DistContext(rank=rank, world_size=WORLD, local_rank=rank)
        res = pretrain(
            _encoder(), _Faces(), loss="aunce", epochs=1, lr=1e-3, batch_size=4, image_size=INPUT, ctx=ctx
        )
        calls[0]["unwrapped"] = type(res.state.model).__name__
        Path(out, f"rank{rank}.json").write_text(json.dumps(calls))
        torch.distributed.barrier()
    finally:
        torch.distributed.destroy_process_group()


def test_ddp_pretrain_runs_the_same_fit_with_sampler_and_gather(tmp_path: Path) -> None:
    mp.spawn(_ddp_worker, args=(free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    for rank in range(WORLD):
        (call,) = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert call == {
            "sampler": "DistributedSampler",  # DDP adds the sampler ...
            "model": "DistributedDataParallel",  # ... the wrapper ...
            "gather": True,  # ... and the gather of features; the loop is the same
            "epochs": 1,
            "stage": None,
            "unwrapped": "AUEncoder",
        }


class _Record(TrainCallbacks):
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def on_epoch_start(self, stage: str, epoch: int, epochs: int, steps: int) -> None:
        self.events.append(("start", stage, epoch, epochs, steps))

    def on_step(self, step: int, loss: float) -> None:
        self.events.append(("step", step))

    def on_epoch_end(self, summary: EpochSummary) -> None:
        self.events.append(("end", summary.stage, summary.epoch, summary.epochs))


def test_progress_reaches_the_caller_through_callbacks() -> None:
    rec = _Record()
    pretrain(
        _encoder(),
        _Faces(),
        loss="wce",
        epochs=2,
        lr=1e-3,
        batch_size=4,
        image_size=INPUT,
        callbacks=rec,
        stage="x",
    )
    epoch = [("start", "x", 0, 2, 2), ("step", 0), ("step", 1), ("end", "x", 1, 2)]
    assert rec.events == epoch + [("start", "x", 1, 2, 2), ("step", 0), ("step", 1), ("end", "x", 2, 2)]


def test_betas_reach_adamw() -> None:
    rates, weights = label_statistics(_Faces().labels)
    state = make_train_state(_encoder(), occurrence=rates, au_weights=weights, betas=(0.8, 0.95))
    assert state.optimizer.param_groups[0]["betas"] == (0.8, 0.95)
