"""CLPObjective (CLP as reconstructed here): queue discipline, momentum update, gradients."""

from __future__ import annotations

import pytest
import torch

from aunce_rt.models.clp import CLPEncoder, CLPNet
from aunce_rt.training.clp_objective import CLPObjective

B, T, H = 4, 3, 32


def objective(**kwargs) -> CLPObjective:
    torch.manual_seed(0)
    return CLPObjective(
        CLPNet("resnet18", au_dim=16, id_dim=8, proj_dim=8, recon_size=8), queue_size=20, **kwargs
    )


def clips(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.rand(B, T, 3, H, H, generator=g),
        torch.rand(B, T, 3, H, H, generator=g),
        torch.tensor([0, 0, 1, 2]),
    )


def test_no_key_of_the_batch_is_in_the_queue_when_the_loss_runs_and_all_are_enqueued_after() -> None:
    obj = objective()
    seen = {}
    original = obj.tcl.forward

    def spy(q, k, queue):
        seen["queue"], seen["k"] = queue.clone(), k.detach().reshape(-1, k.shape[-1]).clone()
        return original(q, k, queue)

    obj.tcl.forward = spy  # type: ignore[method-assign]
    before = obj.queue.keys.clone()
    obj(*clips())
    assert torch.equal(seen["queue"], before)
    assert not any(torch.allclose(row, key) for row in seen["queue"] for key in seen["k"])
    assert torch.allclose(obj.queue.keys[: B * T], seen["k"]) and int(obj.queue.pointer) == B * T


def test_momentum_update_is_the_ema_of_the_online_weights() -> None:
    obj = objective(momentum=0.9)
    with torch.no_grad():
        for p in obj.net.backbone.parameters():
            p.add_(1.0)
    key_before = [p.clone() for p in obj.key_backbone.parameters()]
    obj.momentum_update()
    for k0, k1, q in zip(
        key_before, obj.key_backbone.parameters(), obj.net.backbone.parameters(), strict=True
    ):
        assert torch.allclose(k1, 0.9 * k0 + 0.1 * q)
    assert not any(p.requires_grad for p in obj.key_backbone.parameters())


def test_total_is_the_weighted_sum_and_trains_encoder_heads_and_decoder() -> None:
    obj = objective(lambda_x=0.5, lambda_r=2.0)
    terms = obj(*clips())
    assert terms.cir
    expected = terms.tcl + 0.5 * terms.xid + 2.0 * (terms.rec + terms.cyc)
    assert torch.allclose(terms.total, expected)
    terms.total.backward()
    for module in (obj.net.backbone, obj.net.au_head, obj.net.id_head, obj.net.projector, obj.net.decoder):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())
    assert all(p.grad is None for p in obj.key_backbone.parameters())


def test_a_batch_of_one_identity_trains_tcl_alone_and_cir_off_too() -> None:
    v1, v2, _ = clips()
    terms = objective()(v1, v2, torch.zeros(B, dtype=torch.long))
    assert not terms.cir and terms.rec.item() == 0 and torch.allclose(terms.total, terms.tcl)
    terms = objective(cir=False)(*clips())
    assert not terms.cir and torch.allclose(terms.total, terms.tcl)


def test_reconstruction_positive_option_runs() -> None:
    terms = objective(cir_positive="reconstruction")(*clips())
    assert torch.isfinite(terms.total) and terms.xid.item() > 0


def test_keys_do_not_depend_on_the_shuffle_in_eval_mode() -> None:
    obj = objective().eval()
    x = torch.rand(6, 3, H, H)
    assert torch.allclose(obj.keys(x), obj.keys(x))
    assert obj.keys(x).shape == (6, 8)


def test_probe_features_repeat_r_for_every_au() -> None:
    net = objective().net.eval()
    x = torch.randn(2, 3, H, H)
    feats = CLPEncoder(net, 5)(x)
    assert feats.shape == (2, 5, 16) and torch.allclose(feats[:, 3], net.represent(x))


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"momentum": 1.0}, "momentum"), ({"cir_positive": "x"}, "cir_positive")]
)
def test_bad_settings_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        objective(**kwargs)


