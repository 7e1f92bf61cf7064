"""Model checkpoints: round trip, the two kinds (model, train_state), untrained probes refused, clear errors."""

from __future__ import annotations

import pytest
import torch

from aunce_rt._version import __version__
from aunce_rt.errors import ModelError, OutputError
from aunce_rt.models import AUModel, AUProbe, LoadedModel, create_encoder, load_model, save_model

CODES = [1, 2, 4]


@pytest.fixture(scope="module")
def model() -> AUModel:
    torch.manual_seed(0)
    encoder = create_encoder("mobilenetv3_small_100", 3, node_dim=48, top_k=2)
    model = AUModel(encoder, AUProbe(3, 48))
    model.train()
    with torch.no_grad():  # a few training-mode passes give non-trivial BatchNorm statistics
        for seed in range(2):
            model(torch.randn(4, 3, 96, 96, generator=torch.Generator().manual_seed(seed)))
    return model.eval()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(7))


def test_round_trip_gives_identical_outputs(tmp_path, model, images):
    path = save_model(
        tmp_path / "sub" / "model.pt",
        model,
        au_codes=CODES,
        thresholds=[0.4, 0.5, 0.6],
        extra={"dataset": "bp4d"},
    )
    loaded = load_model(path)
    assert isinstance(loaded, LoadedModel)
    assert loaded.au_codes == (1, 2, 4) and loaded.thresholds == (0.4, 0.5, 0.6)
    assert loaded.encoder_config == model.encoder.config and loaded.extra == {"dataset": "bp4d"}
    assert not loaded.model.training
    with torch.no_grad():
        assert torch.equal(loaded.model(images), model(images))
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "aunce-rt-model" and raw["format_version"] == 1
    assert raw["kind"] == "model" and raw["probe_trained"] is True and loaded.kind == "model"
    assert raw["aunce_rt_version"] == __version__


def test_default_thresholds_are_one_half(tmp_path, model):
    loaded = load_model(save_model(tmp_path / "m.pt", model, au_codes=CODES))
    assert loaded.thresholds == (0.5, 0.5, 0.5)


def test_training_run_checkpoint_with_extra_keys_loads(tmp_path, model, images):
    path = save_model(tmp_path / "run.pt", model, au_codes=CODES)
    payload = torch.load(path, weights_only=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    payload.update(
        optimizer=optimizer.state_dict(),
        epoch=5,
        rng=torch.get_rng_state(),
        state_dict={
            f"module.{k}": v
            for k, v in payload["state_dict"].items()  # saved from a DDP wrapper
        },
    )
    torch.save(payload, path)
    with torch.no_grad():
        assert torch.equal(load_model(path).model(images), model(images))


def test_train_state_kind_holds_the_training_keys_and_loads_as_a_model(tmp_path, model, images):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    state = {"optimizer": optimizer.state_dict(), "epoch": 3, "step": 30, "history": [1.0, 0.9, 0.8]}
    path = save_model(tmp_path / "state.pt", model, au_codes=CODES, kind="train_state", train_state=state)
    raw = torch.load(path, weights_only=True)
    assert raw["kind"] == "train_state" and raw["epoch"] == 3 and raw["history"] == [1.0, 0.9, 0.8]
    assert "optimizer" in raw and raw["probe_trained"] is True  # an AUModel trained end to end (WCE)
    loaded = load_model(path)
    assert loaded.kind == "train_state"
    with torch.no_grad():
        assert torch.equal(loaded.model(images), model(images))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.pt"]  # written atomically, no tmp left


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "weights"}, "kind must be one of model, train_state"),
        ({"kind": "train_state"}, "needs train_state="),
        ({"train_state": {"epoch": 1}}, "pass kind='train_state'"),
    ],
)
def test_kind_and_payload_must_agree(tmp_path, model, kwargs, match):
    with pytest.raises(ValueError, match=match):
        save_model(tmp_path / "m.pt", model, au_codes=CODES, **kwargs)
    with pytest.raises(ValueError, match="AUModel"):
        save_model(tmp_path / "m.pt", model.encoder, au_codes=CODES)  # a bare encoder is no model


