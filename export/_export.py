"""``export_onnx``: a checkpoint -> one self-describing ONNX graph (fp32, fp16 or int8).

Exporter choice: torch 2.14's default ``torch.onnx.export(dynamo=True)`` traces
with ``torch.export`` and converts via onnxscript. On our encoder it takes ~20x
longer, emits opset 18 (its down-conversion to 17 fails on the Reduce ops'
``axes`` inputs) and writes the weights as external data by default. The
TorchScript exporter (``dynamo=False``, still shipped, deprecated) produces a
single-file opset-17 graph with a symbolic batch axis and static everything else
(the graph layer's ``topk`` K is a Python int, so it is a constant), which is what
ONNX Runtime and TensorRT want; we use it and silence its deprecation warning.

Example:
    >>> # result = export_onnx("run/best.pt", "model.onnx", precision="int8", calib_dir="crops/")
    >>> # print(result.parity[0])
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from aunce_rt.align import INPUT_SIZE
from aunce_rt.errors import InputError, ModelError, OutputError
from aunce_rt.export._crops import as_crops, folder_crops, labelled_crops, random_crops, synthau_crops
from aunce_rt.export._fp16 import convert_to_fp16
from aunce_rt.export._graph import (
    FEATURES_NAME,
    INPUT_NAME,
    PROBS_NAME,
    check_model,
    load_model_proto,
    save_model_proto,
    set_metadata,
    set_static_output_shapes,
)
from aunce_rt.export._int8 import SCHEMES, quantize_int8, quantize_int8_dynamic
from aunce_rt.export._metadata import build_metadata
from aunce_rt.export._tensorrt import build_engine, require_tensorrt
from aunce_rt.export._verify import FP32_TOLERANCE, Agreement, check_parity, ms_per_face, run_probs, session
from aunce_rt.export._wrapper import ExportWrapper
from aunce_rt.metadata import ModelMetadata

if TYPE_CHECKING:
    from aunce_rt.models.checkpoint import LoadedModel

logger = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "int8")
DEFAULT_OPSET = 17
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
        f1_macro: F1-macro at the model's thresholds on the labelled folder, by precision.
        engine_path: the TensorRT engine, when one was built.
        int8_scheme: "static" or "dynamic" for int8 exports ("" otherwise).
    """

    path: Path
    precision: str
    metadata: ModelMetadata
    parity: tuple[Agreement, ...] = ()
    variant_agreement: tuple[Agreement, ...] = ()
    f1_macro: Mapping[str, float] = field(default_factory=dict)
    engine_path: Path | None = None
    int8_scheme: str = ""


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
    labelled: str | Path | None = None,
    tensorrt: bool = False,
    calib_size: int = CALIB_SIZE,
    int8_scheme: str = "auto",
) -> ExportResult:
    """Export a trained model to one ONNX graph from aligned uint8 crops to AU probabilities.

    Args:
        source: a checkpoint path (``aunce_rt.models.checkpoint.save_model`` or a training-run
            checkpoint) or a ``LoadedModel``.
        out: the .onnx file to write (its folder must exist).
        precision: "fp32", "fp16" (float16 inside, uint8 in / float32 out) or "int8"
            (QDQ static quantisation calibrated on ``calib_dir`` or SynthAU).
        calib_dir: folder of aligned crops for int8 calibration.
        with_features: add the "features" (N, K, C) output.
        opset: ONNX opset (17 suits ONNX Runtime and TensorRT 8.6+/10).
        verify: compare ONNX Runtime with PyTorch (fp32, max |dp| <= 1e-4, else
            ModelError) and the variant with fp32 (reported).
        real_crops: aligned crops (N, 224, 224, 3) uint8 RGB, or a folder of them,
            verified on besides random crops.
        metadata_extra: keys overriding the checkpoint's ``extra`` (dataset, metrics, ...).
        labelled: folder with images.txt + labels.txt: F1-macro of fp32 and the variant.
        tensorrt: also build a TensorRT engine next to ``out`` (needs tensorrt and a GPU).
        calib_size: how many calibration crops to use.
        int8_scheme: "static" (calibrated QDQ), "dynamic" (int8 MatMul/Gemm weights,
            no calibration) or "auto": both, timed on this machine, the faster kept
            (``aunce_rt.export._int8``); TensorRT engines always use static QDQ.

    Returns:
        ExportResult with the path, metadata and verification figures.

    Raises:
        ModelError: unreadable checkpoint, failed verification, TensorRT missing.
        OutputError: the output folder is missing.
        InputError: unreadable crops or labelled folder.
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
    if tensorrt:
        require_tensorrt()  # fail before spending minutes on export and calibration
    loaded = _load(source)
    wrapper = ExportWrapper(loaded.model.eval(), with_features).eval()
    extra = {**dict(loaded.extra), **dict(metadata_extra or {})}
    # A model trained on smaller inputs (e.g. 112 px for CPU speed) records its side.
    size = int(extra.get("input_size", INPUT_SIZE))
    real = as_crops(real_crops, MAX_REAL, size) if real_crops is not None else None

    with tempfile.TemporaryDirectory(prefix="aunce-export-") as tmp:
        fp32_path = Path(tmp) / "fp32.onnx"
        k, c = _torch_export(wrapper, fp32_path, opset, size)
        if k != len(loaded.au_codes):
            raise ModelError(
                f"the model outputs {k} AUs but its checkpoint lists {len(loaded.au_codes)} AU codes; "
                "the checkpoint is inconsistent, re-save it with models.checkpoint.save_model"
            )
        node_dim = int(getattr(getattr(loaded.model, "encoder", None), "node_dim", c))

        meta32 = build_metadata(
            au_codes=loaded.au_codes,
            thresholds=loaded.thresholds,
            encoder_config=loaded.encoder_config,
            node_dim=node_dim,
            extra=extra,
            precision="fp32",
            has_features=with_features,
            input_size=size,
        )

        proto = load_model_proto(fp32_path)
        shapes = {PROBS_NAME: (k,), FEATURES_NAME: (k, c)}
        set_static_output_shapes(proto, shapes)
        set_metadata(proto, meta32)
        check_model(proto)
        save_model_proto(proto, fp32_path)

        crop_sets = [("random", random_crops(N_RANDOM, seed=0, size=size))] + (
            [("real", real)] if real is not None else []
        )
        sess32 = session(fp32_path)
        parity: list[Agreement] = []
        if verify:
            parity = check_parity(
                _torch_probs(wrapper), sess32, crop_sets, FP32_TOLERANCE, "ONNX Runtime fp32 vs PyTorch"
            )

        meta = dataclasses.replace(meta32, precision=precision)
        scheme = ""
        if precision == "fp32":
            save_model_proto(proto, out)
        elif precision == "fp16":
            half = convert_to_fp16(proto)
            set_static_output_shapes(half, shapes)
            set_metadata(half, meta)
            check_model(half)
            save_model_proto(half, out)
        else:
            scheme, calib = _quantise(
                fp32_path, out, Path(tmp), int8_scheme, tensorrt, calib_dir, calib_size, size
            )
            if calib is not None:
                crop_sets.append(("calibration", calib[:MAX_REAL]))
            quant = load_model_proto(out)
            set_static_output_shapes(quant, shapes)
            set_metadata(quant, meta)
            check_model(quant)
            save_model_proto(quant, out)

        variant: list[Agreement] = []
        sess_out = session(out) if precision != "fp32" else sess32
        if verify and precision != "fp32":
            variant = check_parity(
                lambda x: run_probs(sess32, x), sess_out, crop_sets, None, f"{precision} vs fp32"
            )
            for agreement in variant:
                # int8 is calibrated on faces: noise crops are out of its range, so only faces count.
                if agreement.max_abs_diff > VARIANT_WARN and not (
                    precision == "int8" and agreement.name == "random"
                ):
                    logger.warning("%s graph differs from fp32 on %s", precision, agreement)

        f1: dict[str, float] = {}
        if labelled is not None:
            crops, labels = labelled_crops(labelled, loaded.au_codes, size)
            f1["fp32"] = _f1_macro(run_probs(sess32, crops), labels, loaded.thresholds)
            if precision != "fp32":
                f1[precision] = _f1_macro(run_probs(sess_out, crops), labels, loaded.thresholds)
            logger.info("F1-macro on %s (%d crops): %s", labelled, len(crops), f1)

        engine = None
        if tensorrt:
            engine = build_engine(
                out if precision == "int8" else fp32_path, out.with_suffix(".engine"), precision=precision
            )

    logger.info("wrote %s (%s, %d AUs%s)", out, precision, k, ", with features" if with_features else "")
    return ExportResult(out, precision, meta, tuple(parity), tuple(variant), f1, engine, scheme)


def _quantise(
    fp32_path: Path,
    out: Path,
    tmp: Path,
    requested: str,
    tensorrt: bool,
    calib_dir: str | Path | None,
    calib_size: int,
    size: int,
) -> tuple[str, np.ndarray | None]:
    """Write the int8 graph to ``out``; return its scheme and the calibration crops (static only).

    TensorRT builds int8 engines from static Q/DQ graphs only. "auto" builds both schemes
    and keeps the one that runs faster here (bench/bench_export.py: static wins on
    ResNet-50, dynamic on Swin-B and, in our runs, on the light encoders).
    """
    schemes = ("static",) if tensorrt else ("static", "dynamic") if requested == "auto" else (requested,)
    built: dict[str, Path] = {}
    calib = None
    for name in schemes:
        path = out if len(schemes) == 1 else tmp / f"int8_{name}.onnx"
        if name == "static":
            calib = (
                folder_crops(calib_dir, calib_size, size)
                if calib_dir is not None
                else synthau_crops(calib_size, size=size)
            )
            # TensorRT reads only symmetric int8 Q/DQ; ONNX Runtime on a CPU is fastest with uint8.
            quantize_int8(fp32_path, path, calib, activations="s8" if tensorrt else "u8")
        else:
            if calib_dir is not None and len(schemes) == 1:
                logger.warning("dynamic int8 needs no calibration: %s is not used", calib_dir)
            quantize_int8_dynamic(fp32_path, path)
        built[name] = path
    if len(built) == 1:
        return schemes[0], calib
    speeds = dict(zip(built, ms_per_face(list(built.values()), size), strict=True))
    scheme = min(speeds, key=speeds.__getitem__)
    logger.info(
        "int8 auto: %s on this CPU -> %s",
        ", ".join(f"{k} {v:.2f} ms/face" for k, v in speeds.items()),
        scheme,
    )
    shutil.copyfile(built[scheme], out)
    return scheme, calib


def _check_out(out: str | Path) -> Path:
    out = Path(out)
    if out.is_dir():
        raise OutputError(f"output {out} is a folder; pass a file name such as {out / 'model.onnx'}")
    if not out.parent.is_dir():
        raise OutputError(
            f"output folder {out.parent} does not exist; create it (mkdir -p {out.parent}) or pick another --out"
        )
    return out


def _load(source: str | Path | LoadedModel) -> LoadedModel:
    if not isinstance(source, (str, Path)):
        return source
    from aunce_rt.models.checkpoint import load_model

    return load_model(source, map_location="cpu")


def _torch_export(wrapper: ExportWrapper, path: Path, opset: int, size: int = INPUT_SIZE) -> tuple[int, int]:
    """TorchScript-export ``wrapper`` to ``path`` with a dynamic batch; returns (K, C)."""
    dummy = torch.from_numpy(random_crops(2, seed=1, size=size))
    with torch.no_grad():
        first = wrapper(dummy)
    probs, feats = first if isinstance(first, tuple) else (first, None)
    k = int(probs.shape[-1])
    c = (
        int(feats.shape[-1])
        if feats is not None
        else int(getattr(getattr(wrapper.model, "encoder", None), "node_dim", 0))
    )
    outputs = [PROBS_NAME, FEATURES_NAME] if wrapper.with_features else [PROBS_NAME]
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", DeprecationWarning
        )  # the TorchScript exporter is deprecated (see above)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        try:
            torch.onnx.export(
                wrapper,
                (dummy,),
                str(path),
                dynamo=False,
                opset_version=opset,
                input_names=[INPUT_NAME],
                output_names=outputs,
                dynamic_axes={name: {0: "batch"} for name in [INPUT_NAME, *outputs]},
                do_constant_folding=True,
            )
        except Exception as exc:  # torch raises many types for unexportable code
            raise ModelError(f"torch.onnx.export failed for this model at opset {opset}: {exc}") from exc
    return k, c


def _torch_probs(wrapper: ExportWrapper, batch_size: int = 8) -> Any:
    def run(crops: np.ndarray) -> np.ndarray:
        outs = []
        with torch.no_grad():
            for i in range(0, len(crops), batch_size):
                result = wrapper(torch.from_numpy(np.ascontiguousarray(crops[i : i + batch_size])))
                outs.append((result[0] if isinstance(result, tuple) else result).numpy())
        return np.concatenate(outs)

    return run


def _f1_macro(probs: np.ndarray, labels: np.ndarray, thresholds: tuple[float, ...]) -> float:
    try:
        from aunce_rt.evaluation.metrics import au_metrics
    except ImportError as exc:
        raise ModelError(f"F1 on a labelled folder needs aunce_rt.evaluation.metrics ({exc})") from None
    return float(au_metrics(probs, labels, thresholds=np.asarray(thresholds)).f1_macro)
