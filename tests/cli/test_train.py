"""`aunce-rt train recipe`: what it prints at the end of a run (the recipe itself is tested in training/)."""

from __future__ import annotations

from pathlib import Path
from unittest.mock import ANY

from typer.testing import CliRunner

from aunce_rt.cli.main import app
from aunce_rt.pipelines.recipe import RecipeResult, Variant

runner = CliRunner()


def test_recipe_prints_runtime_same_frames_and_static_crops_f1(monkeypatch, tmp_path):
    fp32 = Variant("fp32", tmp_path / "m.onnx", 0.9, 0.915, (), 0.0)
    runtime = {
        "f1_macro": 0.867,
        "detection_rate": 0.998,
        "frames": 3600,
        "people": 60,
        "truth_aligned_same_frames": {"f1_macro": 0.865},
    }
    result = RecipeResult(tmp_path, tmp_path / "model.pt", (fp32,), fp32, runtime, {"f1_macro": 0.914}, None)
    calls = []

    def fake_run_recipe(name, out, **kw):
        calls.append((name, out, kw))
        return result

    monkeypatch.setattr("aunce_rt.pipelines.recipe.run_recipe", fake_run_recipe)
    res = runner.invoke(app, ["train", "recipe", "default", "--out", str(tmp_path / "run"), "--no-install"])
    assert res.exit_code == 0, res.output
    assert calls == [
        (
            "default",
            Path(tmp_path / "run"),
            {"overrides": (), "install_default": False, "install_to": None, "callbacks": ANY},
        )
    ]
    text = " ".join(res.output.split())
    assert "60 unseen people (3600 frames): F1-macro 86.7%" in text
    assert "the same frames aligned with the true landmarks: 86.5%" in text
    assert "static test crops of other unseen people: 91.4%" in text


def test_recipe_installs_into_the_package_only_when_asked(monkeypatch, tmp_path):
    fp32 = Variant("fp32", tmp_path / "m.onnx", 0.9, 0.915, (), 0.0)
    runtime = {"f1_macro": 0.867, "detection_rate": 0.998, "frames": 3600, "people": 60}
    calls = []

    def fake_run_recipe(name, out, **kw):
        calls.append(kw)
        installed = tmp_path / "assets" / "default.onnx" if kw["install_default"] else kw["install_to"]
        return RecipeResult(
            tmp_path,
            tmp_path / "model.pt",
            (fp32,),
            fp32,
            runtime,
            {"f1_macro": 0.914},
            installed,
            model=tmp_path / "run" / "default.onnx",
        )

    monkeypatch.setattr("aunce_rt.pipelines.recipe.run_recipe", fake_run_recipe)
    base = ["train", "recipe", "default", "--out", str(tmp_path / "run")]
    res = runner.invoke(app, base)
    assert res.exit_code == 0, res.output
    assert calls[-1] == {"overrides": (), "install_default": False, "install_to": None, "callbacks": ANY}
    assert "installed" not in res.output and "default.onnx" in res.output
    res = runner.invoke(app, [*base, "--install-default"])
    assert res.exit_code == 0, res.output
    assert calls[-1]["install_default"] is True and "aunce-rt demo` now uses it" in res.output
    res = runner.invoke(app, [*base, "--install-to", str(tmp_path / "elsewhere.onnx")])
    assert res.exit_code == 0, res.output
    assert calls[-1] == {
        "overrides": (),
        "install_default": False,
        "install_to": tmp_path / "elsewhere.onnx",
        "callbacks": ANY,
    }


def test_train_commands_pass_their_progress_bars_as_callbacks(monkeypatch, tmp_path):
    from aunce_rt.cli._progress import EpochProgress
    from aunce_rt.training.run import RunResult

    seen = []

    def fake_run_experiment(cfg, out, **kw):
        seen.append(kw)
        return RunResult(Path(out), (), {})

    monkeypatch.setattr("aunce_rt.training.run.run_experiment", fake_run_experiment)
    res = runner.invoke(
        app, ["train", "pretrain", "synthau_test", "--out", str(tmp_path / "run"), "--no-linear"]
    )
    assert res.exit_code == 0, res.output
    assert isinstance(seen[0]["callbacks"], EpochProgress) and seen[0]["stages"] == ("pretrain",)


def test_epoch_progress_follows_the_stages():
    from rich.console import Console
    from rich.progress import Progress

    from aunce_rt.cli._progress import EpochProgress
    from aunce_rt.training.callbacks import EpochSummary

    with Progress(console=Console(file=None, force_terminal=False)) as bar:
        hooks = EpochProgress(bar)
        hooks.on_epoch_start("warmup", 0, 2, 3)
        hooks.on_step(0, 0.7)
        hooks.on_epoch_end(EpochSummary("warmup", 1, 2, 0.7, 0.1))
        hooks.on_epoch_start("pretrain", 1, 4, 5)  # a resumed stage: one epoch done
        (epochs, steps) = bar.tasks
        assert (epochs.description, epochs.completed, epochs.total, steps.total) == ("pretrain", 1, 4, 5)
    EpochProgress(None).on_step(0, 1.0)  # disabled: inert


def test_train_intensity_adds_the_output_and_refuses_to_overwrite(tmp_path):
    from aunce_rt.export._graph import read_metadata
    from aunce_rt.export.testing import tiny_export

    model = tiny_export(tmp_path / "tiny", with_features=False).path
    out = tmp_path / "with_intensity.onnx"
    args = ["train", "intensity", str(model), "--out", str(out), "--renders", "24", "--heldout", "48"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "held-out SynthAU people" in res.output and "mean" in res.output
    assert read_metadata(out).intensity_aus == read_metadata(model).au_codes
    again = runner.invoke(app, args)
    assert again.exit_code != 0 and "already exists" in again.output and "--overwrite" in again.output


def test_real_faces_passes_the_head_kind_and_refuses_an_unknown_one(monkeypatch, tmp_path):
    seen = []

    def fake_recipe(sources, out, cfg, **kw):
        seen.append(cfg)
        raise SystemExit(0)  # stop after the config is made: the recipe itself is tested in pipelines/

    monkeypatch.setattr("aunce_rt.pipelines.real_faces.run_real_face_recipe", fake_recipe)
    res = runner.invoke(
        app, ["train", "real-faces", "--out", str(tmp_path), "--head", "mlp", "--mlp-seed", "2"]
    )
    assert res.exit_code == 0, res.output
    assert (seen[0].head, seen[0].mlp_seed) == ("mlp", 2)
    res = runner.invoke(app, ["train", "real-faces", "--out", str(tmp_path), "--head", "forest"])
    assert res.exit_code != 0 and not seen[1:]
    assert "--head 'forest' is not a head kind; use --head linear or --head mlp" in " ".join(
        res.output.split()
    )
