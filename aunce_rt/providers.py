"""ONNX Runtime execution-provider selection, in one function.

``select_providers`` turns a user's wish ("auto", "cpu", "cuda", "tensorrt", or an
explicit list) into the ``providers`` argument of ``onnxruntime.InferenceSession``.
A provider that this onnxruntime build lacks is dropped with a logged warning
naming what is missing; the CPU provider always closes the list, so a session
can always be made.

Example:
    >>> select_providers("cpu")
    ['CPUExecutionProvider']
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aunce_rt.errors import InputError

logger = logging.getLogger(__name__)

TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"

# Aliases a user may type, and the order "auto" prefers.
ALIASES: dict[str, str] = {"tensorrt": TENSORRT, "trt": TENSORRT, "cuda": CUDA, "gpu": CUDA, "cpu": CPU}
AUTO_ORDER = (TENSORRT, CUDA, CPU)
_MISSING_HINT = {
    TENSORRT: "install aunce-rt[gpu] and TensorRT on a machine with an NVIDIA GPU",
    CUDA: "install aunce-rt[gpu] on a machine with an NVIDIA GPU",
}

ProviderSpec = str | Sequence[str]
Provider = str | tuple[str, dict[str, Any]]


def default_trt_cache() -> Path:
    """Folder of cached TensorRT engines: ``$AUNCE_RT_CACHE/trt`` or ``~/.cache/aunce-rt/trt``."""
    root = os.environ.get("AUNCE_RT_CACHE")
    return Path(root) / "trt" if root else Path.home() / ".cache" / "aunce-rt" / "trt"


def available_providers() -> list[str]:
    """The providers this onnxruntime build offers (e.g. ``['CPUExecutionProvider']``)."""
    import onnxruntime as ort

    return list(ort.get_available_providers())


def tensorrt_options(*, fp16: bool = False, cache_dir: str | Path | None = None) -> dict[str, Any]:
    """Provider options for TensorRT: engine cache on, FP16 when asked.

    Args:
        fp16: build FP16 engines (only meaningful for an fp32 model).
        cache_dir: where engines are cached; ``default_trt_cache()`` when None.
    """
    path = Path(cache_dir) if cache_dir is not None else default_trt_cache()
    return {
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": str(path),
        "trt_fp16_enable": bool(fp16),
    }


def _wanted(spec: ProviderSpec) -> list[str]:
    """Full provider names the user asked for, in order (no availability check)."""
    if isinstance(spec, str):
        items = [s.strip() for s in spec.split(",") if s.strip()]
        if items == ["auto"]:
            return list(AUTO_ORDER)
    else:
        items = [str(s) for s in spec]
    if not items:
        raise InputError("no execution provider given; use 'auto', 'cpu', 'cuda', 'tensorrt' or a list")
    names: list[str] = []
    for item in items:
        name = ALIASES.get(item.lower(), item)
        if not name.endswith("ExecutionProvider"):
            raise InputError(
                f"unknown execution provider {item!r}; expected 'auto', 'cpu', 'cuda', 'tensorrt' "
                "or an onnxruntime provider name such as 'CUDAExecutionProvider'"
            )
        if name not in names:
            names.append(name)
    return names


def select_providers(
    spec: ProviderSpec = "auto",
    *,
    fp16: bool = False,
    cache_dir: str | Path | None = None,
    available: Sequence[str] | None = None,
) -> list[Provider]:
    """Choose the execution providers for a session.

    Args:
        spec: "auto" (TensorRT > CUDA > CPU among those available), "cpu", "cuda",
            "tensorrt", a comma-separated string of these, or an explicit list of
            aliases / onnxruntime provider names.
        fp16: ask TensorRT for FP16 engines (pass True only for an fp32 model).
        cache_dir: TensorRT engine cache folder (default ``default_trt_cache()``).
        available: the providers to choose among; ``available_providers()`` when None.

    Returns:
        The ``providers`` list for ``onnxruntime.InferenceSession``: names, with
        TensorRT given as ``(name, options)``; it always ends with the CPU provider.
    """
    auto = isinstance(spec, str) and spec.strip().lower() == "auto"
    wanted = _wanted("auto" if auto else spec)
    have = list(available) if available is not None else available_providers()
    chosen: list[Provider] = []
    for name in wanted:
        if name not in have:
            if not auto and name != CPU:
                hint = _MISSING_HINT.get(name, "this onnxruntime build does not include it")
                logger.warning("%s not available: %s; falling back to CPU", name, hint)
            continue
        if name == TENSORRT:
            chosen.append((name, tensorrt_options(fp16=fp16, cache_dir=cache_dir)))
        elif name != CPU:
            chosen.append(name)
    names = provider_names(chosen)
    if TENSORRT in names and CUDA not in names and CUDA in have:
        chosen.insert(names.index(TENSORRT) + 1, CUDA)  # nodes TensorRT cannot take run on CUDA
    chosen.append(CPU)
    return chosen


def provider_names(providers: Sequence[Provider]) -> list[str]:
    """Names only, from a list that may hold ``(name, options)`` pairs."""
    return [p[0] if isinstance(p, tuple) else p for p in providers]
