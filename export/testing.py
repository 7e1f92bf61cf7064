"""Test helper: a tiny exported model, so runtime tests need no weight files.

Example (a pytest session fixture)::

    @pytest.fixture(scope="session")
    def tiny_onnx(tmp_path_factory):
        return tiny_exported_model(tmp_path_factory.mktemp("tiny"))
"""

from __future__ import annotations

from pathlib import Path

import torch

from aunce_rt.aus import BENCHMARK_AUS
from aunce_rt.export._export import ExportResult, export_onnx

TINY_BACKBONES = ("mobilenetv3_small_100", "resnet18")


def tiny_model_checkpoint(tmp_dir: str | Path, seed: int = 0) -> Path:
    """Save a randomly initialised small model (12 BP4D AUs) as ``tmp_dir/tiny.pt``."""
    from aunce_rt.models import AUModel, AUProbe, create_encoder, list_backbones, save_model

    available = list_backbones()
    backbone = next((b for b in TINY_BACKBONES if b in available), available[0])
    torch.manual_seed(seed)
    encoder = create_encoder(backbone, len(BENCHMARK_AUS["bp4d"]))
    model = AUModel(encoder, AUProbe(encoder.num_aus, encoder.node_dim)).eval()
    with torch.no_grad():  # logits with a standard deviation of ~3, so probabilities are not all ~0.5
        model.probe.weight.mul_(3.0 * encoder.node_dim**0.5 / model.probe.weight.norm(dim=1, keepdim=True))
    extra = {"dataset": "none", "licence_note": "random weights for tests; no training data", "seed": seed}
    return save_model(Path(tmp_dir) / "tiny.pt", model, au_codes=BENCHMARK_AUS["bp4d"], extra=extra)


def tiny_export(tmp_dir: str | Path, *, with_features: bool = True, seed: int = 0) -> ExportResult:
    """Export the tiny model to ``tmp_dir/tiny.onnx`` (fp32, verified) and return the result."""
    tmp_dir = Path(tmp_dir)
    checkpoint = tiny_model_checkpoint(tmp_dir, seed)
    return export_onnx(checkpoint, tmp_dir / "tiny.onnx", with_features=with_features)


def tiny_exported_model(tmp_dir: str | Path, *, with_features: bool = False) -> Path:
    """Path of a tiny exported aunce-rt ONNX model (random weights, 12 BP4D AUs) in ``tmp_dir``."""
    return tiny_export(tmp_dir, with_features=with_features).path
