"""Load a ME-GraphAU stage-1 ("MEFARG") checkpoint into an ``AUModel``.

Key mapping (a leading "module." is optional; N AUs, C node width, D backbone width)::

    ME-GraphAU (model/MEFARG.py)              aunce-rt AUModel
    backbone.*                                encoder.backbone.*   (original Swin layout
                                                                    converted by timm's filter)
    global_linear.fc.{weight,bias}            encoder.global_linear.fc.{weight,bias}
    global_linear.bn.*                        encoder.global_linear.bn.*
    head.class_linears.{i}.fc.weight (C, C)   encoder.class_linears.weight[i]          (N, C, C)
    head.class_linears.{i}.fc.bias (C,)       encoder.class_linears.bias[i]            (N, C)
    head.class_linears.{i}.bn.{w,b,mean,var}  encoder.class_linears.bn.*[i*C:(i+1)*C]  (N*C,)
    head.gnn.U.*, head.gnn.V.*, head.gnn.bnv.* encoder.gnn.U.*, encoder.gnn.V.*, encoder.gnn.bnv.*
    head.sc (N, C)                            probe.weight = normalize(relu(sc)), probe.bias = 0

Equivalence of the head: ME-GraphAU's stage-1 output is the cosine similarity
``cl_i = <f_i / |f_i|, s_i / |s_i|>`` with ``s_i = relu(sc_i)``; our encoder output is
already ``f_i / |f_i|``, so with ``W_i = s_i / |s_i|`` and ``b_i = 0`` our logit equals
``cl_i`` exactly. ME-GraphAU uses ``cl_i`` itself as the probability and predicts an AU
when ``cl_i >= 0.5``; our ``predict_proba`` is ``sigmoid(logit)``, which ranks samples
identically, and ``sigmoid(logit) >= MEGRAPH_PROBABILITY_THRESHOLD`` (= sigmoid(0.5))
is the same decision.

Only the stage-1 model is supported: stage-2 checkpoints (``head.edge_extractor`` ...)
add a gated graph over edges that this encoder does not have.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping

import torch
import torch.nn.functional as F

from aunce_rt.errors import ModelError
from aunce_rt.models._weights import load_backbone_weights
from aunce_rt.models.encoder import create_encoder
from aunce_rt.models.probe import AUModel, AUProbe

__all__ = ["MEGRAPH_BACKBONES", "MEGRAPH_PROBABILITY_THRESHOLD", "from_megraph_state_dict"]

logger = logging.getLogger(__name__)

MEGRAPH_PROBABILITY_THRESHOLD = 1.0 / (1.0 + math.exp(-0.5))
# ME-GraphAU's backbone argument -> our registered name.
MEGRAPH_BACKBONES = {
    "swin_transformer_tiny": "swin_tiny_patch4_window7_224",
    "swin_transformer_small": "swin_small_patch4_window7_224",
    "swin_transformer_base": "swin_base_patch4_window7_224",
    "resnet18": "resnet18",
    "resnet50": "resnet50",
    "resnet101": "resnet101",
}
_BN_KEYS = ("weight", "bias", "running_mean", "running_var")


def _take(state: Mapping[str, torch.Tensor], key: str) -> torch.Tensor:
    if key not in state:
        raise ModelError(
            f"ME-GraphAU state dict lacks {key!r}; expected a stage-1 MEFARG checkpoint "
            "(keys backbone.*, global_linear.*, head.class_linears.*, head.gnn.*, head.sc)"
        )
    return state[key]


def _head_state(state: Mapping[str, torch.Tensor], num_aus: int) -> dict[str, torch.Tensor]:
    """Our encoder.(global_linear|class_linears|gnn).* and probe.* tensors from ME-GraphAU's."""
    out = {f"encoder.{k}": v for k, v in state.items() if k.startswith("global_linear.")}
    out.update({f"encoder.{k[len('head.') :]}": v for k, v in state.items() if k.startswith("head.gnn.")})
    blocks = [f"head.class_linears.{i}" for i in range(num_aus)]
    out["encoder.class_linears.weight"] = torch.stack([_take(state, f"{b}.fc.weight") for b in blocks])
    out["encoder.class_linears.bias"] = torch.stack([_take(state, f"{b}.fc.bias") for b in blocks])
    for name in _BN_KEYS:
        out[f"encoder.class_linears.bn.{name}"] = torch.cat([_take(state, f"{b}.bn.{name}") for b in blocks])
    tracked = f"{blocks[0]}.bn.num_batches_tracked"
    if tracked in state:
        out["encoder.class_linears.bn.num_batches_tracked"] = state[tracked]
    sc = _take(state, "head.sc")  # (N, C) class prototypes
    out["probe.weight"] = F.normalize(F.relu(sc.float()), p=2, dim=-1)
    out["probe.bias"] = torch.zeros(sc.shape[0])
    return out


