"""Evaluate a saved model on the test split(s) of a config, at the model's thresholds.

Example:
    >>> evaluate_model("runs/demo/checkpoints/fold1-seed3407/model.pt", load_config("synthau_test"))  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from aunce_rt.datasets.protocol import Split
from aunce_rt.errors import InputError
from aunce_rt.training.config import ExperimentConfig
from aunce_rt.training.data.dataset import AUDataset

__all__ = ["evaluate_model", "test_metrics_by_kind"]


def evaluate_model(model_path: str | Path, cfg: ExperimentConfig) -> dict[str, dict[str, Any]]:
    """Metrics of a saved model on the test split of each selected split of ``cfg``, at its thresholds.

    Returns:
        split name -> ``AUMetrics.to_dict`` of the model's AUs (those of the protocol, in model order).
    """
    from aunce_rt.evaluation.metrics import au_metrics
    from aunce_rt.models import load_model
    from aunce_rt.training.data.benchmarks import build_splits
    from aunce_rt.training.features import extract_features

    loaded = load_model(model_path)
    protocol, splits = build_splits(cfg.data, cache_dir=Path(model_path).parent / "cache", seed=cfg.seed)
    missing = [c for c in loaded.au_codes if c not in protocol.au_codes]
    if missing:
        raise InputError(
            f"model {model_path} predicts AUs {list(loaded.au_codes)}; protocol {protocol.name} lacks {missing}"
        )
    out = {}
    for split in splits:
        test = split.test.select_aus(loaded.au_codes)
        feats = extract_features(
            loaded.model.encoder,
            AUDataset(test, cfg.data.crop_size),
            image_size=cfg.data.image_size,
            resize=cfg.data.crop_size,
        )
        with torch.no_grad():
            probs = torch.sigmoid(loaded.model.probe(feats.features)).numpy()
        metrics = au_metrics(probs, test.labels, np.asarray(loaded.thresholds))
        out[split.name] = metrics.to_dict(loaded.au_codes)
    return out


def test_metrics_by_kind(
    split: Split, test_ds: AUDataset, probs: np.ndarray | None, au_codes: tuple[int, ...]
) -> dict[str, Any]:
    """Test metrics of static samples and of video frames apart, when the test split mixes them.

    SynthAU test folds hold frames of rendered clips (``data.synth_video_frames``)
    beside the static samples; ``test`` scores both together, these keys each.
    Empty for a split without video frames.
    """
    from aunce_rt.datasets.synth_source import is_video_crop
    from aunce_rt.evaluation.metrics import au_metrics

    video = np.array([is_video_crop(p) for p in split.test.paths], dtype=bool)
    if probs is None or not video.any() or video.all():
        return {}
    labels = np.asarray(test_ds.labels)
    return {
        "test_static": au_metrics(probs[~video], labels[~video]).to_dict(au_codes)
        | {"frames": int((~video).sum())},
        "test_video_frames": au_metrics(probs[video], labels[video]).to_dict(au_codes)
        | {"frames": int(video.sum())},
    }
