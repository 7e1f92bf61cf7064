"""Assemble the :class:`~aunce_rt.metadata.ModelMetadata` an export writes into its graph.

The metadata comes from the checkpoint (AU codes, thresholds, encoder config and
its ``extra``: training dataset, protocol, metrics, git revision of the training
run) and from the export itself (precision, features output, this repository's
git revision, the UTC export date).

Example:
    >>> licence_note({"dataset": "synthau"}).startswith("trained on SynthAU")
    True
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from aunce_rt.align import CROP_SIZE, INPUT_SIZE
from aunce_rt.aus import au_name
from aunce_rt.metadata import ModelMetadata
from aunce_rt.provenance import git_revision

logger = logging.getLogger(__name__)

SYNTHETIC_DATASETS = ("synthau",)
_TRAINING_KEYS = (
    "dataset", "protocol", "fold", "split", "seed", "epochs", "git_revision", "config", "adapted_from", "adapt",
)  # fmt: skip


def licence_note(extra: Mapping[str, Any]) -> str:
    """What the weights were trained on, and what that means for their use.

    An explicit ``extra["licence_note"]`` wins; SynthAU (or ``extra["synthetic"]``)
    gets the note that this is not a model of real faces trained on FACS-coded data.
    """
    if extra.get("licence_note"):
        return str(extra["licence_note"])
    dataset = str(extra.get("dataset", "") or "")
    if extra.get("synthetic") or dataset.lower() in SYNTHETIC_DATASETS:
        data = "SynthAU (synthetic rendered faces)" if dataset.lower() in SYNTHETIC_DATASETS else dataset
        return f"trained on {data or 'synthetic data'}; not a model of real faces trained on FACS-coded data"
    if dataset:
        return f"trained on {dataset}; the weights carry that dataset's licence terms (often research-only)"
    return "training data not recorded in the checkpoint; check the weights' origin before redistributing"


def training_info(extra: Mapping[str, Any]) -> dict[str, Any]:
    """The training provenance kept in the metadata (dataset, protocol, fold, seed, git revision, ...)."""
    info = {k: extra[k] for k in _TRAINING_KEYS if k in extra}
    if isinstance(extra.get("training"), Mapping):
        info.update(extra["training"])
    return info


def build_metadata(
    *,
    au_codes: Sequence[int],
    thresholds: Sequence[float],
    encoder_config: Mapping[str, Any],
    node_dim: int,
    extra: Mapping[str, Any],
    precision: str,
    has_features: bool,
    encoder: str = "megraph_stage1",
    input_size: int = INPUT_SIZE,
) -> ModelMetadata:
    """The metadata of one export.

    Args:
        au_codes: K FACS codes, in output column order.
        thresholds: K decision thresholds.
        encoder_config: the kwargs that rebuild the encoder (``backbone`` read from it).
        node_dim: C, the per-AU feature width.
        extra: the checkpoint's json-able extra dict (dataset, protocol, metrics, ...).
        precision: "fp32", "fp16" or "int8".
        has_features: whether the graph has the "features" (N, K, C) output.
        encoder: the encoder family name.
        input_size: side of the network input; the crop it is taken from scales with it
            (224 of 256 at the template's native scale).
    """
    metrics = extra.get("metrics", {})
    return ModelMetadata(
        au_codes=tuple(int(c) for c in au_codes),
        thresholds=tuple(float(t) for t in thresholds),
        au_names=tuple(_name(c) for c in au_codes),
        encoder=encoder,
        backbone=str(encoder_config.get("backbone", "")),
        node_dim=int(node_dim),
        has_features=bool(has_features),
        precision=precision,
        input_size=int(input_size),
        crop_size=int(round(input_size * CROP_SIZE / INPUT_SIZE)),
        training=training_info(extra),
        metrics=dict(metrics) if isinstance(metrics, Mapping) else {},
        git_revision=git_revision(),
        export_date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        licence_note=licence_note(extra),
    )


def _name(code: int) -> str:
    try:
        return au_name(int(code))
    except Exception:  # codes outside the catalogue keep ModelMetadata's default label
        return f"AU{int(code):02d}"
