"""``export_onnx``: a checkpoint -> one self-describing ONNX graph (fp32, fp16 or int8), verified.

A thin composition of the export steps, for ``aunce-rt export``:
:func:`~aunce_rt.export.trace_onnx` -> :func:`~aunce_rt.export.check_parity` (ONNX
Runtime vs PyTorch) -> :func:`~aunce_rt.export.to_fp16` or
:func:`~aunce_rt.export.quantize_int8` / :func:`~aunce_rt.export.choose_int8_scheme`
-> the variant vs fp32 -> :func:`~aunce_rt.export.build_engine`. Evaluating a
variant on labelled data and choosing between variants are not export's jobs:
they live in ``aunce_rt.pipelines``.

Example:
    >>> # result = export_onnx("run/best.pt", "model.onnx", precision="int8", calib_dir="crops/")
    >>> # print(result.parity[0])
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aunce_rt.errors import InputError, OutputError
from aunce_rt.export._crops import as_crops, folder_crops, random_crops, synthau_crops
from aunce_rt.export._fp16 import to_fp16
from aunce_rt.export._graph import read_metadata
from aunce_rt.export._int8 import SCHEMES
from aunce_rt.export._parity import check_parity
from aunce_rt.export._scheme import choose_int8_scheme
from aunce_rt.export._tensorrt import build_engine, require_tensorrt
from aunce_rt.export._trace import DEFAULT_OPSET, load_source, trace_onnx, trained_input_size
from aunce_rt.export._verify import FP32_TOLERANCE, Agreement
from aunce_rt.metadata import ModelMetadata

if TYPE_CHECKING:
    from aunce_rt.models.checkpoint import LoadedModel

logger = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "int8")
N_RANDOM = 8
MAX_REAL = 64
CALIB_SIZE = 256
# A variant that disagrees more than this with fp32 gets a warning (not an error:
# int8 on noise crops legitimately moves probabilities).
VARIANT_WARN = 0.1


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote and how well it was verified.

    Attributes:
        path: the written .onnx file.
        precision: "fp32", "fp16" or "int8".
        metadata: the metadata stored in the graph.
        parity: ONNX Runtime fp32 vs PyTorch, per crop set (empty when verify=False).
        variant_agreement: the fp16/int8 graph vs the fp32 graph, per crop set.
        engine_path: the TensorRT engine, when one was built.
        int8_scheme: "static" or "dynamic" for int8 exports ("" otherwise).
        fp32_path: the verified float32 graph, when ``fp32_out`` asked to keep it.
    """

    path: Path
    precision: str
    metadata: ModelMetadata
    parity: tuple[Agreement, ...] = ()
    variant_agreement: tuple[Agreement, ...] = ()
    engine_path: Path | None = None
    int8_scheme: str = ""
    fp32_path: Path | None = None