def test_a_probe_never_trained_is_refused(tmp_path, model):
    # AUNCE pretraining state: the bare encoder, saved as a resumable training state.
    path = save_model(
        tmp_path / "pretrain.pt",
        model.encoder,
        au_codes=CODES,
        kind="train_state",
        train_state={"epoch": 2},
        extra={"stage": "pretrain"},
    )
    assert torch.load(path, weights_only=True)["probe_trained"] is False
    with pytest.raises(
        ModelError, match=r"probe was never trained \(a pretrain train state\).*aunce-rt train linear"
    ):
        load_model(path)
    # A file from before the 'kind' key, with encoder weights only (old pretraining checkpoints).
    old = save_model(tmp_path / "old.pt", model, au_codes=CODES)
    payload = torch.load(old, weights_only=True)
    payload["state_dict"] = model.encoder.state_dict()
    for key in ("kind", "probe_trained"):
        del payload[key]
    torch.save(payload, old)
    with pytest.raises(ModelError, match="never trained"):
        load_model(old)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"au_codes": [1, 2]}, "AU codes"),
        ({"au_codes": CODES, "thresholds": [0.5]}, "thresholds"),
        ({"au_codes": CODES, "extra": {"bad": object()}}, "JSON"),
    ],
)
def test_save_rejects_inconsistent_arguments(tmp_path, model, kwargs, match):
    with pytest.raises(ValueError, match=match):
        save_model(tmp_path / "m.pt", model, **kwargs)


def test_save_to_an_unwritable_place_raises_output_error(tmp_path, model):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="writable"):
        save_model(blocker / "m.pt", model, au_codes=CODES)


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "nope.pt")


def test_corrupt_and_truncated_files(tmp_path, model):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelError, match="cannot read checkpoint"):
        load_model(junk)
    good = save_model(tmp_path / "good.pt", model, au_codes=CODES).read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(ModelError, match="cannot read checkpoint"):
        load_model(cut)


def test_wrong_dicts(tmp_path, model):
    bare = tmp_path / "bare.pt"
    torch.save(model.state_dict(), bare)
    with pytest.raises(ModelError, match="encoder_config"):
        load_model(bare)
    listed = tmp_path / "list.pt"
    torch.save([1, 2], listed)
    with pytest.raises(ModelError, match="list"):
        load_model(listed)


def test_weights_of_another_shape(tmp_path, model):
    path = save_model(tmp_path / "m.pt", model, au_codes=CODES)
    payload = torch.load(path, weights_only=True)
    payload["encoder_config"] = {**payload["encoder_config"], "node_dim": 32}
    torch.save(payload, path)
    with pytest.raises(ModelError, match="do not fit"):
        load_model(path)


def test_a_clp_model_round_trips_with_its_whole_network(tmp_path, images):
    from aunce_rt.models.checkpoint import build_encoder
    from aunce_rt.models.clp import CLPEncoder, create_clp_encoder

    torch.manual_seed(0)
    encoder = create_clp_encoder(
        backbone="resnet10t", num_aus=3, au_dim=16, id_dim=8, proj_dim=8, recon_size=8
    )
    model = AUModel(encoder, AUProbe(3, 16)).eval()
    path = save_model(tmp_path / "clp.pt", model, au_codes=CODES, thresholds=[0.3, 0.5, 0.7])
    loaded = load_model(path)
    assert isinstance(loaded.model.encoder, CLPEncoder) and loaded.encoder_config["arch"] == "clp"
    assert loaded.thresholds == (0.3, 0.5, 0.7)
    with torch.no_grad():
        assert torch.equal(loaded.model(images), model(images))
    # the heads only CLP training uses (identity, projector, decoder) travel too: adapt goes on with them
    state = loaded.model.state_dict()
    assert any(k.startswith("encoder.net.decoder.") for k in state)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    assert type(build_encoder(encoder.config)) is CLPEncoder
    assert type(build_encoder({"backbone": "resnet10t", "num_aus": 3})).__name__ == "AUEncoder"


def test_a_clp_model_probing_f_round_trips_and_reads_the_backbone_feature(tmp_path, images):
    """``clp.probe_feature=f``: the probe reads E's pooled feature (512-d for ResNet-10-T), and the
    saved model keeps that choice."""
    from aunce_rt.models.clp import CLPEncoder, create_clp_encoder

    torch.manual_seed(0)
    encoder = create_clp_encoder(
        backbone="resnet10t", num_aus=3, au_dim=16, id_dim=8, proj_dim=8, recon_size=8, feature="f"
    ).eval()
    assert encoder.node_dim == 512 and encoder.config["feature"] == "f"
    with torch.no_grad():
        feats = encoder(images)
        assert feats.shape == (len(images), 3, 512)
        torch.testing.assert_close(feats[:, 0], encoder.net.pooled(images))
    model = AUModel(encoder, AUProbe(3, 512)).eval()
    loaded = load_model(save_model(tmp_path / "clp_f.pt", model, au_codes=CODES, thresholds=[0.5] * 3))
    assert isinstance(loaded.model.encoder, CLPEncoder) and loaded.model.encoder.feature == "f"
    with torch.no_grad():
        assert torch.equal(loaded.model(images), model(images))
    with pytest.raises(ValueError, match="'r' .* or 'f'"):
        CLPEncoder(encoder.net, 3, "z")
