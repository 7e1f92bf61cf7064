"""``aunce-rt export --labelled``: export, then the F1 of fp32 and the variant on a labelled folder.

The export itself is ``aunce_rt.export.export_onnx``; the evaluation is
:func:`~aunce_rt.pipelines.measure_variants`, the one the recipe uses.

Example:
    >>> # done = export_and_evaluate("best.pt", "model.onnx", labelled="crops/", precision="int8")
    >>> # done.f1_macro  # {"fp32": 0.91, "int8": 0.90}
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aunce_rt.pipelines._variants import measure_variants

if TYPE_CHECKING:  # torch-free at import time
    from aunce_rt.export import ExportResult
    from aunce_rt.models.checkpoint import LoadedModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluatedExport:
    """An export and, when a labelled folder was given, its F1-macro by precision.

    Attributes:
        export: the ``aunce_rt.export.ExportResult``.
        f1_macro: precision ("fp32" and the exported one) -> F1-macro at the model's
            thresholds on the labelled folder; empty without one.
    """

    export: ExportResult
    f1_macro: Mapping[str, float] = field(default_factory=dict)


def export_and_evaluate(
    source: str | Path | LoadedModel, out: str | Path, *, labelled: str | Path | None = None, **options: Any
) -> EvaluatedExport:
    """``export_onnx(source, out, **options)``, then F1-macro of fp32 and the variant on ``labelled``.

    Args:
        source: a checkpoint path or a ``LoadedModel``.
        out: the .onnx file to write.
        labelled: folder with ``images.txt`` + ``labels.txt`` (the list format, labels in
            the model's AU order); None skips the evaluation.
        **options: keyword options of ``aunce_rt.export.export_onnx``.

    Raises:
        InputError: an unreadable labelled folder (before anything is exported).
    """
    from aunce_rt.export import export_onnx, labelled_crops, load_source, trained_input_size

    if labelled is None:
        return EvaluatedExport(export_onnx(source, out, **options))
    loaded = load_source(source)
    extra = {**dict(loaded.extra), **dict(options.get("metadata_extra") or {})}
    size = trained_input_size(extra, options.get("input_size"))
    crops, labels = labelled_crops(labelled, loaded.au_codes, size)
    with tempfile.TemporaryDirectory(prefix="aunce-eval-") as tmp:
        precision = options.get("precision", "fp32")
        fp32_out = Path(tmp) / "fp32.onnx" if precision != "fp32" else None
        result = export_onnx(loaded, out, fp32_out=fp32_out, **options)
        paths = {"fp32": result.fp32_path or result.path}
        if precision != "fp32":
            paths[precision] = result.path
        variants = measure_variants(paths, crops, labels, timed=False)
    f1 = {v.precision: v.f1_macro for v in variants}
    log.info("F1-macro on %s (%d crops): %s", labelled, len(crops), f1)
    return EvaluatedExport(result, f1)
