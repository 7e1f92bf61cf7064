"""Variant evaluation and choice (the pipeline's one place for both): F1, distance to fp32, the rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aunce_rt.errors import InputError
from aunce_rt.pipelines import Variant, choose_variant, measure_variants
from aunce_rt.session import AUModelSession


def test_measure_variants_f1_and_distance(tiny_model: Path) -> None:
    crops = np.random.default_rng(0).integers(0, 256, (16, 224, 224, 3), dtype=np.uint8)
    probs = AUModelSession(tiny_model, providers="cpu").run(crops)
    labels = (probs >= 0.5).astype(np.int8)  # the model's own decisions: F1 1 on AUs that occur
    fp32, again = measure_variants({"fp32": tiny_model, "int8": tiny_model}, crops, labels, timed=False)
    assert (fp32.precision, again.precision) == ("fp32", "int8") and fp32.path == tiny_model
    assert fp32.f1_macro == pytest.approx(labels.any(axis=0).mean(), abs=1e-6) == again.f1_macro
    assert len(fp32.f1) == 12 and again.max_abs_diff_vs_fp32 == 0.0 and np.isnan(fp32.ms_per_face)
    with pytest.raises(InputError, match="fp32"):
        measure_variants({"int8": tiny_model}, crops, labels, timed=False)


def test_choose_variant_needs_fp32() -> None:
    with pytest.raises(InputError, match="fp32"):
        choose_variant([Variant("int8", None, 1.0, 0.9, ())])
