"""Experiment grids (paper tables) as data, the grid runner's table, and the t-SNE figure."""

from __future__ import annotations

from pathlib import Path

import pytest

from aunce_rt.datasets.synth_source import synthau_manifest
from aunce_rt.errors import InputError
from aunce_rt.training.config import load_config
from aunce_rt.training.experiments import list_grids, load_grid, run_grid, tsne_figure, variant_config

PAPER_PROBS = (0.15, 0.15, 0.7, 0.0)


def test_ablation_grid_is_table_10() -> None:
    grid = load_grid("ablation")
    cfgs = {v.name: variant_config(grid, v, "synthau_test").loss for v in grid.variants}
    assert list(cfgs) == ["baseline", "+PS", "+NS"]
    assert cfgs["baseline"].probs == (0, 1, 0, 0) and (
        cfgs["baseline"].beta_minority,
        cfgs["baseline"].beta_majority,
    ) == (1, 1)
    assert cfgs["+PS"].probs == PAPER_PROBS and (cfgs["+PS"].beta_minority, cfgs["+PS"].beta_majority) == (
        1,
        1,
    )
    assert cfgs["+NS"].probs == PAPER_PROBS and (cfgs["+NS"].beta_minority, cfgs["+NS"].beta_majority) == (
        1.2,
        0.4,
    )


def test_every_grid_resolves() -> None:
    assert set(list_grids()) == {"main", "losses", "ablation", "probs", "beta", "cross"}
    for name in list_grids():
        grid = load_grid(name)
        for v in grid.variants:
            cfg = variant_config(grid, v, "synthau_test")
            assert cfg.name.startswith(f"{name}-")
    losses = load_grid("losses")
    assert [variant_config(losses, v, "bp4d").loss.name for v in losses.variants] == ["aunce", "wce", "wfl"]
    main = load_grid("main")
    assert [variant_config(main, v, None).data.protocol for v in main.variants] == [
        "bp4d",
        "disfa",
        "bp4d_plus",
        "gft",
        "affwild2",
    ]
    with pytest.raises(InputError, match="did you mean 'ablation'"):
        load_grid("ablaton")


def test_grid_runs_end_to_end_and_tsne_figure(tmp_path: Path) -> None:
    manifest = synthau_manifest(tmp_path / "synthau", frames=36, seed=0, identities=9)
    base = (
        "data.format=manifest",
        f"data.train={manifest}",
        "model.backbone=mobilenetv3_small_100",
        "pretrain.epochs=1",
        "linear.epochs=1",
        "data.val_fraction=0.25",
    )
    grid = load_grid("losses")
    rows = run_grid(grid, tmp_path / "grid", base="synthau_test", overrides=base, only=("AUNCE", "WCE"))
    assert [r.variant for r in rows] == ["AUNCE", "WCE"]
    table = (tmp_path / "grid" / "table.md").read_text()
    for r in rows:
        assert r.seconds_per_epoch > 0 and r.frames_per_s > 0
        assert f"| {r.variant} | {100 * r.report['f1_macro']['mean']:.1f} ± " in table
    assert "validation subjects held out" in table
    models = {r.variant: r.run_dir / "checkpoints" / "fold1-seed3407" / "model.pt" for r in rows}
    png = tsne_figure(
        models, load_config("synthau_test", list(base)), tmp_path / "fig5.png", au_code=12, max_points=20
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
