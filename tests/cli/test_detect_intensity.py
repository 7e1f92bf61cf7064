"""`aunce-rt detect` writes AUxx_r for a model with intensities and the old header for one without."""

from __future__ import annotations

import numpy as np
import pytest

from aunce_rt.detector import DEFAULT_MODEL
from tests.cli.helpers import read_rows, run_detect
from tests.tiny_onnx import TINY_AUS, write_tiny_model


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_bundled_model_writes_intensities(shared_data, tmp_path, fmt):
    import json

    out = tmp_path / f"aus.{fmt}"
    result = run_detect(DEFAULT_MODEL, str(shared_data / "video" / "single_face.mp4"), "--out", str(out))
    assert result.exit_code == 0, result.output
    labels = [f"AU{c:02d}" for c in TINY_AUS]  # the bundled model's 12 BP4D AUs
    if fmt == "csv":
        rows = read_rows(out)
        header = list(rows[0])
        assert header[9:] == [f"{a}_r" for a in labels] + [f"{a}_p" for a in labels] + [
            f"{a}_c" for a in labels
        ]
        values = np.array([[float(r[f"{a}_r"]) for a in labels] for r in rows if r["success"] == "1"])
        assert len(values) == 72 and values.min() >= 0 and values.max() <= 5 and values.std() > 0
        assert all(len(r["AU12_r"].split(".")[1]) == 2 for r in rows if r["success"] == "1")
    else:
        record = json.loads(out.read_text().splitlines()[0])
        assert set(record["faces"][0]["aus"]["AU12"]) == {"p", "c", "r"}


def test_older_model_keeps_the_old_header(shared_data, tmp_path):
    model = write_tiny_model(tmp_path / "tiny.onnx")
    out = tmp_path / "aus.csv"
    result = run_detect(model, str(shared_data / "video" / "single_face.mp4"), "--out", str(out))
    assert result.exit_code == 0, result.output
    header = list(read_rows(out)[0])
    assert not [c for c in header if c.endswith("_r")] and len(header) == 9 + 2 * len(TINY_AUS)
