"""The claims study's grid (issue 21) loads, and a stopped study resumes without redoing cells."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aunce_rt.errors import InputError
from aunce_rt.training import claims_cell
from aunce_rt.training.claims_study import StudySpec, load_study, read_results, run_study

TINY = {
    "name": "tiny",
    "losses": {"AUNCE": {"loss": "aunce"}, "WCE": {"loss": "wce"}},
    "noise": [0.0, 0.2],
    "imbalance": {"harsh": {2: 0.05}},
    "minority_aus": [2, 15],
    "seeds": [1],
    "recipe": {"train_frames": 40, "test_frames": 16, "warmup_steps": 2, "steps": 2, "probe_epochs": 2,
               "batch": 8, "probe_batch": 8, "input": 32},
}  # fmt: skip


def test_the_claims_grid_loads_with_every_axis_of_the_issue() -> None:
    spec = load_study("claims_synthau")
    assert list(spec.losses) == ["AUNCE", "AUNCE -PS", "AUNCE -NS", "AUNCE -centroid", "WCE", "WFL"]
    assert spec.losses["AUNCE -PS"]["probs"] == [0, 1, 0, 0]
    assert spec.losses["AUNCE -centroid"]["probs"][2] == 0
    assert (spec.losses["AUNCE -NS"]["beta_minority"], spec.losses["AUNCE -NS"]["beta_majority"]) == (1, 1)
    assert set(spec.imbalance) == {"bp4d", "harsh"} and spec.imbalance["bp4d"] == {}
    assert len(spec.imbalance["harsh"]) == 4 and max(spec.imbalance["harsh"].values()) <= 0.05
    assert len(spec.seeds) >= 3 and spec.recipe.amp == "bf16"
    assert spec.noise_for("bp4d") == spec.noise and spec.noise_for("harsh") == (0.0,)
    cells = spec.cells()
    assert len(cells) == 6 * (len(spec.noise) + 1) * len(spec.seeds)
    assert [(c.imbalance, c.noise) for c in cells[::6]][: len(spec.noise)] == [
        ("bp4d", n) for n in spec.noise
    ]
    assert len({c.key for c in cells}) == len(cells)


def test_the_loss_variants_build_their_losses() -> None:
    from aunce_rt.training.train_state import build_loss

    for name, variant in load_study("claims_synthau").losses.items():
        kw = {k: v for k, v in variant.items() if k != "loss"}
        assert build_loss(variant["loss"], kw) is not None, name


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"losses": {"X": {"loss": "mse"}}}, "aunce, wce, wfl"),
        ({"noise": [0.6]}, "flip rates"),
        ({"seedz": [1]}, "seedz"),
        ({"noise_by_imbalance": {"harsh": [0.1]}}, "non-empty subset of noise"),
        ({"noise_by_imbalance": {"bp4d": [0.0]}}, "needs an imbalance setting"),
    ],
)
def test_a_bad_study_says_what_was_expected(tmp_path: Path, change: dict, match: str) -> None:
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**TINY, **change}))
    with pytest.raises(InputError, match=match):
        load_study(path)
    with pytest.raises(InputError, match="unknown study"):
        load_study("claims_synthu")


def test_a_stopped_study_resumes_and_skips_finished_cells(tmp_path: Path, monkeypatch) -> None:
    spec = StudySpec(**TINY)
    first = run_study(spec, tmp_path, max_cells=3)
    assert (first.finished, first.ran_now, first.total) == (3, 3, 4)
    before = {p.name: p.read_text() for p in (tmp_path / "cells").glob("*.json")}
    assert (
        len(list((tmp_path / "warmup").glob("*.pt"))) == 2
        and len(list((tmp_path / "data").glob("*.npz"))) == 1
    )

    def no_render(*args, **kwargs):
        raise AssertionError("the crops are cached: nothing should be rendered again")

    monkeypatch.setattr(claims_cell, "_render", no_render)
    second = run_study(spec, tmp_path)
    assert (second.finished, second.ran_now) == (4, 1)
    for name, text in before.items():  # finished cells are not rewritten
        assert (tmp_path / "cells" / name).read_text() == text
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results) == 4 and {r["loss"] for r in results} == {"AUNCE", "WCE"}
    assert all(0 <= r["f1_macro"] <= 1 and len(r["f1_per_au"]) == 12 for r in results)
    noisy = [r for r in read_results(tmp_path) if r.noise == 0.2]
    assert all(0.1 < r.flipped < 0.3 for r in noisy)  # 20% flips of the training labels

    def no_training(*args, **kwargs):
        raise AssertionError("every cell is finished: nothing should train")

    monkeypatch.setattr(claims_cell, "_train", no_training)
    assert run_study(spec, tmp_path).ran_now == 0
    # cutting the grid keeps the finished cells and reports only the grid's own
    cut = run_study(StudySpec(**{**TINY, "noise_by_imbalance": {"harsh": [0.0]}}), tmp_path)
    assert (cut.finished, cut.ran_now, cut.total) == (2, 0, 2)
    assert {r["noise"] for r in json.loads((tmp_path / "results.json").read_text())} == {0.0}
    with pytest.raises(InputError, match="different study"):  # another recipe: the cells are not its cells
        run_study(StudySpec(**{**TINY, "recipe": {**TINY["recipe"], "steps": 3}}), tmp_path)


def test_two_runners_never_share_a_study_folder(tmp_path: Path) -> None:
    from aunce_rt.training.claims_study import _lock

    held = _lock(tmp_path)
    with pytest.raises(InputError, match="another study run holds"):
        run_study(StudySpec(**TINY), tmp_path)
    held.close()
