"""A faithful re-implementation of ME-GraphAU's stage-1 network (model/MEFARG.py).

Written with the reference's module names, loops and formulas (one LinearBlock
per AU in a Python loop, ``normalize_digraph`` with explicit degree matrices,
cosine head with ``relu(sc)``) so that tests can check our vectorised encoder
and the key mapping of ``aunce_rt.models.convert`` against it.
"""

from __future__ import annotations

import math

import timm
import torch
import torch.nn.functional as F
from torch import nn


class RefLinearBlock(nn.Module):
    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_features, out_features)
        self.bn = nn.BatchNorm1d(out_features)
        self.relu = nn.ReLU()
        self.fc.weight.data.normal_(0, math.sqrt(2.0 / out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc(x).permute(0, 2, 1)
        return self.relu(self.bn(x)).permute(0, 2, 1)


def ref_normalize_digraph(a: torch.Tensor) -> torch.Tensor:
    b, n, _ = a.shape
    degs_inv_sqrt = a.detach().sum(dim=-1) ** -0.5
    norm_degs = torch.eye(n).view(1, n, n) * degs_inv_sqrt.view(b, n, -1)
    return torch.bmm(torch.bmm(norm_degs, a), norm_degs)


class RefGNN(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, neighbor_num: int = 4) -> None:
        super().__init__()
        self.neighbor_num = neighbor_num
        self.U = nn.Linear(in_channels, in_channels)
        self.V = nn.Linear(in_channels, in_channels)
        self.bnv = nn.BatchNorm1d(num_classes)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        si = x.detach()
        si = torch.einsum("b i j , b j k -> b i k", si, si.transpose(1, 2))
        threshold = si.topk(k=self.neighbor_num, dim=-1, largest=True)[0][:, :, -1].view(b, n, 1)
        adj = (si >= threshold).float()
        a = ref_normalize_digraph(adj)
        aggregate = torch.einsum("b i j, b j k->b i k", a, self.V(x))
        return self.relu(x + self.bnv(aggregate + self.U(x)))


class RefHead(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, neighbor_num: int = 4) -> None:
        super().__init__()
        self.class_linears = nn.ModuleList(
            [RefLinearBlock(in_channels, in_channels) for _ in range(num_classes)]
        )
        self.gnn = RefGNN(in_channels, num_classes, neighbor_num)
        self.sc = nn.Parameter(torch.zeros(num_classes, in_channels))
        nn.init.xavier_uniform_(self.sc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f_u = torch.cat([layer(x).unsqueeze(1) for layer in self.class_linears], dim=1)
        f_v = self.gnn(f_u.mean(dim=-2))
        n, c = self.sc.shape
        sc = F.normalize(F.relu(self.sc), p=2, dim=-1)
        cl = F.normalize(f_v, p=2, dim=-1)
        return (cl * sc.view(1, n, c)).sum(dim=-1)


class RefMEFARG(nn.Module):
    """ME-GraphAU stage 1 over a timm ResNet (its key names equal torchvision's)."""

    def __init__(self, backbone: str = "resnet18", num_classes: int = 12, neighbor_num: int = 4) -> None:
        super().__init__()
        self.backbone = timm.create_model(backbone, pretrained=False, num_classes=0)
        in_channels = self.backbone.num_features
        out_channels = in_channels // 4  # ME-GraphAU's ResNet configuration
        self.global_linear = RefLinearBlock(in_channels, out_channels)
        self.head = RefHead(out_channels, num_classes, neighbor_num)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.backbone.forward_features(x)
        x = x.flatten(2).permute(0, 2, 1)  # (B, H*W, D) as ME-GraphAU's ResNet forward
        return self.head(self.global_linear(x))


def randomize_batchnorm(module: nn.Module, generator: torch.Generator) -> None:
    """Give every BatchNorm non-trivial affine parameters and running statistics."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            with torch.no_grad():
                m.weight.copy_(1 + 0.2 * torch.randn(n, generator=generator))
                m.bias.copy_(0.1 * torch.randn(n, generator=generator))
                m.running_mean.copy_(0.1 * torch.randn(n, generator=generator))
                m.running_var.copy_(0.5 + torch.rand(n, generator=generator))
