"""Fitting a non-linear real-face AU head: one hidden ReLU layer on the landmark geometry.

The same training rows as the linear head (``_geometry_fit.training_rows``: SynthAU truth,
real faces with the teacher's soft targets, mirrored copies, balanced weights per AU), one
multi-label network instead of twelve logistic regressions:

    z = (flatten(g) - mean) / std          (S, 1434)   standardised on the training rows
    h = dropout(relu(z @ W1 + b1))         (S, H)
    logits = h @ W2 + b2                   (S, K)
    loss = sum_{s,k} w_sk BCE(logits_sk, y_sk) / sum_{s,k} w_sk

The standardisation is folded into W1 and b1, and with ``mirror`` the exported head
averages its logits over the face and its mirror image (``MLPGeometryHead``), so that a
face and its mirror image get the same scores. Torch is imported only here, inside the fit.

Example:
    >>> head = fit_mlp_head(rows, MLPConfig(seed=0), mirror=perm)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from aunce_rt.geometry import NUM_POINTS
from aunce_rt.pipelines._geometry_fit import Rows, balanced_weights

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MLPConfig:
    """Settings of the MLP head (fixed before it was scored on real faces; ``bench/EXP_REALFACES.md``).

    Attributes:
        hidden: width H of the hidden layer.
        dropout: dropout on the hidden layer during training.
        lr: AdamW learning rate (cosine decay to 0 over the epochs).
        weight_decay: AdamW weight decay.
        epochs: passes over the training rows.
        batch: rows per step.
        seed: initialisation and shuffling seed.
        balanced: class-balanced weights per AU (``_geometry_fit.balanced_weights``).
    """

    hidden: int = 256
    dropout: float = 0.2
    lr: float = 1e-3
    weight_decay: float = 1e-3
    epochs: int = 30
    batch: int = 256
    seed: int = 0
    balanced: bool = True


def fit_mlp_head(rows: Rows, config: MLPConfig, mirror: np.ndarray | None = None):
    """Train the MLP on ``rows`` and return it as an ``MLPGeometryHead`` (standardisation folded in).

    Args:
        rows: training rows (geometry only: their appearance logits are ignored).
        config: the network and its optimiser.
        mirror: (478,) mirror permutation: the returned head averages over the mirror image.
    """
    import torch
    from torch import nn

    from aunce_rt.export._geometry_head import MLPGeometryHead

    if len(rows) == 0:
        raise ValueError("the MLP head needs training rows; got none")
    x = rows.landmarks.reshape(len(rows), NUM_POINTS * 3).astype(np.float64)
    mean = x.mean(0)
    std = x.std(0)
    std = np.where(std > 0, std, 1.0)
    z = torch.from_numpy(((x - mean) / std).astype(np.float32))
    y = torch.from_numpy(rows.targets.astype(np.float32))
    w = torch.from_numpy((balanced_weights(rows) if config.balanced else rows.weights).astype(np.float32))
    k = y.shape[1]

    gen = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    net = nn.Sequential(
        nn.Linear(z.shape[1], config.hidden),
        nn.ReLU(),
        nn.Dropout(config.dropout),
        nn.Linear(config.hidden, k),
    )
    steps = config.epochs * int(np.ceil(len(z) / config.batch))
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    bce = nn.BCEWithLogitsLoss(reduction="none")
    net.train()
    for epoch in range(config.epochs):
        order = torch.randperm(len(z), generator=gen)
        total = 0.0
        for i in range(0, len(z), config.batch):
            idx = order[i : i + config.batch]
            wb = w[idx]
            loss = (bce(net(z[idx]), y[idx]) * wb).sum() / wb.sum().clamp_min(1e-9)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        if epoch == 0 or (epoch + 1) % 10 == 0:
            logger.info("MLP head: epoch %d/%d, loss %.4f", epoch + 1, config.epochs, total / len(z))
    net.eval()
    w1 = net[0].weight.detach().double().numpy().T  # (1434, H) on standardised inputs
    b1 = net[0].bias.detach().double().numpy()
    return MLPGeometryHead(
        hidden_weights=(w1 / std[:, None]).astype(np.float32),
        hidden_bias=(b1 - (mean / std) @ w1).astype(np.float32),
        weights=net[3].weight.detach().numpy().T.astype(np.float32),
        bias=net[3].bias.detach().numpy().astype(np.float32),
        mirror=None if mirror is None else np.asarray(mirror, np.int64),
    )
