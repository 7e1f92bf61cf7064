from __future__ import annotations

import numpy as np
import pytest

from aunce_rt.errors import InputError
from aunce_rt.plotting import plot_timelines, series_from_columns
from aunce_rt.results import FaceResult, FrameResult
from aunce_rt.sinks import CSVSink, read_au_csv

CODES = (1, 12)


def _frame(i: int, faces: list[tuple[int, float]]) -> FrameResult:
    out = []
    for fid, p in faces:
        probs = np.array([p, 1 - p], np.float32)
        out.append(
            FaceResult(
                fid,
                np.array([0, 0, 10, 10], np.float32),
                np.zeros((478, 2), np.float32),
                0.9,
                CODES,
                probs,
                probs >= 0.5,
            )
        )
    return FrameResult(i, i / 10, tuple(out), 64, 48)


@pytest.fixture
def two_face_csv(tmp_path):
    path = tmp_path / "aus.csv"
    with CSVSink(path, CODES) as sink:
        for i in range(6):
            faces = [] if i == 3 else [(0, 0.1 * i), (1, 0.9)]
            sink.write(_frame(i, faces))
    return path


def test_series_split_per_face_with_gaps(two_face_csv):
    series = series_from_columns(read_au_csv(two_face_csv), "aus")
    assert [s.name for s in series] == ["aus face 0", "aus face 1"]
    s0 = series[0]
    assert s0.kind == "probability"
    assert len(s0.time) == 6  # 5 face rows + the no-face frame
    assert np.isnan(s0.values[1][3]) and np.isclose(s0.values[1][5], 0.5, atol=1e-3)
    np.testing.assert_allclose(series[1].values[12][[0, 1, 2, 4, 5]], 0.1, atol=1e-3)


def test_plot_writes_png(two_face_csv, tmp_path):
    out = plot_timelines([two_face_csv], tmp_path / "p.png", truth={1: np.array([0, 1, 1, 0, 0, 1])})
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_openface_csv_is_read_as_intensity(shared_data, tmp_path):
    csv = shared_data / "reference/openface2/openface_default.openface2.csv"
    (series,) = series_from_columns(read_au_csv(csv), "of")
    assert series.kind == "intensity"
    assert {1, 2, 4, 6, 12}.issubset(series.values)
    assert np.nanmax(series.values[12]) <= 1.0
    plot_timelines([csv], tmp_path / "of.png")


def test_plot_errors(tmp_path):
    with pytest.raises(InputError, match="no such CSV"):
        plot_timelines([tmp_path / "missing.csv"], tmp_path / "x.png")
    bad = tmp_path / "bad.csv"
    bad.write_text("frame,foo\n1,2\n")
    with pytest.raises(InputError, match="no AU columns"):
        plot_timelines([bad], tmp_path / "x.png")


def test_series_colours_are_not_reused_after_ten_or_twenty() -> None:
    from aunce_rt.plotting import series_colour

    colours = [tuple(round(c, 3) for c in series_colour(k)) for k in range(60)]
    assert len(set(colours)) == 60
    assert all(0.0 <= c <= 1.0 for rgb in colours for c in rgb)


def test_overlay_face_colours_are_distinct_beyond_the_palette() -> None:
    from aunce_rt.overlay import face_colour

    assert len({face_colour(i) for i in range(40)}) == 40


def test_value_intensity_draws_our_au_r_against_openface(two_face_csv, shared_data, tmp_path):
    ours = tmp_path / "ours.csv"
    with CSVSink(ours, CODES, intensity_codes=CODES) as sink:
        for i in range(4):
            face = _frame(i, [(0, 0.5)]).faces[0]
            face = FaceResult(**{**face.__dict__, "intensities": np.array([i, 5 - i], np.float32)})
            sink.write(FrameResult(i, i / 10, (face,), 64, 48))
    (series,) = series_from_columns(read_au_csv(ours), "ours", "intensity")
    assert series.kind == "intensity" and series.name == "ours (AU_r / 5)"
    np.testing.assert_allclose(series.values[1], [0, 0.2, 0.4, 0.6])  # AU_r / 5
    assert series_from_columns(read_au_csv(ours), "ours")[0].kind == "probability"  # auto: _p first
    openface = shared_data / "reference/openface2/openface_default.openface2.csv"
    out = plot_timelines([ours, openface], tmp_path / "r.png", aus=[1, 12], value="intensity")
    assert out.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(InputError, match="no AUxx_r"):
        plot_timelines([two_face_csv], tmp_path / "x.png", value="intensity")
    with pytest.raises(InputError, match="value must be"):
        series_from_columns(read_au_csv(ours), "ours", "loudness")


def test_header_only_csv_is_refused(tmp_path):
    csv = tmp_path / "empty.csv"
    csv.write_text("frame,face_id,timestamp,success,AU01_r,AU12_r\n")
    with pytest.raises(InputError, match="header but no rows"):
        plot_timelines([csv], tmp_path / "out.png")
    assert not (tmp_path / "out.png").exists()
