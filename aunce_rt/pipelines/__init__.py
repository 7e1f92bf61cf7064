"""Pipelines above training and export: train -> export -> evaluate -> choose, model cards.

Evaluating an exported variant on labelled crops and choosing between variants
happen here, once, for the recipe (``aunce-rt train recipe``) and for
``aunce-rt export --labelled``.

Example:
    >>> from aunce_rt.pipelines import choose_variant, Variant
    >>> choose_variant([Variant("fp32", None, 5.0, 0.8, ()), Variant("int8", None, 3.0, 0.8, ())]).precision
    'int8'
"""

from __future__ import annotations

from aunce_rt.pipelines._labelled import EvaluatedExport, export_and_evaluate
from aunce_rt.pipelines._model_card import model_card
from aunce_rt.pipelines._variants import F1_TOLERANCE, Variant, choose_variant, measure_variants

__all__ = [
    "F1_TOLERANCE",
    "EvaluatedExport",
    "Variant",
    "choose_variant",
    "export_and_evaluate",
    "measure_variants",
    "model_card",
]
