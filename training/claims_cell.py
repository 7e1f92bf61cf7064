"""One cell of the claims study (``training.claims_study``): data, shared warm-up, loss, linear probe.

The recipe is ``bench/bench_synthau_train.py``'s: a resnet10t from random init with
per-image standardisation, a supervised WCE warm-up on pooled tokens, then the loss
under test for ``recipe.steps`` steps (AUNCE variants pretrain the encoder; WCE/WFL
train encoder + per-AU probe end to end), then a linear probe on the frozen encoder
(epoch chosen on held-out training people, whose labels are as noisy as training's),
scored on unseen test people with clean labels. Training steps run under bf16
autocast where the CPU has it natively.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from aunce_rt.training.claims_study import Cell, CellResult, StudySpec

logger = logging.getLogger(__name__)

_TEST_SEED_OFFSET = 1000  # test people are rendered from another SynthAU seed (and split)


@dataclass
class Crops(Dataset):
    """In-memory aligned crops (S, H, W, 3) BGR uint8 with labels (S, N) and identities."""

    images: np.ndarray
    labels: np.ndarray
    subjects: list[str]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.images[i], self.labels[i]


@dataclass
class GroupData:
    """The crops of one (imbalance, seed): training crops and the clean test set."""

    imbalance: str
    seed: int
    rates: dict[int, float]
    train: Crops  # clean labels
    test: Crops  # clean labels, unseen identities
    fit_idx: list[int]
    val_idx: list[int]

    def noisy_labels(self, spec: StudySpec, noise: float) -> np.ndarray:
        """Training labels at flip rate ``noise`` (SynthAU's own noise stream; 0 -> the clean labels)."""
        if noise == 0:
            return self.train.labels
        from aunce_rt.synthau import SynthAU

        synth = SynthAU(seed=self.seed, split="train", noise=noise, rates=self.rates)
        return np.asarray([synth.truth(i)[2] for i in range(len(self.train))], dtype=np.int64)


def _render(split: str, n: int, seed: int, rates: dict[int, float], side: int) -> Crops:
    import cv2

    from aunce_rt.synthau import SynthAU

    synth = SynthAU(seed=seed, split=split, rates=rates)
    images = np.zeros((n, side, side, 3), np.uint8)
    labels = np.zeros((n, len(synth.au_codes)), np.int64)
    subjects = [""] * n
    for i in synth.render_order(range(n)):  # each person's samples together (same output, faster)
        sample = synth.render_sample(i)
        images[i] = cv2.resize(synth.aligned_crop(sample), (side, side), interpolation=cv2.INTER_AREA)
        labels[i] = sample.labels
        subjects[i] = f"id{sample.identity}"
    return Crops(images, labels, subjects)


def load_group_data(spec: StudySpec, imbalance: str, seed: int, out: Path) -> GroupData:
    """Render (or read back from ``out/data``) the crops of one (imbalance, seed)."""
    from aunce_rt.training.linear_eval import split_by_subject

    r = spec.recipe
    rates = {int(k): float(v) for k, v in spec.imbalance[imbalance].items()}
    side = round(r.input * 256 / 224)
    path = out / "data" / f"{imbalance}_s{seed}.npz"
    if path.is_file():
        z = np.load(path)
        train = Crops(z["train_images"], z["train_labels"], z["train_subjects"].tolist())
        test = Crops(z["test_images"], z["test_labels"], z["test_subjects"].tolist())
    else:
        t = time.perf_counter()
        train = _render("train", r.train_frames, seed, rates, side)
        test = _render("test", r.test_frames, seed + _TEST_SEED_OFFSET, rates, side)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(
            tmp,
            train_images=train.images,
            train_labels=train.labels,
            train_subjects=np.asarray(train.subjects),
            test_images=test.images,
            test_labels=test.labels,
            test_subjects=np.asarray(test.subjects),
        )
        tmp.replace(path)
        logger.info("rendered %s seed %d: %d + %d crops (%.0f s)", imbalance, seed, len(train), len(test),
                    time.perf_counter() - t)  # fmt: skip
    fit, val = split_by_subject(train, val_fraction=r.val_fraction, seed=seed)
    return GroupData(imbalance, seed, rates, train, test, list(fit.indices), list(val.indices))


def _encoder(spec: StudySpec, seed: int) -> torch.nn.Module:
    from aunce_rt.aus import BENCHMARK_AUS
    from aunce_rt.models import create_encoder

    torch.manual_seed(seed)
    enc = create_encoder(
        spec.recipe.backbone, len(BENCHMARK_AUS["synthau"]), node_dim=spec.recipe.node_dim, input_norm="image"
    )
    return enc.to(memory_format=torch.channels_last) if spec.recipe.amp == "bf16" else enc


def _train(
    spec: StudySpec,
    enc: torch.nn.Module,
    data: Dataset,
    steps: int,
    seed: int,
    *,
    loss: str,
    head: str,
    lr: float,
    wd: float,
    loss_kwargs: dict | None = None,
) -> int:
    """Train ``enc`` in place for about ``steps`` optimiser steps (cosine schedule); returns the steps."""
    from aunce_rt.training.distributed import amp_dtype
    from aunce_rt.training.pretrain import pretrain

    r = spec.recipe
    per_epoch = max(1, len(data) // r.batch)  # type: ignore[arg-type]
    epochs = max(1, math.ceil(steps / per_epoch))
    res = pretrain(
        enc,
        data,
        loss=loss,
        head=head,
        schedule="cosine",
        epochs=epochs,
        max_steps_per_epoch=math.ceil(steps / epochs),
        lr=lr,
        weight_decay=wd,
        batch_size=r.batch,
        seed=seed,
        loss_kwargs=loss_kwargs,
        image_size=r.input,
        augment=r.augment,
        amp=amp_dtype(torch.device("cpu"), "bf16" if r.amp == "bf16" else "off"),
    )
    return int(res.state.step)


def _fit_val(data: GroupData, labels: np.ndarray) -> tuple[Subset, Subset]:
    noisy = Crops(data.train.images, labels, data.train.subjects)
    return Subset(noisy, data.fit_idx), Subset(noisy, data.val_idx)


def warm_up(
    spec: StudySpec, data: GroupData, noise: float, seed: int, out: Path
) -> tuple[torch.nn.Module, float]:
    """The warm-up encoder of one (imbalance, noise, seed), trained or read from ``out/warmup``."""
    path = out / "warmup" / f"{data.imbalance}_n{round(100 * noise):02d}_s{seed}.pt"
    enc = _encoder(spec, seed)
    if path.is_file():
        saved = torch.load(path, weights_only=True)
        enc.load_state_dict(saved["state_dict"])
        return enc, float(saved["seconds"])
    r = spec.recipe
    fit, _ = _fit_val(data, data.noisy_labels(spec, noise))
    t = time.perf_counter()
    steps = _train(
        spec, enc, fit, r.warmup_steps, seed, loss="wce", head="pooled", lr=r.lr_warmup, wd=r.wd_warmup
    )
    secs = time.perf_counter() - t
    tmp = path.with_suffix(".tmp")
    torch.save({"state_dict": enc.state_dict(), "seconds": torch.tensor(secs)}, tmp)
    tmp.replace(path)
    logger.info("warm-up %s: %d steps (%.0f s)", path.stem, steps, secs)
    return enc, secs


def run_cell(
    spec: StudySpec, data: GroupData, cell: Cell, enc: torch.nn.Module, warmup_secs: float
) -> CellResult:
    """Train ``enc`` (a copy of the warm-up) with the cell's loss, then probe it; the cell's result."""
    from aunce_rt.aus import BENCHMARK_AUS
    from aunce_rt.training.linear_eval import linear_eval

    r = spec.recipe
    variant = dict(spec.losses[cell.loss])
    loss = variant.pop("loss")
    labels = data.noisy_labels(spec, cell.noise)
    fit, val = _fit_val(data, labels)
    t = time.perf_counter()
    _train(
        spec,
        enc,
        fit,
        r.steps,
        cell.seed,
        loss=loss,
        head="probe",
        lr=r.lr,
        wd=r.wd,
        loss_kwargs=variant or None,
    )
    lin = linear_eval(
        enc,
        fit,
        val,
        data.test,
        epochs=r.probe_epochs,
        batch_size=r.probe_batch,
        seed=cell.seed,
        image_size=r.input,
    )
    codes = BENCHMARK_AUS["synthau"]
    per_au = {f"AU{c}": float(f) for c, f in zip(codes, lin.test_metrics.f1, strict=True)}
    minority = float(np.mean([per_au[f"AU{c}"] for c in spec.minority_aus]))
    return CellResult(
        imbalance=cell.imbalance,
        noise=cell.noise,
        seed=cell.seed,
        loss=cell.loss,
        f1_macro=float(lin.test_metrics.f1_macro),
        f1_per_au=per_au,
        minority_f1=minority,
        selected_epoch=int(lin.selected_epoch),
        flipped=float(np.mean(labels != data.train.labels)),
        seconds=time.perf_counter() - t,
        warmup_seconds=warmup_secs,
    )
