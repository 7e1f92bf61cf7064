"""The vectorised ME-GraphAU blocks against slow, obvious references."""

from __future__ import annotations

import pytest
import torch

from aunce_rt.models._layers import GraphLayer, LinearBlock, PerAULinearBlock, normalize_digraph
from tests.models.megraph_reference import RefGNN, RefLinearBlock, randomize_batchnorm, ref_normalize_digraph


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("train", [True, False])
def test_per_au_block_equals_one_linear_block_per_au(train):
    torch.manual_seed(0)
    n, d, c = 4, 6, 5
    block = PerAULinearBlock(n, d, c)
    randomize_batchnorm(block, _gen())
    refs = [RefLinearBlock(d, c) for _ in range(n)]
    with torch.no_grad():
        for i, ref in enumerate(refs):
            ref.fc.weight.copy_(block.weight[i])
            ref.fc.bias.copy_(block.bias[i])
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(ref.bn, name).copy_(getattr(block.bn, name)[i * c : (i + 1) * c])
    block.train(train)
    for ref in refs:
        ref.train(train)
    x = torch.randn(3, 7, d, generator=_gen(1))
    expected = torch.stack([ref(x).mean(dim=1) for ref in refs], dim=1)  # (B, N, C)
    torch.testing.assert_close(block(x), expected)


def test_per_au_block_has_the_parameters_of_n_linear_blocks():
    n, d, c = 12, 16, 8
    ours = sum(p.numel() for p in PerAULinearBlock(n, d, c).parameters())
    assert ours == n * sum(p.numel() for p in LinearBlock(d, c).parameters())


def test_linear_block_is_per_token():
    block = LinearBlock(6, 4).eval()
    x = torch.randn(2, 5, 6, generator=_gen())
    torch.testing.assert_close(block(x)[:, 2], block(x[:, 2:3])[:, 0])
    assert (block(x) >= 0).all()


def test_normalize_digraph_matches_explicit_degree_matrices():
    adj = (torch.rand(2, 5, 5, generator=_gen()) > 0.5).float() + torch.eye(5)
    adj = adj.clamp(max=1)
    torch.testing.assert_close(normalize_digraph(adj), ref_normalize_digraph(adj))
    d = adj[0].sum(-1)
    torch.testing.assert_close(normalize_digraph(adj)[0, 1, 3], adj[0, 1, 3] / torch.sqrt(d[1] * d[3]))


def test_adjacency_selects_the_top_k_dot_products_per_sample():
    layer = GraphLayer(6, 4, top_k=3)
    x = torch.randn(2, 6, 4, generator=_gen())
    adj = layer.adjacency(x)
    assert adj.shape == (2, 6, 6)
    assert (adj.sum(-1) == 3).all()  # continuous random data: no ties
    for b in range(2):
        sim = x[b] @ x[b].T
        for i in range(6):
            expected = set(sim[i].argsort(descending=True)[:3].tolist())
            assert set(adj[b, i].nonzero().flatten().tolist()) == expected
    assert not torch.equal(adj[0], adj[1])  # neighbours are chosen per sample


def test_adjacency_is_detached_and_k_above_n_links_every_node():
    x = torch.randn(2, 3, 4, requires_grad=True)
    adj = GraphLayer(3, 4, top_k=10).adjacency(x)
    assert not adj.requires_grad
    assert (adj == 1).all()


def test_graph_layer_matches_reference_gnn():
    torch.manual_seed(0)
    n, c = 5, 8
    ours, ref = GraphLayer(n, c, top_k=2), RefGNN(c, n, neighbor_num=2)
    randomize_batchnorm(ours, _gen())
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(4, n, c, generator=_gen(2))
    for train in (True, False):
        ours.train(train)
        ref.train(train)
        torch.testing.assert_close(ours(x), ref(x))


def test_graph_layer_backward_reaches_u_and_v():
    layer = GraphLayer(4, 6, top_k=2)
    x = torch.randn(3, 4, 6, requires_grad=True)
    layer(x).sum().backward()
    assert layer.U.weight.grad is not None and layer.V.weight.grad.abs().sum() > 0
    assert x.grad is not None


def test_graph_layer_rejects_k_below_one():
    with pytest.raises(ValueError, match="top_k"):
        GraphLayer(4, 6, top_k=0)
