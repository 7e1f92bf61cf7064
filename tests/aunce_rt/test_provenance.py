"""git_revision and jsonable: the one copy of each, shared by runs, exports and recipes."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest

from aunce_rt.provenance import git_revision, jsonable


def test_git_revision_outside_git_is_empty(tmp_path: Path) -> None:
    assert git_revision(tmp_path) == ""


def test_git_revision_names_the_commit_and_marks_a_dirty_tree(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True).stdout

    try:
        git("init", "-q")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("git is not available")
    (tmp_path / "a.txt").write_text("1")
    git("add", "a.txt")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "one")
    head = git("rev-parse", "HEAD").strip()
    assert git_revision(tmp_path) == head
    (tmp_path / "a.txt").write_text("2")
    assert git_revision(tmp_path) == f"{head}-dirty"


def test_jsonable_turns_numpy_and_non_finite_values_into_json() -> None:
    value = {
        1: np.float32(0.123456789),
        "a": (np.int64(3), np.array([1.5, np.nan])),
        "b": [math.inf, np.bool_(True)],
        "p": Path("x/y"),
    }
    out = jsonable(value, digits=3)
    assert out == {"1": 0.123, "a": [3, [1.5, None]], "b": [None, True], "p": "x/y"}
    json.dumps(out, allow_nan=False)
    assert jsonable(np.float64(0.1234567)) == pytest.approx(0.1234567)
