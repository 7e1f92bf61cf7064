"""Torch AU models: the ME-GraphAU stage-1 encoder family, the per-AU probe, checkpoints.

Example:
    >>> from models import AUModel, AUProbe, create_encoder
    >>> enc = create_encoder("mobilenetv3_large_100", 12)
    >>> model = AUModel(enc, AUProbe(enc.num_aus, enc.node_dim))
"""

from __future__ import annotations

from aunce_rt.models._backbones import list_backbones
from aunce_rt.models._tflite import convert_tflite_mobilenetv2, read_tflite_mobilenetv2
from aunce_rt.models.checkpoint import LoadedModel, load_model, save_model
from aunce_rt.models.convert import from_megraph_state_dict
from aunce_rt.models.encoder import AUEncoder, create_encoder
from aunce_rt.models.probe import AUModel, AUProbe, PooledClassifier

__all__ = [
    "AUEncoder",
    "AUModel",
    "AUProbe",
    "LoadedModel",
    "PooledClassifier",
    "convert_tflite_mobilenetv2",
    "create_encoder",
    "from_megraph_state_dict",
    "list_backbones",
    "load_model",
    "read_tflite_mobilenetv2",
    "save_model",
]
