"""Read a ME-GraphAU stage-1 ("MEFARG") checkpoint as a :class:`~models.checkpoint.LoadedModel`.

The key mapping itself is ``aunce_rt.models.convert.from_megraph_state_dict``; this module
reads the file safely (``torch.load(weights_only=True)``), counts the AUs, picks the
benchmark's AU codes and graph K, and sets the thresholds to the probability that
reproduces ME-GraphAU's own decision (cosine >= 0.5).

Example:
    >>> # loaded = load_megraph_checkpoint("MEFARG_resnet50_BP4D_fold1.pth", "resnet50")
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from aunce_rt.aus import BENCHMARK_AUS
from aunce_rt.errors import ModelError
from aunce_rt.models.checkpoint import LoadedModel
from aunce_rt.models.convert import MEGRAPH_PROBABILITY_THRESHOLD, from_megraph_state_dict

logger = logging.getLogger(__name__)

# AU count -> (benchmark, graph K) as ME-GraphAU trains them.
_BY_COUNT = {12: ("bp4d", 4), 8: ("disfa", 3)}
_TOP_K = {"bp4d": 4, "bp4d_plus": 4, "disfa": 3}


def read_megraph_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a ME-GraphAU checkpoint file (a bare state dict or {"state_dict": ...})."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"ME-GraphAU checkpoint not found: {path}; pass the .pth file of a stage-1 model")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle/zip errors of every kind
        raise ModelError(
            f"cannot read ME-GraphAU checkpoint {path} ({str(exc)[:200]}); is it a torch .pth file?"
        ) from None
    state = raw.get("state_dict", raw) if isinstance(raw, Mapping) else None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{path} holds no state dict of tensors; expected a ME-GraphAU MEFARG checkpoint")
    return dict(state)


def count_aus(state: Mapping[str, torch.Tensor]) -> int:
    """Number of per-AU blocks (``head.class_linears.<i>``) in a MEFARG state dict."""
    found = {
        int(m.group(1)) for k in state if (m := re.match(r"^(?:module\.)?head\.class_linears\.(\d+)\.", k))
    }
    if not found:
        raise ModelError(
            "the state dict has no head.class_linears.* keys; it is not a ME-GraphAU stage-1 checkpoint"
        )
    return max(found) + 1


def load_megraph_checkpoint(path: str | Path, backbone: str, *, benchmark: str | None = None) -> LoadedModel:
    """Build a LoadedModel from a ME-GraphAU stage-1 checkpoint.

    Args:
        path: the .pth file.
        backbone: ME-GraphAU's backbone argument ("resnet50", "swin_transformer_base") or ours.
        benchmark: whose AU list the outputs follow ("bp4d", "disfa"); None infers it
            from the AU count (12 -> BP4D, 8 -> DISFA).
    """
    state = read_megraph_state_dict(path)
    n = count_aus(state)
    if benchmark is None:
        if n not in _BY_COUNT:
            raise ModelError(f"the checkpoint has {n} AUs; pass --benchmark to say whose AU list it follows")
        benchmark = _BY_COUNT[n][0]
    key = benchmark.lower().replace("+", "_plus")
    if key not in BENCHMARK_AUS:
        raise ModelError(f"unknown benchmark {benchmark!r}; expected one of {', '.join(BENCHMARK_AUS)}")
    codes = BENCHMARK_AUS[key]
    if len(codes) != n:
        raise ModelError(
            f"the checkpoint has {n} AUs but {benchmark} has {len(codes)}; pass the matching --benchmark"
        )
    model = from_megraph_state_dict(state, backbone, n, top_k=_TOP_K.get(key, 4))
    logger.info("ME-GraphAU checkpoint %s: %s, %d AUs (%s)", path, backbone, n, key)
    return LoadedModel(
        model=model.eval(),
        au_codes=tuple(codes),
        thresholds=(MEGRAPH_PROBABILITY_THRESHOLD,) * n,
        encoder_config=dict(model.encoder.config),
        extra={"dataset": key, "source": f"ME-GraphAU stage-1 checkpoint {Path(path).name}"},
    )
