"""``method: clp`` end to end on a CPU: SynthAU videos -> face tracks -> clips -> CLP -> linear probe; resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from aunce_rt.training.config import load_config
from aunce_rt.training.run import read_checkpoint, run_experiment


class Killed(RuntimeError):
    """Stands for a process killed right after a checkpoint."""


def _config(shared: Path):
    """The test config, its probe frames, videos and tracks cached once in ``shared`` for every run."""
    from aunce_rt.datasets.synth_videos import synthau_videos

    synthau_videos(shared / "videos", count=3, frames=12, seed=3407)
    overrides = [
        f"data.root={shared / 'probe'}",
        f"clp.videos={shared / 'videos'}",
        f"clp.cache={shared / 'tracks'}",
    ]
    return load_config("clp_synthau_test", overrides)


def test_config_refuses_bad_clp_settings() -> None:
    with pytest.raises(ValueError, match="clp.margin_mode"):
        load_config("clp_synthau_test", ["clp.margin_mode=linear"])
    with pytest.raises(ValueError, match="method"):
        load_config("clp_synthau_test", ["method=simclr"])
    with pytest.raises(ValueError, match="clp.recon_size"):
        load_config("clp_synthau_test", ["clp.recon_size=12"])


@pytest.mark.usefixtures("one_thread")
def test_clp_trains_through_the_model_probes_and_resumes(tmp_path: Path) -> None:
    cfg = _config(tmp_path / "shared")
    whole = run_experiment(cfg, tmp_path / "whole")
    (unit,) = whole.units
    metrics = unit.metrics
    assert metrics["method"] == "clp" and metrics["pretrain_clips"] >= 3
    losses = metrics["pretrain_loss"]
    assert len(losses) == 2 and all(torch.isfinite(torch.tensor(losses)))
    assert 0.0 <= metrics["test"]["f1_macro"] <= 1.0
    ckpt = read_checkpoint(tmp_path / "whole" / "checkpoints" / "fold1-seed3407" / "pretrain.pt")
    assert ckpt["loss_name"] == "clp" and ckpt["epoch"] == 2 and ckpt["step"] > 0
    state = ckpt["state_dict"]
    assert int(state["queue.pointer"]) == (ckpt["step"] * 3 * 3) % 64  # B*T keys enqueued per step
    # The loss went through the model: the optimiser moved the online encoder away from its
    # momentum copy (they start equal; the EMA alone would keep them equal).
    online = {k.removeprefix("net.backbone."): v for k, v in state.items() if k.startswith("net.backbone.")}
    keys = {k.removeprefix("key_backbone."): v for k, v in state.items() if k.startswith("key_backbone.")}
    assert online.keys() == keys.keys()
    assert any(not torch.equal(online[k], keys[k]) for k in online if online[k].is_floating_point())
    assert any(k.startswith("net.decoder.") for k in state)
    # the finished unit is a model like any other: encoder (the whole CLP network) + probe, exportable
    from aunce_rt.models import load_model
    from aunce_rt.models.clp import CLPEncoder

    model = load_model(tmp_path / "whole" / "checkpoints" / "fold1-seed3407" / "model.pt")
    assert isinstance(model.model.encoder, CLPEncoder) and model.au_codes == tuple(metrics["au_codes"])

    def stop_after_first(epoch: int) -> None:
        if epoch == 1:
            raise Killed

    with pytest.raises(Killed):
        run_experiment(cfg, tmp_path / "killed", after_checkpoint=stop_after_first)
    assert (
        read_checkpoint(tmp_path / "killed" / "checkpoints" / "fold1-seed3407" / "pretrain.pt")["epoch"] == 1
    )
    resumed = run_experiment(cfg, tmp_path / "killed", resume=True)
    again = resumed.units[0].metrics
    assert again["pretrain_loss"] == losses  # bit-identical on CPU: RNGs, queue and momentum travel
    assert again["test"]["f1_macro"] == metrics["test"]["f1_macro"]
    result = json.loads(next((tmp_path / "killed" / "results").glob("*.json")).read_text())
    assert result["pretrain_loss"] == losses
