"""DDP: 2 gloo processes on CPU give the loss and gradients of one global batch; torchrun runs the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn

from aunce_rt.training.distributed import DistContext, all_gather_with_grad, amp_dtype, resolve_device
from aunce_rt.training.losses import AUNCELoss
from tests.training.gloo import free_port, join_gloo

WORLD = 2
B, N, D, C = 6, 3, 10, 8  # images per process, AUs, input dim, feature dim


def _data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x1 = torch.randn(WORLD * B, N, D, generator=g)
    x2 = x1 + 0.3 * torch.randn(WORLD * B, N, D, generator=g)
    labels = torch.randint(0, 2, (WORLD * B, N), generator=g)
    labels[0, 0] = -1  # a masked entry crosses the process boundary too
    return x1, x2, labels


def _model() -> nn.Module:
    torch.manual_seed(1)
    return nn.Linear(D, C)


def _loss(model: nn.Module, x1, x2, labels, gather) -> torch.Tensor:
    z1 = F.normalize(model(x1), dim=-1)  # (b, N, C)
    z2 = F.normalize(model(x2), dim=-1)
    loss_fn = AUNCELoss(num_positives=3)  # paper probs: random positive types and draws
    gen = torch.Generator().manual_seed(123)  # same draws in every process
    return loss_fn(gather(z1), gather(z2), gather(labels), generator=gen)


def _worker(rank: int, port: int, out: str) -> None:
    join_gloo(rank, port, WORLD)
    try:
        torch.set_num_threads(1)
        x1, x2, labels = _data()
        sl = slice(rank * B, (rank + 1) * B)
        model = nn.parallel.DistributedDataParallel(_model())
        loss = _loss(model, x1[sl], x2[sl], labels[sl], all_gather_with_grad)
        loss.backward()
        torch.save(
            {"loss": loss.detach(), "grads": [p.grad for p in model.parameters()]}, f"{out}/rank{rank}.pt"
        )
        del model  # DDP's reducer holds gloo work: gone before the group is
        torch.distributed.barrier()  # neither rank tears the group down under the other
    finally:
        torch.distributed.destroy_process_group()


def test_two_process_gloo_equals_one_global_batch(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    model = _model()
    x1, x2, labels = _data()
    loss = _loss(model, x1, x2, labels, lambda t: t)
    loss.backward()
    for rank in range(WORLD):
        got = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        torch.testing.assert_close(got["loss"], loss.detach(), rtol=1e-5, atol=1e-6)
        for g, p in zip(got["grads"], model.parameters(), strict=True):
            torch.testing.assert_close(g, p.grad, rtol=1e-4, atol=1e-6)


def test_gather_is_identity_in_one_process() -> None:
    x = torch.randn(3, 2, requires_grad=True)
    assert all_gather_with_grad(x) is x
    assert DistContext().gather(x) is x and DistContext().is_main


def test_device_and_amp_choices_on_cpu() -> None:
    cpu = torch.device("cpu")
    # On CPU float32 unless bf16 is asked for (opt-in: the same numbers on every machine).
    assert amp_dtype(cpu, "auto") is None and amp_dtype(cpu, "off") is None
    assert amp_dtype(cpu, "bf16") is torch.bfloat16
    with pytest.raises(ValueError, match="CUDA device"):
        amp_dtype(cpu, "fp16")
    with pytest.raises(ValueError, match="auto, off, bf16 or fp16"):
        amp_dtype(cpu, "int8")
    if not torch.cuda.is_available():
        assert resolve_device("auto") == cpu
        with pytest.raises(ValueError, match="CUDA"):
            resolve_device("cuda")


def _torchrun_train(config: str, out: Path, overrides: list[str], cwd: Path, timeout: int) -> str:
    """``torchrun --nproc_per_node=2 -m aunce_rt.cli -v train pretrain CONFIG`` on CPU (gloo); its log.

    The run must succeed, and both ranks must have joined one process group.
    """
    import subprocess
    import sys

    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        f"--master_port={free_port()}",
    ]
    cmd += ["-m", "aunce_rt.cli", "-v", "train", "pretrain", config, "--out", str(out)]
    for item in overrides:
        cmd += ["--set", item]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert "process 0/2" in log and "process 1/2" in log  # two ranks joined one gloo group
    return log


def test_torchrun_runs_the_cli_in_two_processes_to_a_report(tmp_path: Path) -> None:
    """The documented launch, ``torchrun --nproc_per_node=2 -m aunce_rt.cli train pretrain ...``, on CPU (gloo)."""
    out = tmp_path / "run"
    overrides = ["model.backbone=mobilenetv3_small_100", "pretrain.epochs=1", "data.val_fraction=0.25"]
    log = _torchrun_train("synthau_test", out, overrides, tmp_path, timeout=300)
    assert log.count("fit pretrain (aunce): epochs 1..1 of") == 2 and "2 process(es)" in log  # the one loop
    report = json.loads((out / "report.json").read_text())
    assert report["f1_macro"]["n"] == 1 and 0.0 <= report["f1_macro"]["mean"] <= 1.0
    rows = (out / "metrics.csv").read_text().splitlines()
    assert sum(r.startswith("pretrain,") for r in rows) == 1  # written once, by rank 0


def test_torchrun_runs_clp_in_two_processes(tmp_path: Path) -> None:
    """``method: clp`` under torchrun: the main process extracts the face tracks while the other
    waits, both train one queue (CLPObjective gathers keys), rank 0 writes the checkpoint and report."""
    from aunce_rt.datasets.synth_videos import synthau_videos
    from aunce_rt.training.run import read_checkpoint

    synthau_videos(tmp_path / "videos", count=3, frames=12, seed=3407)
    out = tmp_path / "run"
    overrides = [
        f"clp.videos={tmp_path / 'videos'}",
        "clp.repeats=4",
        "pretrain.batch_size=4",
        "pretrain.epochs=1",
    ]
    log = _torchrun_train("clp_synthau_test", out, overrides, tmp_path, timeout=600)
    assert log.count("fit pretrain (clp): epochs 1..1 of") == 2 and "2 process(es)" in log
    assert log.count("face tracks: 3 tracks from 3 videos") == 2  # the same tracks in both processes
    ckpt = read_checkpoint(out / "checkpoints" / "fold1-seed3407" / "pretrain.pt")
    steps = ckpt["step"]
    assert ckpt["loss_name"] == "clp" and steps >= 1
    # every step enqueued the global batch: 4 clips x 3 frames from the two processes together
    assert int(ckpt["state_dict"]["queue.pointer"]) == (steps * 4 * 3) % 64
    report = json.loads((out / "report.json").read_text())
    assert report["f1_macro"]["n"] == 1
