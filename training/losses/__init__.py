"""Training losses: AUNCE (the paper's contrastive loss), the WCE / WFL baselines, and CLP's TCL / CIR.

One loss per module; this package re-exports the public names.

Example:
    >>> from training.losses import AUNCELoss, WCELoss, au_class_weights
"""

from __future__ import annotations

from aunce_rt.training.losses.aunce import AUNCELoss
from aunce_rt.training.losses.cir import CrossIdentityLoss, pair_other_identity
from aunce_rt.training.losses.tcl import KeyQueue, TemporalContrastiveLoss
from aunce_rt.training.losses.wce import WCELoss
from aunce_rt.training.losses.weights import au_class_weights, occurrence_rates, weights_from_rates
from aunce_rt.training.losses.wfl import WFLoss

__all__ = [
    "AUNCELoss",
    "CrossIdentityLoss",
    "KeyQueue",
    "TemporalContrastiveLoss",
    "WCELoss",
    "WFLoss",
    "au_class_weights",
    "occurrence_rates",
    "pair_other_identity",
    "weights_from_rates",
]
