"""The ME-GraphAU stage-1 ("MEFARG") building blocks, vectorised over AUs.

Three blocks, each with exactly the parameters of its counterpart in the public
ME-GraphAU code (``model/MEFARG.py``), so that parameter counts and weights map
one to one (see ``models/convert.py``):

- ``LinearBlock``: Linear + BatchNorm + ReLU applied to every token (``LinearBlock``).
- ``PerAULinearBlock``: N LinearBlocks, one per AU, as one stacked weight
  (``Head.class_linears``), followed by the mean over tokens.
- ``GraphLayer``: one layer over a dynamic top-K graph of the N AU nodes (``GNN``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GraphLayer", "LinearBlock", "PerAULinearBlock", "normalize_digraph"]


class LinearBlock(nn.Module):
    """Dropout -> Linear -> BatchNorm over channels -> ReLU, applied per token.

    BatchNorm statistics are taken over the batch and the tokens, per output channel.

    Args:
        in_features: D, the token width.
        out_features: C, the output width.
        dropout: dropout probability applied to the input tokens.

    Example:
        >>> block = LinearBlock(8, 4)
        >>> block(torch.randn(2, 5, 8)).shape
        torch.Size([2, 5, 4])
    """

    def __init__(self, in_features: int, out_features: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(in_features, out_features)
        self.bn = nn.BatchNorm1d(out_features)
        nn.init.normal_(self.fc.weight, 0.0, math.sqrt(2.0 / out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map tokens.

        Args:
            x: (B, T, D) tokens.

        Returns:
            (B, T, C) tokens.
        """
        x = self.fc(self.drop(x))  # (B, T, C)
        return F.relu(self.bn(x.transpose(1, 2))).transpose(1, 2)  # BN over (B, T) per channel


class PerAULinearBlock(nn.Module):
    """One LinearBlock per AU, computed as a single matmul, then averaged over tokens.

    Parameters are stored stacked: ``weight`` (N, C, D) holds the N Linear weights,
    ``bias`` (N, C) their biases, and ``bn`` is one BatchNorm1d over N*C channels,
    where channel ``i*C + c`` is channel c of AU i. This is exactly N independent
    LinearBlocks (same parameter count, same statistics), without a Python loop.

    Args:
        num_aus: N, the number of AUs.
        in_features: D, the token width.
        out_features: C, the per-AU feature width.
        dropout: dropout probability applied to the input tokens.

    Example:
        >>> block = PerAULinearBlock(3, 8, 4)
        >>> block(torch.randn(2, 5, 8)).shape
        torch.Size([2, 3, 4])
    """

    def __init__(self, num_aus: int, in_features: int, out_features: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.num_aus = num_aus
        self.out_features = out_features
        self.drop = nn.Dropout(dropout)
        self.weight = nn.Parameter(torch.empty(num_aus, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(num_aus, out_features))
        self.bn = nn.BatchNorm1d(num_aus * out_features)
        nn.init.normal_(self.weight, 0.0, math.sqrt(2.0 / out_features))
        bound = 1.0 / math.sqrt(in_features)  # nn.Linear's default bias init
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-AU node features.

        Args:
            x: (B, T, D) tokens.

        Returns:
            (B, N, C) node features: each AU's block, averaged over the T tokens.
        """
        b = x.shape[0]
        n, c = self.num_aus, self.out_features
        w = self.weight.reshape(n * c, -1)  # (N*C, D)
        y = F.linear(self.drop(x), w, self.bias.reshape(-1))  # (B, T, N*C)
        y = F.relu(self.bn(y.transpose(1, 2)))  # (B, N*C, T)
        return y.mean(dim=-1).reshape(b, n, c)  # mean over tokens -> (B, N, C)


def normalize_digraph(adj: torch.Tensor) -> torch.Tensor:
    """D^-1/2 A D^-1/2 with D the row degrees, as in ME-GraphAU.

    Args:
        adj: (B, N, N) adjacency, adj[b, i, j] = 1 when j is a neighbour of i.

    Returns:
        (B, N, N) with out[b, i, j] = adj[b, i, j] / sqrt(d[b, i] * d[b, j]).
    """
    deg_inv_sqrt = adj.detach().sum(dim=-1).pow(-0.5)  # (B, N)
    return deg_inv_sqrt.unsqueeze(-1) * adj * deg_inv_sqrt.unsqueeze(-2)


class GraphLayer(nn.Module):
    """One graph layer over a per-sample top-K graph of the AU nodes.

    Neighbours of node i are the K nodes j (itself included) with the largest dot
    product <x_i, x_j> of the detached features (ties at the K-th value are all
    kept, as in ME-GraphAU); then ``x = relu(x + BN(A V(x) + U(x)))`` with
    A = D^-1/2 Adj D^-1/2 and BN a BatchNorm1d over the N nodes.

    Args:
        num_aus: N, the number of nodes.
        dim: C, the node feature width.
        top_k: K, neighbours per node; a K above N means every node is a neighbour.

    Example:
        >>> layer = GraphLayer(5, 8, top_k=2)
        >>> layer(torch.randn(3, 5, 8)).shape
        torch.Size([3, 5, 8])
    """

    def __init__(self, num_aus: int, dim: int, top_k: int = 4) -> None:
        super().__init__()
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1; got {top_k}. Use 4 for BP4D, 3 for DISFA.")
        self.top_k = top_k
        self.U = nn.Linear(dim, dim)
        self.V = nn.Linear(dim, dim)
        self.bnv = nn.BatchNorm1d(num_aus)
        nn.init.normal_(self.U.weight, 0.0, math.sqrt(2.0 / dim))
        nn.init.normal_(self.V.weight, 0.0, math.sqrt(2.0 / dim))

    def adjacency(self, x: torch.Tensor) -> torch.Tensor:
        """The top-K adjacency of each sample.

        Args:
            x: (B, N, C) node features (detached inside).

        Returns:
            (B, N, N) float 0/1 adjacency, each row with at least min(K, N) ones.
        """
        si = x.detach()
        sim = torch.einsum("bic,bjc->bij", si, si)  # b batch, i/j nodes, c channels -> (B, N, N)
        k = min(self.top_k, sim.shape[-1])
        kth = sim.topk(k, dim=-1).values[..., -1:]  # (B, N, 1): K-th largest per row
        return (sim >= kth).to(x.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Update node features.

        Args:
            x: (B, N, C) node features.

        Returns:
            (B, N, C) updated node features.
        """
        a = normalize_digraph(self.adjacency(x))  # (B, N, N)
        aggregate = torch.einsum("bij,bjc->bic", a, self.V(x))  # (B, N, C)
        return F.relu(x + self.bnv(aggregate + self.U(x)))
