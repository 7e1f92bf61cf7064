"""The per-AU linear probe and the full AU model (encoder + probe)."""

from __future__ import annotations

import torch
from torch import nn

from aunce_rt.models.encoder import AUEncoder

__all__ = ["AUModel", "AUProbe", "PooledClassifier"]


class AUProbe(nn.Module):
    """One linear classifier per AU, each on its own AU's feature.

    ``logits[b, i] = <W_i, z[b, i]> + b_i``; parameters ``weight`` (N, C) and ``bias`` (N,).

    Args:
        num_aus: N.
        node_dim: C.

    Example:
        >>> probe = AUProbe(3, 8)
        >>> probe(torch.randn(2, 3, 8)).shape
        torch.Size([2, 3])
    """

    def __init__(self, num_aus: int, node_dim: int) -> None:
        super().__init__()
        self.num_aus = num_aus
        self.node_dim = node_dim
        self.weight = nn.Parameter(torch.empty(num_aus, node_dim))
        self.bias = nn.Parameter(torch.zeros(num_aus))
        nn.init.xavier_uniform_(self.weight)  # as ME-GraphAU's class prototypes "sc"

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Logits.

        Args:
            z: (B, N, C) per-AU features.

        Returns:
            (B, N) logits.
        """
        return torch.einsum("bnc,nc->bn", z, self.weight) + self.bias  # b batch, n AU, c channel

    def extra_repr(self) -> str:
        return f"num_aus={self.num_aus}, node_dim={self.node_dim}"


class AUModel(nn.Module):
    """Encoder + per-AU probe: images -> AU logits.

    Args:
        encoder: the AU encoder.
        probe: a probe with the encoder's ``num_aus`` and ``node_dim``.

    Example:
        >>> from models import create_encoder
        >>> enc = create_encoder("resnet18", 4)
        >>> model = AUModel(enc, AUProbe(4, enc.node_dim)).eval()
        >>> model.predict_proba(torch.randn(1, 3, 112, 112)).shape
        torch.Size([1, 4])
    """

    def __init__(self, encoder: AUEncoder, probe: AUProbe) -> None:
        super().__init__()
        if (probe.num_aus, probe.node_dim) != (encoder.num_aus, encoder.node_dim):
            raise ValueError(
                f"probe is for {probe.num_aus} AUs x {probe.node_dim} channels but the encoder yields "
                f"{encoder.num_aus} x {encoder.node_dim}; build it with AUProbe(encoder.num_aus, encoder.node_dim)"
            )
        self.encoder = encoder
        self.probe = probe

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised images -> (B, N, C) unit-norm per-AU features."""
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised images -> (B, N) logits."""
        return self.probe(self.encoder(x))

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised images -> (B, N) probabilities, sigmoid of the logits."""
        return torch.sigmoid(self.forward(x))


class PooledClassifier(nn.Module):
    """The encoder's backbone with a plain classifier: mean-pooled tokens -> N logits.

    Trains the backbone of an encoder with a supervised loss before AUNCE, in place
    of the ImageNet weights the paper starts from (none can be downloaded here).
    Only ``encoder.backbone`` (and its input standardisation) is used, so the
    encoder's per-AU blocks and graph layer keep their initialisation.

    Args:
        encoder: the AU encoder whose backbone is trained (in place).

    Example:
        >>> from models import create_encoder
        >>> clf = PooledClassifier(create_encoder("resnet18", 4))
        >>> clf(torch.randn(2, 3, 64, 64)).shape
        torch.Size([2, 4])
    """

    def __init__(self, encoder: AUEncoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.fc = nn.Linear(encoder.width, encoder.num_aus)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised images -> (B, N) logits."""
        tokens = self.encoder.forward_tokens(x)  # (B, T, D)
        return self.fc(tokens.mean(dim=1))  # (B, N)