def from_megraph_state_dict(
    state_dict: Mapping[str, torch.Tensor], backbone: str, num_aus: int, *, top_k: int = 4
) -> AUModel:
    """Build an ``AUModel`` holding the weights of a ME-GraphAU stage-1 checkpoint.

    Args:
        state_dict: the MEFARG state dict (e.g. ``torch.load(path)["state_dict"]``).
        backbone: our backbone name or ME-GraphAU's ("swin_transformer_base", "resnet50" ...).
        num_aus: N, the number of AUs the checkpoint was trained on (12 for BP4D, 8 for DISFA).
        top_k: K neighbours of the graph (ME-GraphAU: 4 for BP4D, 3 for DISFA).

    Returns:
        The model in eval mode; its logits equal ME-GraphAU's cosine outputs.

    Raises:
        ModelError: keys are missing or do not fit (wrong backbone or AU count).

    Example:
        >>> ckpt = torch.load("MEFARG_swin_base_BP4D_fold1.pth", weights_only=True)  # doctest: +SKIP
        >>> model = from_megraph_state_dict(ckpt["state_dict"], "swin_transformer_base", 12)  # doctest: +SKIP
    """
    name = MEGRAPH_BACKBONES.get(backbone, backbone)
    state = {re.sub(r"^module\.", "", k): v for k, v in state_dict.items()}
    if any(k.startswith("head.edge_extractor") for k in state):
        raise ModelError(
            "this is a ME-GraphAU stage-2 checkpoint; only stage-1 (MEFARG) weights can be loaded"
        )
    if (
        f"head.class_linears.{num_aus - 1}.fc.weight" not in state
        or f"head.class_linears.{num_aus}.fc.weight" in state
    ):
        found = len({k.split(".")[2] for k in state if k.startswith("head.class_linears.")})
        raise ModelError(
            f"the ME-GraphAU state dict has {found} AU blocks but num_aus={num_aus}; pass num_aus={found}"
        )
    node_dim = int(_take(state, "global_linear.fc.weight").shape[0])
    encoder = create_encoder(name, num_aus, node_dim=node_dim, top_k=top_k)
    backbone_state = {k[len("backbone.") :]: v for k, v in state.items() if k.startswith("backbone.")}
    load_backbone_weights(encoder.backbone, encoder.spec, backbone_state, source="ME-GraphAU state dict")
    model = AUModel(encoder, AUProbe(num_aus, node_dim))
    try:
        missing, unexpected = model.load_state_dict(_head_state(state, num_aus), strict=False)
    except RuntimeError as exc:
        raise ModelError(
            f"ME-GraphAU head weights do not fit {name} with {num_aus} AUs: {str(exc)[:400]}"
        ) from exc
    missing = [k for k in missing if not k.startswith("encoder.backbone.")]
    if missing or unexpected:
        raise ModelError(
            f"ME-GraphAU head does not map fully: missing {missing[:4]}, unexpected {unexpected[:4]}"
        )
    logger.info("loaded ME-GraphAU stage-1 weights: %s, %d AUs, node width %d", name, num_aus, node_dim)
    return model.eval()
