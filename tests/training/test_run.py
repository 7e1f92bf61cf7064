"""Run folders, resumable checkpoints (SIGKILL + --resume == uninterrupted), reports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from aunce_rt.datasets.synth_source import synthau_manifest
from aunce_rt.errors import InputError, ModelError, OutputError
from aunce_rt.evaluation.report import aggregate
from aunce_rt.training.config import load_config
from aunce_rt.training.run import atomic_save, read_checkpoint, run_experiment

CLI = Path(sys.executable).parent / "aunce-rt"
TINY = [
    "data.format=manifest",
    "model.backbone=mobilenetv3_small_100",
    "data.val_fraction=0.25",
    "linear.epochs=2",
]


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """36 SynthAU crops of 9 identities (3 per fold), rendered once for the module."""
    return synthau_manifest(tmp_path_factory.mktemp("synthau"), frames=36, seed=0, identities=9)


def _args(manifest: Path, *extra: str) -> list[str]:
    out = []
    for item in (*TINY, f"data.train={manifest}", *extra):
        out += ["--set", item]
    return out


def _cli(out: Path, manifest: Path, *extra: str, resume: bool = False) -> subprocess.Popen:
    cmd = [str(CLI), "train", "pretrain", "synthau_test", "--out", str(out), *_args(manifest, *extra)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [*cmd, *(["--resume"] if resume else [])], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _result(run: Path) -> dict:
    (res,) = sorted((run / "results").glob("*.json"))
    return json.loads(res.read_text())


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted(tmp_path: Path, manifest: Path) -> None:
    extra = ("pretrain.epochs=4",)
    whole = _cli(tmp_path / "whole", manifest, *extra)
    killed = _cli(tmp_path / "killed", manifest, *extra)
    ckpt = tmp_path / "killed" / "checkpoints" / "fold1-seed3407" / "pretrain.pt"
    deadline = time.monotonic() + 240
    while not ckpt.is_file() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL, killed.stdout.read().decode()[-2000:]
    assert read_checkpoint(ckpt)["epoch"] < 4  # killed mid-pretraining
    assert not list((tmp_path / "killed" / "results").glob("*.json"))
    assert whole.wait() == 0, whole.stdout.read().decode()[-2000:]
    resumed = _cli(tmp_path / "killed", manifest, *extra, resume=True)
    assert resumed.wait() == 0, resumed.stdout.read().decode()[-2000:]
    a, b = _result(tmp_path / "whole"), _result(tmp_path / "killed")
    assert a["pretrain_loss"] == b["pretrain_loss"]  # bit-identical losses, epoch by epoch
    assert a["test"] == b["test"] and a["selected_epoch"] == b["selected_epoch"]
    rows = (tmp_path / "killed" / "metrics.csv").read_text().splitlines()
    assert sum(r.startswith("pretrain,fold1,3407,") for r in rows) == 4  # no duplicated epochs


def test_run_folder_checkpoint_and_report(tmp_path: Path, manifest: Path) -> None:
    cfg = load_config(
        "synthau_test", [*TINY, f"data.train={manifest}", "pretrain.epochs=1", "data.folds=[1,2]"]
    )
    result = run_experiment(cfg, tmp_path / "run")
    run = result.path
    assert yaml.safe_load((run / "config.yaml").read_text())["data"]["train"] == str(manifest)
    assert (run / "git.txt").read_text().strip()
    header = (run / "metrics.csv").read_text().splitlines()[0]
    assert header.startswith("stage,split,seed,epoch,loss")
    payload = torch.load(run / "checkpoints" / "fold1-seed3407" / "pretrain.pt", weights_only=True)
    assert payload["format"] == "aunce-rt-model" and payload["epoch"] == 1
    assert payload["au_codes"] == list(cfg_codes(cfg)) and "rng" in payload and "optimizer" in payload
    from aunce_rt.models import load_model

    loaded = load_model(run / "checkpoints" / "fold2-seed3407" / "model.pt")
    assert loaded.au_codes == cfg_codes(cfg) and loaded.extra["split"] == "fold2"
    report = json.loads((run / "report.json").read_text())
    f1s = [u.metrics["test"]["f1_macro"] for u in result.units]
    assert len(f1s) == 2 and report["f1_macro"]["n"] == 2
    assert report["f1_macro"]["mean"] == pytest.approx(np.mean(f1s))
    assert report["f1_macro"]["std"] == pytest.approx(np.std(f1s, ddof=1))
    assert set(report["per_au"]) == {f"AU{c:02d}" for c in cfg_codes(cfg)}
    assert report["selection"] == "validation subjects held out from training"
    md = (run / "report.md").read_text()
    for text in (
        "F1-macro",
        "F1-micro",
        "accuracy",
        "validation subjects held out",
        "best epoch on the test split",
    ):
        assert text in md
    assert "test_static" not in result.units[0].metrics  # no video frames in this test split
    assert "static samples only" not in md
    with pytest.raises(OutputError, match="--resume"):
        run_experiment(cfg, run)


def test_test_metrics_of_static_samples_and_video_frames_apart() -> None:
    from types import SimpleNamespace

    from aunce_rt.evaluation.metrics import au_metrics
    from aunce_rt.evaluation.report import format_markdown
    from aunce_rt.training.run import _test_by_kind

    paths = ["c/s/0001.png", "c/video/0002.png", "c/s/0003.png", "c/video/0004.png", "c/s/0005.png"]
    labels = np.array([[1, 0], [1, 1], [0, 1], [0, 0], [1, 1]])
    probs = np.array([[0.9, 0.2], [0.1, 0.8], [0.3, 0.7], [0.6, 0.1], [0.8, 0.4]])
    split = SimpleNamespace(test=SimpleNamespace(paths=paths))
    got = _test_by_kind(split, SimpleNamespace(labels=labels), probs, (1, 2))
    static, video = [0, 2, 4], [1, 3]
    assert got["test_static"]["frames"] == 3 and got["test_video_frames"]["frames"] == 2
    assert got["test_static"]["f1_macro"] == pytest.approx(au_metrics(probs[static], labels[static]).f1_macro)
    assert got["test_video_frames"]["f1_macro"] == pytest.approx(
        au_metrics(probs[video], labels[video]).f1_macro
    )
    assert got["test_static"]["f1_macro"] != got["test_video_frames"]["f1_macro"]
    all_static = SimpleNamespace(test=SimpleNamespace(paths=[p.replace("video", "s") for p in paths]))
    assert _test_by_kind(all_static, SimpleNamespace(labels=labels), probs, (1, 2)) == {}
    unit = {
        "split": "fold1",
        "seed": 0,
        "au_codes": [1, 2],
        "selection": "validation subjects held out from training",
        "selected_epoch": 1,
        "test": au_metrics(probs, labels).to_dict((1, 2)),
        **got,
    }
    rep = aggregate([unit])
    assert rep["test_static_f1_macro"]["mean"] == pytest.approx(got["test_static"]["f1_macro"])
    assert rep["test_video_frames_f1_macro"]["mean"] == pytest.approx(got["test_video_frames"]["f1_macro"])
    md = format_markdown(rep)
    assert "| F1-macro, test static samples only |" in md and "| F1-macro, test video frames only |" in md


def cfg_codes(cfg) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    from aunce_rt.datasets.protocol import load_protocol

    return load_protocol(cfg.data.protocol).au_codes


def test_aggregate_mean_std_over_units() -> None:
    rng = np.random.default_rng(0)
    units = []
    for split in ("fold1", "fold2", "fold3"):
        for seed in (0, 1):
            f1 = rng.random(2)
            units.append(
                {
                    "split": split,
                    "seed": seed,
                    "au_codes": [1, 2],
                    "selection": "best epoch on the test split",
                    "test": {
                        "f1_macro": float(f1.mean()),
                        "f1_micro": float(f1[0]),
                        "accuracy_mean": None,
                        "per_au": {
                            "AU01": {"f1": float(f1[0]), "accuracy": 0.5},
                            "AU02": {"f1": float(f1[1]), "accuracy": 0.7},
                        },
                    },
                }
            )
    rep = aggregate(units)
    per_unit = [u["test"]["f1_macro"] for u in units]
    assert rep["f1_macro"] == {
        "mean": pytest.approx(np.mean(per_unit)),
        "std": pytest.approx(np.std(per_unit, ddof=1)),
        "n": 6,
    }
    assert rep["per_au"]["AU02"]["accuracy"]["mean"] == pytest.approx(0.7)
    assert rep["accuracy_mean"]["n"] == 0 and rep["selection"] == "best epoch on the test split"


def test_checkpoints_are_atomic_and_corruption_is_reported(tmp_path: Path) -> None:
    path = atomic_save({"state_dict": {"w": torch.ones(2)}, "epoch": 3}, tmp_path / "c.pt")
    assert read_checkpoint(path)["epoch"] == 3 and sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(ModelError, match="cannot read run checkpoint"):
        read_checkpoint(path)


def test_warmup_stage_runs_first_and_resumes_from_its_checkpoint(tmp_path: Path, manifest: Path) -> None:
    extra = [
        f"data.train={manifest}",
        "model.backbone=resnet10t",
        "model.input_norm=image",
        "data.cache=true",
        "warmup.epochs=2",
        "warmup.schedule=cosine",
        "pretrain.epochs=1",
        "pretrain.schedule=cosine",
    ]
    cfg = load_config("synthau_test", [*TINY, *extra])
    result = run_experiment(cfg, tmp_path / "run")
    unit = tmp_path / "run" / "checkpoints" / "fold1-seed3407"
    warm = read_checkpoint(unit / "warmup.pt")
    assert warm["epoch"] == 2 and warm["extra"]["stage"] == "warmup" and "fc.weight" in warm["state_dict"]
    assert warm["encoder_config"]["input_norm"] == "image"
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    stages = [r.split(",")[0] for r in rows[1:]]
    assert stages[:3] == ["warmup", "warmup", "pretrain"]  # the warm-up comes first
    # The pretraining stage starts from the warmed-up backbone, not from a fresh one.
    pre = read_checkpoint(unit / "pretrain.pt")
    assert pre["extra"]["stage"] == "pretrain"
    # One checkpoint format: the training states are save_model files of kind train_state.
    from aunce_rt.models import load_model

    assert (warm["kind"], pre["kind"]) == ("train_state", "train_state")
    assert not warm["probe_trained"] and not pre["probe_trained"] and "optimizer" in pre
    for untrained in ("warmup.pt", "pretrain.pt"):  # AUNCE and the warm-up never train the probe
        with pytest.raises(ModelError, match="never trained.*aunce-rt train linear"):
            load_model(unit / untrained)
    assert load_model(unit / "model.pt").kind == "model"
    key = next(k for k in warm["state_dict"] if k.startswith("encoder.backbone.") and k.endswith("weight"))
    fresh = load_config("synthau_test", [*TINY, *extra, "warmup.epochs=0"])
    from aunce_rt.training.run import make_encoder

    assert not torch.equal(
        make_encoder(fresh, 12).state_dict()[key.removeprefix("encoder.")], warm["state_dict"][key]
    )
    # A finished warm-up is restored, not redone: delete the later stages and run again.
    (unit / "pretrain.pt").unlink()
    for f in (tmp_path / "run" / "results").glob("*.json"):
        f.unlink()
    again = run_experiment(cfg, tmp_path / "run", resume=True)
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert sum(r.startswith("warmup,") for r in rows) == 2  # no warm-up epoch written twice
    assert again.units[0].metrics["pretrain_loss"] == result.units[0].metrics["pretrain_loss"]


@pytest.mark.parametrize("amp", ["bf16", "off"])
def test_cpu_bf16_autocast_covers_warmup_and_pretraining(
    tmp_path: Path, manifest: Path, amp: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aunce_rt.training.step as step_mod  # the one training step calls compute_loss there

    seen: list[tuple[str, bool, torch.dtype]] = []
    real = step_mod.compute_loss

    def spy(state, batch, device):
        seen.append((state.loss_name, torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")))
        return real(state, batch, device)

    monkeypatch.setattr(step_mod, "compute_loss", spy)
    import aunce_rt.training.pretrain as pretrain_mod  # every stage trains through the one loop.fit
    from aunce_rt.training.loop import fit

    fitted: list[str] = []
    monkeypatch.setattr(
        pretrain_mod,
        "fit",
        lambda state, loader, **kw: fitted.append(kw["stage"]) or fit(state, loader, **kw),
    )
    extra = [f"data.train={manifest}", "model.backbone=resnet10t", "warmup.epochs=1", "pretrain.epochs=1"]
    cfg = load_config("synthau_test", [*TINY, *extra, f"amp={amp}"])
    result = run_experiment(cfg, tmp_path / "run")
    stages = {name for name, _, _ in seen}
    assert stages == {"wce", "aunce"}  # the warm-up (WCE) and AUNCE pretraining both ran
    assert fitted == ["warmup", "pretrain"]
    if amp == "bf16":
        assert all(on and dtype == torch.bfloat16 for _, on, dtype in seen)
    else:
        assert not any(on for _, on, _ in seen)
    ckpt = read_checkpoint(tmp_path / "run" / "checkpoints" / "fold1-seed3407" / "pretrain.pt")
    assert all(v.dtype == torch.float32 for v in ckpt["state_dict"].values() if v.is_floating_point())
    assert np.isfinite(result.units[0].metrics["pretrain_loss"]).all()


@pytest.mark.skipif(torch.cuda.is_available(), reason="fp16 is a valid precision on a CUDA machine")
def test_a_precision_the_device_cannot_run_fails_before_any_folder(tmp_path: Path, manifest: Path) -> None:
    cfg = load_config("synthau_test", [*TINY, f"data.train={manifest}", "amp=fp16", "device=cpu"])
    with pytest.raises(InputError, match="fp16 needs a CUDA device"):
        run_experiment(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()
