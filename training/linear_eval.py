"""Linear evaluation of a frozen encoder (paper Sec. 4.1.2).

The encoder is frozen AND in eval mode (``eval()`` at every epoch start, so its
BatchNorm running statistics never move); its per-AU features are computed ONCE
under ``torch.no_grad`` with the centre-crop eval transform and cached. One linear
probe per AU (``models.AUProbe``: logit_i = <W_i, z_i> + b_i) is trained on them
with weighted cross-entropy (w_i from the training labels, Eq. 1) and AdamW.

Model selection: the epoch with the highest validation F1-macro (validation taken
from the training subjects, never the test fold); the test metrics reported are
those of that epoch. The best epoch on the test split is recorded too, labelled
``oracle_*``: it is not a valid model selection, only a comparison with papers that
report it.

Example:
    >>> res = linear_eval(encoder, train_ds, None, test_ds, epochs=100)  # doctest: +SKIP
    >>> res.selected_epoch, res.test_metrics.f1_macro                    # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from aunce_rt.align import INPUT_SIZE
from aunce_rt.errors import InputError
from aunce_rt.evaluation.metrics import AUMetrics, au_metrics
from aunce_rt.models import AUModel, AUProbe
from aunce_rt.training.callbacks import EpochSummary, TrainCallbacks
from aunce_rt.training.features import FeatureSet, extract_features
from aunce_rt.training.losses import WCELoss, au_class_weights
from aunce_rt.training.rng import seed_everything
from aunce_rt.training.train_state import make_optimizer, scheduled_lr

log = logging.getLogger(__name__)

Split = Dataset | FeatureSet


@dataclass(frozen=True)
class LinearEvalResult:
    """What :func:`linear_eval` returns (epochs are 1-based).

    Attributes:
        probe: the trained probe, at the selected epoch.
        model: ``AUModel(encoder, probe)`` in eval mode, ready for save_model/export.
        selected_epoch: epoch of the highest validation F1-macro.
        val_f1: validation F1-macro per epoch, (epochs,).
        test_f1: test F1-macro per epoch, (epochs,).
        train_loss: mean WCE training loss per epoch, (epochs,).
        val_metrics: validation metrics at the selected epoch.
        test_metrics: test metrics at the selected epoch (the number to report).
        oracle_test_epoch: epoch of the highest TEST F1-macro (best-on-test; not a
            valid selection, reported only for comparison and labelled as such).
        oracle_test_f1: test F1-macro at ``oracle_test_epoch``.
        seconds: wall time, feature extraction included.
        test_probs: (T, N) test probabilities at the selected epoch, in the test
            split's order (for breakdowns of the test metrics).
    """

    probe: AUProbe
    model: AUModel
    selected_epoch: int
    val_f1: tuple[float, ...]
    test_f1: tuple[float, ...]
    train_loss: tuple[float, ...]
    val_metrics: AUMetrics
    test_metrics: AUMetrics
    oracle_test_epoch: int
    oracle_test_f1: float
    seconds: float
    test_probs: np.ndarray | None = None

    def summary(self, au_codes: Any = None) -> dict[str, Any]:
        """JSON-able summary (test metrics at the selected epoch, and the labelled oracle)."""
        test = self.test_metrics.to_dict(au_codes) if au_codes is not None else {}
        return {
            "selected_epoch": self.selected_epoch,
            "selection": "validation F1-macro",
            "val_f1_macro": float(self.val_metrics.f1_macro),
            "test_f1_macro": float(self.test_metrics.f1_macro),
            "test": test,
            "oracle_best_on_test_epoch": self.oracle_test_epoch,
            "oracle_best_on_test_f1_macro": self.oracle_test_f1,
        }


def split_by_subject(data: Dataset, *, val_fraction: float = 0.2, seed: int = 0) -> tuple[Subset, Subset]:
    """Split a dataset into (train, validation) subsets by whole subjects.

    Args:
        data: a dataset with a ``subjects`` sequence (one id per item).
        val_fraction: fraction of the subjects that go to validation (at least one).
        seed: seed of the subject shuffle.
    """
    subjects = getattr(data, "subjects", None)
    if subjects is None:
        raise InputError(
            "cannot take a validation split: the dataset has no 'subjects'; "
            "pass val= explicitly or give the dataset subject ids"
        )
    subjects = np.asarray([str(s) for s in subjects])
    unique = np.unique(subjects)
    if len(unique) < 2:
        raise InputError(
            f"cannot split {len(unique)} subject(s) into train and validation; "
            "pass val= explicitly or use more subjects"
        )
    rng = np.random.default_rng(seed)
    n_val = min(len(unique) - 1, max(1, round(val_fraction * len(unique))))
    val_subjects = set(rng.permutation(unique)[:n_val].tolist())
    is_val = np.array([s in val_subjects for s in subjects])
    return Subset(data, np.flatnonzero(~is_val).tolist()), Subset(data, np.flatnonzero(is_val).tolist())


def select_epoch(val_scores: Any) -> int:
    """1-based epoch of the highest validation score (the first one on ties; NaN never wins)."""
    scores = np.asarray(val_scores, dtype=np.float64)
    if scores.size == 0:
        raise InputError("no epoch to select from: train for at least one epoch")
    return int(np.argmax(np.where(np.isnan(scores), -np.inf, scores))) + 1


def _features(encoder: nn.Module, split: Split, name: str, **kwargs: Any) -> FeatureSet:
    if isinstance(split, FeatureSet):
        return split
    if len(split) == 0:  # type: ignore[arg-type]
        raise InputError(f"the {name} split is empty; check its image list")
    return extract_features(encoder, split, **kwargs)


@torch.no_grad()
def _probs(probe: AUProbe, feats: FeatureSet, batch_size: int) -> np.ndarray:
    probe.eval()
    out = [torch.sigmoid(probe(feats.features[i : i + batch_size])) for i in range(0, len(feats), batch_size)]
    return torch.cat(out).cpu().numpy()  # (S, N)


def linear_eval(
    encoder: nn.Module,
    train: Split,
    val: Split | None,
    test: Split,
    *,
    epochs: int = 100,
    lr: float = 1e-3,
    weight_decay: float = 1e-6,
    betas: tuple[float, float] = (0.9, 0.999),
    optimizer: str = "adamw",
    momentum: float = 0.9,
    schedule: str = "constant",
    batch_size: int = 256,
    seed: int = 3407,
    device: str | torch.device = "cpu",
    image_size: int = INPUT_SIZE,
    resize: int | None = None,
    val_fraction: float = 0.2,
    thresholds: float | Any = 0.5,
    callbacks: TrainCallbacks | None = None,
) -> LinearEvalResult:
    """Train one linear probe per AU on a frozen encoder; select the epoch on validation.

    Args:
        encoder: an ``AUEncoder``; frozen (never stepped) and left in eval mode.
        train: training split: a dataset of ``(image, labels (N,))`` or a ready FeatureSet.
        val: validation split, or None to hold out ``val_fraction`` of the training
            subjects (the dataset needs ``subjects``).
        test: test split (the metrics to report).
        epochs: probe training epochs (paper: 100).
        lr: AdamW learning rate (paper: 1e-3).
        weight_decay: AdamW weight decay (paper: 1e-6).
        betas: AdamW's (beta1, beta2) (paper: 0.9, 0.999).
        optimizer, momentum: "adamw" (the paper's) or "sgd" with its momentum.
        schedule: learning-rate schedule of the probe, "constant" (paper) or "cosine"
            (``aunce_rt.training.train_state.scheduled_lr``).
        batch_size: feature vectors per probe step (paper: 256).
        seed: seeds the probe's initialisation and the shuffling.
        device: where to run.
        image_size: network input side of the eval transform.
        resize: resize stored crops to this side before the centre crop.
        val_fraction: share of training subjects held out when ``val`` is None.
        thresholds: decision threshold(s) for the metrics, scalar or (N,).
        callbacks: progress hooks (stage "linear"; the epoch summary's score is the
            validation F1-macro).

    Returns:
        A :class:`LinearEvalResult`.
    """
    if epochs < 1:
        raise InputError(f"epochs must be >= 1; got {epochs}")
    start = time.perf_counter()
    device = torch.device(device)
    if val is None:
        if isinstance(train, FeatureSet):
            raise InputError("val=None needs a training dataset with subjects, not a FeatureSet; pass val=")
        train, val = split_by_subject(train, val_fraction=val_fraction, seed=seed)
    kw = {"image_size": image_size, "resize": resize, "batch_size": batch_size, "device": device}
    encoder.eval()
    tr = _features(encoder, train, "train", **kw).to(device)
    va = _features(encoder, val, "validation", **kw).to(device)
    te = _features(encoder, test, "test", **kw).to(device)
    num_aus, node_dim = int(tr.features.shape[1]), int(tr.features.shape[2])

    seed_everything(seed)
    probe = AUProbe(num_aus, node_dim).to(device)
    opt = make_optimizer(
        list(probe.parameters()), optimizer, lr=lr, weight_decay=weight_decay, betas=betas, momentum=momentum
    )
    criterion = WCELoss().to(device)
    au_weights = au_class_weights(tr.labels).to(device)  # (N,) w_i of the training labels
    gen = torch.Generator().manual_seed(seed)
    steps = (len(tr) + batch_size - 1) // batch_size
    scheduled_lr(lr, 0, steps * epochs, schedule)  # validates the schedule name
    hooks = callbacks or TrainCallbacks()

    val_f1: list[float] = []
    test_f1: list[float] = []
    losses: list[float] = []
    best: dict[str, torch.Tensor] | None = None
    best_val = -np.inf
    for epoch in range(1, epochs + 1):
        hooks.on_epoch_start("linear", epoch - 1, epochs, steps)
        t0 = time.perf_counter()
        encoder.eval()  # frozen AND in eval mode: BatchNorm statistics never move
        probe.train()
        perm = torch.randperm(len(tr), generator=gen).to(device)
        total = 0.0
        for i in range(steps):
            for group in opt.param_groups:
                group["lr"] = scheduled_lr(lr, (epoch - 1) * steps + i, steps * epochs, schedule)
            idx = perm[i * batch_size : (i + 1) * batch_size]
            logits = probe(tr.features[idx])  # (b, N)
            loss = criterion(logits, tr.labels[idx], au_weights=au_weights)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach())
            hooks.on_step(i, float(loss.detach()))
        losses.append(total / steps)
        v = float(au_metrics(_probs(probe, va, batch_size), va.labels.cpu().numpy(), thresholds).f1_macro)
        t = float(au_metrics(_probs(probe, te, batch_size), te.labels.cpu().numpy(), thresholds).f1_macro)
        val_f1.append(v)
        test_f1.append(t)
        if not np.isnan(v) and v > best_val:
            best_val = v
            best = {k: p.detach().clone() for k, p in probe.state_dict().items()}
        hooks.on_epoch_end(EpochSummary("linear", epoch, epochs, losses[-1], time.perf_counter() - t0, v))
        log.debug("linear eval epoch %d: loss %.4f val F1 %.4f test F1 %.4f", epoch, losses[-1], v, t)

    selected = select_epoch(val_f1)
    if best is not None:
        probe.load_state_dict(best)
    probe.eval()
    val_metrics = au_metrics(_probs(probe, va, batch_size), va.labels.cpu().numpy(), thresholds)
    test_probs = _probs(probe, te, batch_size)
    test_metrics = au_metrics(test_probs, te.labels.cpu().numpy(), thresholds)
    oracle = select_epoch(test_f1)
    model = AUModel(encoder, probe).eval()
    log.info(
        "linear eval: epoch %d selected on validation (F1 %.4f); test F1-macro %.4f "
        "(oracle best-on-test: epoch %d, %.4f)",
        selected,
        val_metrics.f1_macro,
        test_metrics.f1_macro,
        oracle,
        test_f1[oracle - 1],
    )
    return LinearEvalResult(
        probe=probe,
        model=model,
        selected_epoch=selected,
        val_f1=tuple(val_f1),
        test_f1=tuple(test_f1),
        train_loss=tuple(losses),
        val_metrics=val_metrics,
        test_metrics=test_metrics,
        oracle_test_epoch=oracle,
        oracle_test_f1=test_f1[oracle - 1],
        seconds=time.perf_counter() - start,
        test_probs=test_probs,
    )
