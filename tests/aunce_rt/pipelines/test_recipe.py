"""The recipe pipeline end to end on a tiny config: train, export fp32+int8, choose, evaluate, describe."""

from __future__ import annotations

import json

import pytest

from aunce_rt.errors import InputError
from aunce_rt.pipelines import recipe
from aunce_rt.pipelines.recipe import Variant, choose_variant, recipe_path, run_recipe
from aunce_rt.session import AUModelSession

TINY = """
base: {paper}
name: recipe-tiny
seed: 0
selection: val
device: cpu
data: {{protocol: synthau, format: synthau, synth_frames: 72, synth_identities: 24, synth_video_frames: 20,
        crop_size: 128,
        image_size: 112, num_workers: 0, val_fraction: 0.2, folds: [1]}}
model: {{backbone: mobilenetv3_small_100, node_dim: 32, top_k: 4}}
pretrain: {{lr: 1.0e-3, batch_size: 16, epochs: 1}}
linear: {{lr: 1.0e-2, batch_size: 64, epochs: 3}}
"""


def test_choose_variant_prefers_faster_within_one_point():
    fp32 = Variant("fp32", None, 5.0, 0.80, ())
    fast_ok = Variant("int8", None, 3.0, 0.795, ())
    fast_bad = Variant("int8", None, 3.0, 0.78, ())
    slow = Variant("int8", None, 9.0, 0.81, ())
    assert choose_variant([fp32, fast_ok]) is fast_ok
    assert choose_variant([fp32, fast_bad]) is fp32
    assert choose_variant([fp32, slow]) is fp32


def test_unknown_recipe_names_the_known_ones():
    assert recipe_path("default").name == "default.yaml"
    with pytest.raises(InputError, match="known recipes: default"):
        recipe_path("nope")


def test_recipe_installs_into_the_package_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setattr(recipe, "ASSETS_DIR", tmp_path / "assets")
    assert recipe._install_target("default", False, None) is None  # the default: the run folder only
    assert recipe._install_target("default", True, None) == tmp_path / "assets" / "default.onnx"
    assert recipe._install_target("x.yaml", False, tmp_path / "m.onnx") == tmp_path / "m.onnx"
    assert recipe._install_target("x.yaml", False, tmp_path) == tmp_path / "x.onnx"
    with pytest.raises(InputError, match="exclusive"):
        recipe._install_target("default", True, tmp_path / "m.onnx")


@pytest.mark.slow
def test_tiny_recipe_end_to_end(tmp_path):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(TINY.format(paper=recipe_path("default").parent.parent / "paper.yaml"))
    assets = sorted((p.name, p.stat().st_mtime_ns) for p in recipe.ASSETS_DIR.glob("*"))
    res = run_recipe(
        str(cfg),
        tmp_path / "run",
        clip_people=1,
        clip_frames=12,
    )
    assert {v.precision for v in res.variants} == {"fp32", "int8"}
    assert res.chosen in res.variants and res.installed is None
    # the model lands in the run folder; the package's assets are untouched unless asked
    assert (
        res.model == tmp_path / "run" / "tiny.onnx" and res.model.read_bytes() == res.chosen.path.read_bytes()
    )
    assert sorted((p.name, p.stat().st_mtime_ns) for p in recipe.ASSETS_DIR.glob("*")) == assets
    meta = AUModelSession(res.chosen.path, providers="cpu").metadata
    assert meta.input_size == 112 and meta.backbone == "mobilenetv3_small_100"
    assert "SynthAU" in meta.licence_note and "NOT a model of real faces" in meta.licence_note
    runtime = meta.metrics["synthau_runtime_unseen_people"]
    assert runtime["frames"] == 12 and 0.0 <= runtime["f1_macro"] <= 1.0
    assert 0.0 <= runtime["truth_aligned_same_frames"]["f1_macro"] <= 1.0
    assert 0.0 <= runtime["f1_macro_at_crop_rates"] <= 1.0 and set(runtime["au_rates"]) >= {"AU01", "AU24"}
    assert meta.thresholds == (0.5,) * 12  # the balanced decision point, not tuned
    assert set(meta.metrics["synthau_test_crops"]["per_au"]) >= {"AU01", "AU24"}
    saved = json.loads((tmp_path / "run" / "recipe_result.json").read_text())
    assert saved["chosen"] == res.chosen.precision
    # Video crops train (and fill test folds) but the "test crops" figure is the static crops'.
    from aunce_rt.datasets.formats import read_manifest
    from aunce_rt.datasets.protocol import load_protocol
    from aunce_rt.datasets.synth_source import is_video_crop

    index = read_manifest(tmp_path / "run" / "cache" / "synthau" / "manifest.csv")
    test_people = set(load_protocol("synthau").fold_subjects(index.subjects)[0])
    static_test = [p for p, s in zip(index.paths, index.subjects, strict=True) if s in test_people]
    static_test = [p for p in static_test if not is_video_crop(p)]
    assert sum(map(is_video_crop, index.paths)) == 20 and saved["train_video_frames"] > 0
    assert saved["test_frames"] == len(static_test) == meta.metrics["synthau_test_crops"]["frames"]
    card = (tmp_path / "run" / "MODEL_CARD.md").read_text()
    assert "- **file**: `tiny.onnx`" in card
    assert (
        "| AU12 | Lip Corner Puller |" in card
        and "true landmarks" in card
        and "F1-macro" in card
        and "**not** a model of real faces" in card
        and "prevalence-calibrated F1" in card
        and "mp4-compressed clips" in card
    )
