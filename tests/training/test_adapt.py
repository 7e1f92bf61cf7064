"""`training.adapt`: a CLP model goes on with CLP training on new face video; resumable; other models refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from aunce_rt.errors import InputError
from aunce_rt.models import AUModel, AUProbe, create_encoder, load_model, save_model
from aunce_rt.models.clp import create_clp_encoder
from aunce_rt.training.adapt import adapt_model, read_clp_model
from aunce_rt.training.checkpoints import read_checkpoint
from aunce_rt.training.config import load_config, to_dict

CODES = [1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24]


def write_clp_model(path: Path) -> Path:
    """A CLP model of the test config (random weights: adapt's mechanics need no trained one)."""
    cfg = load_config("clp_synthau_test")
    torch.manual_seed(0)
    c = cfg.clp
    encoder = create_clp_encoder(backbone=c.backbone, num_aus=12, au_dim=c.au_dim, id_dim=c.id_dim,
                                 proj_dim=c.proj_dim, recon_size=c.recon_size)  # fmt: skip
    model = AUModel(encoder, AUProbe(12, c.au_dim)).eval()
    return save_model(path, model, au_codes=CODES, thresholds=[0.4] * 12, extra={"config": to_dict(cfg)})


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    from aunce_rt.datasets.synth_videos import synthau_videos

    folder = tmp_path_factory.mktemp("videos")
    synthau_videos(folder, count=2, frames=12, seed=11)
    return folder


@pytest.mark.usefixtures("one_thread")
def test_adapt_trains_the_encoder_keeps_the_probe_and_resumes(tmp_path: Path, videos: Path) -> None:
    base = write_clp_model(tmp_path / "base.pt")
    first = adapt_model(base, [videos], tmp_path / "work", epochs=1)
    assert (first.tracks, first.identities, first.epochs, len(first.history)) == (2, 2, 1, 1)
    before, after = load_model(base), load_model(first.model)
    b, a = before.model.state_dict(), after.model.state_dict()
    assert torch.equal(a["probe.weight"], b["probe.weight"]) and torch.equal(a["probe.bias"], b["probe.bias"])
    moved = [k for k in b if k.startswith("encoder.net.backbone.") and b[k].is_floating_point()
             and not torch.equal(a[k], b[k])]  # fmt: skip
    assert moved, "the encoder did not train"
    assert after.thresholds == before.thresholds and after.au_codes == before.au_codes
    assert after.extra["stage"] == "adapt" and after.extra["adapted_from"] == str(base.resolve())
    assert after.extra["adapt"]["lr"] == pytest.approx(load_config("clp_synthau_test").pretrain.lr / 10)
    assert read_checkpoint(tmp_path / "work" / "adapt.pt")["epoch"] == 1
    # a second call with more epochs continues from the checkpoint (the tracks are cached)
    second = adapt_model(base, [videos], tmp_path / "work", epochs=2)
    assert len(second.history) == 2 and second.history[0] == first.history[0]
    assert read_checkpoint(tmp_path / "work" / "adapt.pt")["epoch"] == 2
    with pytest.raises(InputError, match="other lr"):
        adapt_model(base, [videos], tmp_path / "work", epochs=2, lr=0.5)


def test_only_clp_models_can_be_adapted(tmp_path: Path, videos: Path) -> None:
    encoder = create_encoder("resnet10t", 12, node_dim=16)
    aunce = save_model(tmp_path / "aunce.pt", AUModel(encoder, AUProbe(12, 16)), au_codes=CODES)
    with pytest.raises(InputError, match="method: clp"):
        adapt_model(aunce, [videos], tmp_path / "w")
    with pytest.raises(InputError, match="model.pt checkpoint"):
        read_clp_model(tmp_path / "model.onnx")
    base = write_clp_model(tmp_path / "base.pt")
    with pytest.raises(InputError, match="no such video"):
        adapt_model(base, [tmp_path / "missing.mp4"], tmp_path / "w2")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no videos"):
        adapt_model(base, [tmp_path / "empty"], tmp_path / "w3")
    with pytest.raises(InputError, match="epochs"):
        adapt_model(base, [videos], tmp_path / "w4", epochs=0)


def test_video_files_from_several_places_are_linked_into_one_folder(tmp_path: Path, videos: Path) -> None:
    from aunce_rt.training.adapt import _video_folder

    files = sorted(videos.rglob("*.mp4"))
    folder = _video_folder([files[0], videos], tmp_path / "links")
    targets = sorted(p.resolve() for p in folder.iterdir())
    assert targets == sorted([files[0].resolve(), *(f.resolve() for f in files)])  # the file twice: 2 inputs
