"""AU intensity in the sinks: ``AUxx_r`` where OpenFace 2.2 puts it, read back as OpenFace users read it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aunce_rt.results import FaceResult, FrameResult
from aunce_rt.sinks import CSVSink, JSONLSink, read_au_jsonl

CODES = (1, 2, 12, 28)
RATED = (1, 2, 12)  # AU28 has no intensity, as in OpenFace 2.2
OPENFACE_CSV = "reference/openface2/openface_default.openface2.csv"


def _face(inten: list[float] | None) -> FaceResult:
    p = np.array([0.2, 0.7, 0.9, 0.1], np.float32)
    return FaceResult(
        face_id=0,
        box=np.array([10, 20, 110, 140], np.float32),
        landmarks=np.zeros((478, 2), np.float32),
        confidence=0.9,
        au_codes=CODES,
        probabilities=p,
        occurrences=p >= 0.5,
        intensities=None if inten is None else np.array(inten, np.float32),
    )


def _frame(index: int, faces: tuple[FaceResult, ...]) -> FrameResult:
    return FrameResult(index=index, timestamp=index / 30, faces=faces, width=640, height=480)


def _write(path: Path, intensity_codes: tuple[int, ...]) -> Path:
    with CSVSink(path, CODES, intensity_codes=intensity_codes) as sink:
        sink.write(_frame(0, (_face([0.0, 2.345, 5.0, np.nan]),)))
        sink.write(_frame(1, ()))
        sink.write(_frame(2, (_face([1.0, np.nan, 4.999, np.nan]),)))
    return path


def test_header_and_values_match_the_openface_reference(tmp_path: Path, shared_data: Path) -> None:
    pd = pytest.importorskip("pandas")
    ours = pd.read_csv(_write(tmp_path / "aus.csv", RATED), skipinitialspace=True)
    theirs = pd.read_csv(shared_data / OPENFACE_CSV, skipinitialspace=True)
    ours_r = [c for c in ours.columns if c.endswith("_r")]
    theirs_r = [c for c in theirs.columns if c.endswith("_r")]
    assert ours_r == ["AU01_r", "AU02_r", "AU12_r"] and set(ours_r) <= set(theirs_r)
    for table in (ours, theirs):  # OpenFace 2.2's order: every AUxx_r, then every AUxx_c
        cols = list(table.columns)
        assert max(cols.index(c) for c in cols if c.endswith("_r")) < min(
            cols.index(c) for c in cols if c.endswith("_c")
        )
    assert "AU28_r" not in ours.columns and "AU28_r" not in theirs.columns  # no intensity, no column
    for table in (ours, theirs):  # the same dtype and 0-5 range for a pandas user
        values = table[ours_r].to_numpy()
        assert table[ours_r].dtypes.map(lambda d: d.kind == "f").all()
        assert np.nanmin(values) >= 0.0 and np.nanmax(values) <= 5.0
    np.testing.assert_allclose(ours["AU02_r"].to_numpy(), [2.35, 0.0, np.nan])  # 2 decimals; NaN empty
    np.testing.assert_allclose(ours["AU12_r"].to_numpy(), [5.0, 0.0, 5.0])  # failed frame: 0 as OpenFace
    raw_ours = (tmp_path / "aus.csv").read_text().splitlines()[1].split(",")
    raw_theirs = (shared_data / OPENFACE_CSV).read_text().splitlines()[1].split(",")
    at = list(ours.columns).index("AU01_r")
    assert len(raw_ours[at].split(".")[1]) == len(
        raw_theirs[list(theirs.columns).index("AU01_r")].split(".")[1]
    )


def test_without_intensity_codes_the_header_is_the_old_one(tmp_path: Path) -> None:
    header = _write(tmp_path / "old.csv", ()).read_text().splitlines()[0]
    assert header == (
        "frame,face_id,timestamp,confidence,success,x_min,y_min,x_max,y_max,"
        "AU01_p,AU02_p,AU12_p,AU28_p,AU01_c,AU02_c,AU12_c,AU28_c"
    )


def test_intensity_codes_must_be_columns(tmp_path: Path) -> None:
    from aunce_rt.errors import InputError

    with pytest.raises(InputError, match="intensity AUs"):
        CSVSink(tmp_path / "x.csv", CODES, intensity_codes=(4,))


def test_face_result_intensities() -> None:
    old = _face(None)
    assert np.isnan(old.intensities).all() and np.isnan(old.intensity(12))
    assert "r" not in old.to_dict()["aus"]["AU12"]
    face = _face([0.0, 2.345, 5.0, np.nan])
    assert face.intensity(2) == pytest.approx(2.345) and face.to_dict()["aus"]["AU02"]["r"] == 2.345
    assert "r" not in face.to_dict()["aus"]["AU28"]
    with pytest.raises(ValueError, match="intensities"):
        _face([1.0])
    with pytest.raises(KeyError):
        face.intensity(4)


def test_jsonl_carries_r_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "aus.jsonl"
    with JSONLSink(path) as sink:
        sink.write(_frame(0, (_face([0.0, 2.345, 5.0, np.nan]),)))
    record = json.loads(path.read_text().splitlines()[0])
    assert record["faces"][0]["aus"]["AU12"]["r"] == 5.0
    cols = read_au_jsonl(path)
    assert cols["AU02_r"][0] == pytest.approx(2.345) and "AU28_r" not in cols