def test_term_means_average_the_training_batches_since_the_last_pop() -> None:
    obj = objective()
    first, second = obj(*clips(0)), obj(v1=clips(1)[0], v2=clips(1)[1], ids=torch.zeros(B, dtype=torch.long))
    means = obj.pop_term_means()
    assert means["tcl"] == pytest.approx((first.tcl.item() + second.tcl.item()) / 2, rel=1e-6)
    assert means["rec"] == pytest.approx(first.rec.item() / 2, rel=1e-6)  # the 2nd batch had one identity
    assert means["cir_batches"] == 0.5
    assert obj.pop_term_means() == {}
    obj.eval()
    obj(*clips(2))  # evaluation batches are not counted
    assert obj.pop_term_means() == {}


def test_the_encoder_can_start_from_given_backbone_weights(tmp_path) -> None:
    torch.manual_seed(1)
    donor = CLPNet("resnet10t", au_dim=16, id_dim=8, proj_dim=8, recon_size=8)
    torch.save(donor.backbone.state_dict(), tmp_path / "backbone.pt")
    torch.manual_seed(2)
    net = CLPNet(
        "resnet10t", au_dim=16, id_dim=8, proj_dim=8, recon_size=8, init_weights=tmp_path / "backbone.pt"
    )
    for k, v in donor.backbone.state_dict().items():
        assert torch.equal(net.backbone.state_dict()[k], v), k
    assert "init_weights" not in net.config  # a saved model's weights carry the start
    with pytest.raises(Exception, match="missing.pt"):
        CLPNet("resnet10t", recon_size=8, init_weights=tmp_path / "missing.pt")


def _ddp_worker(rank: int, port: int, out: str) -> None:
    """Two CLP steps under DDP on this process's own clips; saves its queue, keys and weights."""
    import torch.distributed as dist

    from tests.training.gloo import join_gloo

    join_gloo(rank, port, 2)
    try:
        torch.set_num_threads(1)
        saved = {}
        for cir in (True, False):  # without CIR the decoder never enters the loss: unused parameters
            torch.manual_seed(0)
            obj = CLPObjective(
                CLPNet("resnet18", au_dim=16, id_dim=8, proj_dim=8, recon_size=8), queue_size=64, cir=cir
            )
            keys = []
            original = obj.tcl.forward

            def spy(q, k, queue, original=original, keys=keys):
                keys.append(k.detach().reshape(-1, k.shape[-1]).clone())
                return original(q, k, queue)

            obj.tcl.forward = spy  # type: ignore[method-assign]
            model = torch.nn.parallel.DistributedDataParallel(obj, find_unused_parameters=True)
            opt = torch.optim.SGD([p for p in obj.parameters() if p.requires_grad], lr=0.1)
            for step in range(2):
                model(*clips(seed=10 * step + rank)).total.backward()
                opt.step()
                opt.zero_grad()
            saved[cir] = {
                "queue": obj.queue.keys.clone(),
                "pointer": int(obj.queue.pointer),
                "keys": keys,
                "weights": {k: v.detach().clone() for k, v in obj.named_parameters()},
            }
            del model
        torch.save(saved, f"{out}/rank{rank}.pt")
        dist.barrier()
    finally:
        dist.destroy_process_group()


def test_ddp_processes_share_one_queue_of_every_process_keys(tmp_path) -> None:
    """Under torchrun each process enqueues the keys of all (rank order), as MoCo's concat_all_gather:
    the queues stay identical; weights stay in step; CIR off (unused decoder) trains too."""
    import torch.multiprocessing as mp

    from tests.training.gloo import free_port

    mp.spawn(_ddp_worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    n = B * T
    for cir in (True, False):
        a, b = r0[cir], r1[cir]
        assert not torch.allclose(a["keys"][0], b["keys"][0])  # the processes saw different clips
        assert torch.equal(a["queue"], b["queue"]) and a["pointer"] == b["pointer"] == 4 * n
        for step in range(2):  # rows of each step: rank 0's keys, then rank 1's
            rows = slice(2 * n * step, 2 * n * step + 2 * n)
            torch.testing.assert_close(a["queue"][rows], torch.cat([a["keys"][step], b["keys"][step]]))
        for name, value in a["weights"].items():  # parameters (BN statistics are per process, as in DDP)
            torch.testing.assert_close(value, b["weights"][name], msg=name)
