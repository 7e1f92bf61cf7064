"""Multi-face tracking end to end on a tiny composed SynthAU scene (bench/bench_tracking.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_tracking.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_tracking", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scene(bench):
    return bench.compose(people=3, seconds=6.0, fps=10.0)


def test_score_of_the_truth_itself_and_of_an_id_swap(bench, scene) -> None:
    truth = [
        [(p, scene.boxes[t, p]) for p in np.nonzero(scene.visible[t])[0]] for t in range(len(scene.frames))
    ]
    perfect = bench.score(scene, truth)
    assert perfect["IDF1"] == pytest.approx(1.0) and perfect["switches/person/min"] == 0
    assert perfect["missed"] == perfect["duplicates"] == perfect["false"] == 0 and perfect["ids"] == 3
    half = len(truth) // 2
    swapped = truth[:half] + [[(i + 10 if i == 1 else i, b) for i, b in f] for f in truth[half:]]
    doubled = [f + [(99, f[0][1] + 2)] if f else f for f in truth]
    assert bench.score(scene, swapped)["switches/person/min"] > 0
    assert bench.score(scene, swapped)["IDF1"] < 0.9
    assert bench.score(scene, doubled)["duplicates"] == sum(1 for f in truth if f)


def test_tiny_scene_keeps_ids_through_a_crossing_and_a_return(bench, scene, tiny_model) -> None:
    result = bench.score(scene, bench.run_detector(scene, model=tiny_model))
    assert result["IDF1"] >= 0.9, result
    assert result["duplicates"] == 0 and result["false"] == 0, result
    assert result["ids"] == 3, result
