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