def export_onnx(
    source: str | Path | LoadedModel,
    out: str | Path,
    *,
    precision: str = "fp32",
    calib_dir: str | Path | None = None,
    with_features: bool = False,
    opset: int = DEFAULT_OPSET,
    verify: bool = True,
    real_crops: np.ndarray | str | Path | None = None,
    metadata_extra: Mapping[str, Any] | None = None,
    tensorrt: bool = False,
    calib_size: int = CALIB_SIZE,
    int8_scheme: str = "auto",
    fp32_out: str | Path | None = None,
    input_size: int | None = None,
) -> ExportResult:
    """Export a trained model to one ONNX graph from aligned uint8 crops to AU probabilities.

    Args:
        source: a checkpoint path (``aunce_rt.models.checkpoint.save_model`` or a training-run
            checkpoint) or a ``LoadedModel``.
        out: the .onnx file to write (its folder must exist).
        precision: "fp32", "fp16" (float16 inside, uint8 in / float32 out) or "int8"
            (calibrated on ``calib_dir`` or SynthAU, see ``int8_scheme``).
        calib_dir: folder of aligned crops for int8 calibration.
        with_features: add the "features" (N, K, C) output.
        opset: ONNX opset (17 suits ONNX Runtime and TensorRT 8.6+/10).
        verify: compare ONNX Runtime with PyTorch (fp32, max |dp| <= 1e-4, else
            ModelError) and the variant with fp32 (reported).
        real_crops: aligned crops (N, 224, 224, 3) uint8 RGB, or a folder of them,
            verified on besides random crops.
        metadata_extra: keys overriding the checkpoint's ``extra`` (dataset, metrics, ...).
        tensorrt: also build a TensorRT engine next to ``out`` (needs tensorrt and a GPU).
        calib_size: how many calibration crops to use.
        int8_scheme: "static" (calibrated QDQ), "dynamic" (int8 MatMul/Gemm weights,
            no calibration) or "auto": both, timed on this machine, the faster kept
            (:func:`~aunce_rt.export.choose_int8_scheme`); TensorRT engines always use static QDQ.
        fp32_out: also keep the verified float32 graph there (for a variant export).
        input_size: side of the input crops; None exports at the side the checkpoint
            was trained at (``extra["input_size"]`` or its training config's
            ``data.image_size``; 224 when it records neither).

    Returns:
        ExportResult with the path, metadata and verification figures.

    Raises:
        ModelError: unreadable checkpoint, failed verification, TensorRT missing.
        OutputError: the output folder is missing.
        InputError: unreadable crops, unknown precision or scheme.
    """
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if int8_scheme not in SCHEMES:
        raise InputError(f"int8_scheme must be one of {', '.join(SCHEMES)}; got {int8_scheme!r}")
    if tensorrt and precision == "int8" and int8_scheme == "dynamic":
        raise InputError(
            "TensorRT builds int8 engines from static Q/DQ graphs only; "
            "use int8_scheme='static' (--int8-scheme static) with --tensorrt"
        )
    out = _check_out(out)
    keep_fp32 = _check_out(fp32_out) if fp32_out is not None else None
    if tensorrt:
        require_tensorrt()  # fail before spending minutes on export and calibration
    loaded = load_source(source)
    # A model trained on smaller inputs (e.g. 56 or 112 px for CPU speed) is exported at that side.
    size = trained_input_size({**dict(loaded.extra), **dict(metadata_extra or {})}, input_size)
    real = as_crops(real_crops, MAX_REAL, size) if real_crops is not None else None
    crop_sets = [("random", random_crops(N_RANDOM, seed=0, size=size))] + (
        [("real", real)] if real is not None else []
    )

    with tempfile.TemporaryDirectory(prefix="aunce-export-") as tmp:
        fp32_path = trace_onnx(
            loaded,
            Path(tmp) / "fp32.onnx",
            input_size=size,
            opset=opset,
            with_features=with_features,
            metadata_extra=metadata_extra,
        )
        parity: tuple[Agreement, ...] = ()
        if verify:
            parity = check_parity(
                fp32_path, loaded, crop_sets, tolerance=FP32_TOLERANCE, what="ONNX Runtime fp32 vs PyTorch"
            )
        scheme = ""
        if precision == "fp32":
            shutil.copyfile(fp32_path, out)
        elif precision == "fp16":
            to_fp16(fp32_path, out)
        else:
            scheme, calib = _int8(fp32_path, out, int8_scheme, tensorrt, calib_dir, calib_size, size)
            if calib is not None:
                crop_sets.append(("calibration", calib[:MAX_REAL]))

        variant: tuple[Agreement, ...] = ()
        if verify and precision != "fp32":
            variant = check_parity(out, fp32_path, crop_sets, tolerance=None, what=f"{precision} vs fp32")
            for agreement in variant:
                # int8 is calibrated on faces: noise crops are out of its range, so only faces count.
                if agreement.max_abs_diff > VARIANT_WARN and not (
                    precision == "int8" and agreement.name == "random"
                ):
                    logger.warning("%s graph differs from fp32 on %s", precision, agreement)

        engine = None
        if tensorrt:
            engine = build_engine(
                out if precision == "int8" else fp32_path, out.with_suffix(".engine"), precision=precision
            )
        if keep_fp32 is not None:
            shutil.copyfile(fp32_path, keep_fp32)

    meta = read_metadata(out)
    logger.info(
        "wrote %s (%s, %d AUs%s)", out, precision, meta.num_aus, ", with features" if with_features else ""
    )
    return ExportResult(out, precision, meta, parity, variant, engine, scheme, keep_fp32)


def _int8(
    fp32_path: Path,
    out: Path,
    requested: str,
    tensorrt: bool,
    calib_dir: str | Path | None,
    calib_size: int,
    size: int,
) -> tuple[str, np.ndarray | None]:
    """Write the int8 graph to ``out``; return its scheme and the calibration crops (static only).

    TensorRT builds int8 engines from static Q/DQ graphs only; "auto" lets
    :func:`choose_int8_scheme` time both schemes here.
    """
    schemes = ("static",) if tensorrt else ("static", "dynamic") if requested == "auto" else (requested,)
    calib = None
    if "static" in schemes:
        calib = (
            folder_crops(calib_dir, calib_size, size)
            if calib_dir is not None
            else synthau_crops(calib_size, size=size)
        )
    elif calib_dir is not None:
        logger.warning("dynamic int8 needs no calibration: %s is not used", calib_dir)
    # TensorRT reads only symmetric int8 Q/DQ; ONNX Runtime on a CPU is fastest with uint8.
    choice = choose_int8_scheme(
        fp32_path, out, calib, schemes=schemes, activations="s8" if tensorrt else "u8"
    )
    return choice.scheme, calib


def _check_out(out: str | Path) -> Path:
    out = Path(out)
    if out.is_dir():
        raise OutputError(f"output {out} is a folder; pass a file name such as {out / 'model.onnx'}")
    if not out.parent.is_dir():
        raise OutputError(
            f"output folder {out.parent} does not exist; create it (mkdir -p {out.parent}) or pick another --out"
        )
    return out
