"""Cross-identity reconstruction losses (CLP as reconstructed here): pairing, references, stop-gradient."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from aunce_rt.training.losses.cir import CrossIdentityLoss, pair_other_identity
from aunce_rt.training.losses.tcl import TemporalContrastiveLoss

B, T, DA, DI, S, D = 3, 2, 6, 5, 4, 4


class Toy(nn.Module):
    """A linear decoder G, re-encoder h_a(E(.)) and projector g on S x S images."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.dec = nn.Linear(DA + DI, 3 * S * S)
        self.enc = nn.Linear(3 * S * S, DA)
        self.proj = nn.Linear(DA, D)

    def decoder(self, r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.dec(torch.cat([r, c], -1))).view(-1, 3, S, S)

    def reencode(self, img: torch.Tensor) -> torch.Tensor:
        return self.enc(img.flatten(1))


def batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    r = torch.randn(B, T, DA, generator=g, requires_grad=True)
    c = torch.randn(B, T, DI, generator=g, requires_grad=True)
    y = torch.rand(B, T, 3, S, S, generator=g)
    k = F.normalize(torch.randn(B, T, D, generator=g), dim=-1)
    queue = F.normalize(torch.randn(7, D, generator=g), dim=-1)
    return r, c, y, k, queue


def run(toy: Toy, partner: torch.Tensor, seed: int = 0):
    r, c, y, k, queue = batch(seed)
    terms = CrossIdentityLoss(temperature=0.1)(
        r,
        c,
        y,
        partner,
        decoder=toy.decoder,
        reencode=toy.reencode,
        project=toy.proj,
        positives=k,
        queue=queue,
    )
    return terms, (r, c, y, k, queue)


@pytest.mark.parametrize("seed", range(20))
def test_pairing_never_pairs_a_clip_with_its_own_identity(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 3, (9,), generator=g)
    if ids.unique().numel() < 2:
        ids[0] = 1 - ids[1].clamp(max=1)
    pi = pair_other_identity(ids, generator=g)
    assert pi.shape == ids.shape and bool((ids[pi] != ids).all())


def test_pairing_draws_every_allowed_partner() -> None:
    ids = torch.tensor([0, 1, 1, 2])
    seen = {int(pair_other_identity(ids, torch.Generator().manual_seed(s))[0]) for s in range(60)}
    assert seen == {1, 2, 3}


def test_pairing_refuses_a_batch_of_one_identity() -> None:
    with pytest.raises(ValueError, match="two identities"):
        pair_other_identity(torch.tensor([4, 4, 4]))


def test_losses_match_a_per_frame_reference() -> None:
    toy, partner = Toy(), torch.tensor([1, 2, 0])
    terms, (r, c, y, k, queue) = run(toy, partner)
    rec = cyc = 0.0
    queries = torch.zeros(B, T, D)
    for b in range(B):
        cbar = c[b].mean(0, keepdim=True)  # (1, DI)
        cpair = c[partner[b]].mean(0, keepdim=True)
        for t in range(T):
            rec += (toy.decoder(r[b, t][None], cbar) - y[b, t]).abs().mean().item()
            rt = toy.reencode(toy.decoder(r[b, t][None], cpair))
            cyc += (toy.decoder(rt, cbar) - y[b, t]).abs().mean().item()
            queries[b, t] = F.normalize(toy.proj(rt), dim=-1)[0]
    assert terms.rec.item() == pytest.approx(rec / (B * T), rel=1e-5)
    assert terms.cyc.item() == pytest.approx(cyc / (B * T), rel=1e-5)
    xid = TemporalContrastiveLoss(0.1, margin=0.0, mode="none")(queries, k, queue)
    assert terms.xid.item() == pytest.approx(xid.item(), rel=1e-5)


def test_the_decoder_gets_no_gradient_from_the_au_consistency_loss() -> None:
    toy = Toy()
    terms, _ = run(toy, torch.tensor([1, 2, 0]))
    terms.xid.backward(retain_graph=True)
    assert all(p.grad is None or not p.grad.any() for p in toy.dec.parameters())
    assert toy.enc.weight.grad is not None and toy.enc.weight.grad.abs().sum() > 0  # E is trained by it
    toy.zero_grad()
    (terms.rec + terms.cyc).backward()
    assert toy.dec.weight.grad is not None and toy.dec.weight.grad.abs().sum() > 0


def test_reconstruction_positives_are_computed_from_the_detached_self_reconstructions() -> None:
    toy = Toy()
    r, c, y, k, queue = batch()
    seen = {}

    def keys_of(xhat: torch.Tensor) -> torch.Tensor:
        seen["xhat"] = xhat
        return k

    terms = CrossIdentityLoss()(
        r, c, y, torch.tensor([1, 2, 0]), decoder=toy.decoder, reencode=toy.reencode, project=toy.proj,
        positives=keys_of, queue=queue,
    )  # fmt: skip
    assert seen["xhat"].shape == (B, T, 3, S, S) and not seen["xhat"].requires_grad
    assert torch.equal(seen["xhat"], terms.xhat)
