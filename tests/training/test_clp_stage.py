"""The clp stage's small pieces: the speakers file and the probe encoder."""

from __future__ import annotations

import pytest

from aunce_rt.errors import InputError
from aunce_rt.training.clp_stage import probe_encoder, read_speakers


def test_speakers_csv_with_or_without_header(tmp_path) -> None:
    path = tmp_path / "speakers.csv"
    path.write_text("video,speaker\nid1/a.mp4,id1\nid2/b.mp4, id2\n")
    assert read_speakers(path) == {"id1/a.mp4": "id1", "id2/b.mp4": "id2"}
    path.write_text("x.mp4,7\n")
    assert read_speakers(path) == {"x.mp4": "7"}
    path.write_text("x.mp4\n")
    with pytest.raises(InputError, match="video,speaker"):
        read_speakers(path)


def test_probe_encoder_refuses_another_network() -> None:
    from torch import nn

    with pytest.raises(InputError, match="CLPNet"):
        probe_encoder(nn.Linear(2, 2), 3)


def test_config_options_reach_the_objective() -> None:
    """The spec's marked alternatives are config options that change the objective built."""
    from aunce_rt.training.clp_stage import make_clp_objective
    from aunce_rt.training.config import load_config

    default = make_clp_objective(load_config("clp_synthau_test").clp)
    assert default.tcl.batch_negatives is False and default.tcl.mode == "temporal" and default.cir
    cfg = load_config(
        "clp_synthau_test", ["clp.batch_negatives=true", "clp.margin_mode=positive", "clp.cir=false"]
    )
    obj = make_clp_objective(cfg.clp)
    assert obj.tcl.batch_negatives is True and obj.tcl.mode == "positive" and not obj.cir
    f_cfg = load_config("clp_synthau_test", ["clp.probe_feature=f"])
    assert probe_encoder(obj.net, 12, f_cfg.clp.probe_feature).node_dim == obj.net.spec.width
    with pytest.raises(ValueError, match="clp.probe_feature"):
        load_config("clp_synthau_test", ["clp.probe_feature=g"])
