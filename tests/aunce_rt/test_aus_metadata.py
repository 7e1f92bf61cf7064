from __future__ import annotations

import json

import pytest

from aunce_rt.aus import AUS, BENCHMARK_AUS, BP4D_RATES, au_label, au_name, benchmark_aus, parse_au_code
from aunce_rt.errors import InputError, ModelError
from aunce_rt.metadata import METADATA_KEY, ModelMetadata, metadata_from_props


def test_benchmark_sets_match_spec():
    assert BENCHMARK_AUS["bp4d"] == (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
    assert BENCHMARK_AUS["disfa"] == (1, 2, 4, 6, 9, 12, 25, 26)
    assert BENCHMARK_AUS["gft"] == (1, 2, 4, 6, 10, 12, 14, 15, 23, 24)
    assert BENCHMARK_AUS["affwild2"] == (1, 2, 4, 6, 7, 10, 12, 15, 23, 24, 25, 26)
    assert benchmark_aus("BP4D+") == BENCHMARK_AUS["bp4d"]
    assert set(BP4D_RATES) == set(BENCHMARK_AUS["bp4d"])
    for codes in BENCHMARK_AUS.values():
        assert all(c in AUS for c in codes)


def test_names_and_labels():
    assert au_name(12) == "Lip Corner Puller"
    assert au_label(1) == "AU01"
    assert [parse_au_code(s) for s in ("AU12", "au06_r", "17", 4, "AU01_c")] == [12, 6, 17, 4, 1]
    with pytest.raises(InputError, match="known codes"):
        au_name(99)
    with pytest.raises(InputError, match="expected one of"):
        benchmark_aus("ck+")


def test_metadata_round_trip_and_validation():
    meta = ModelMetadata(au_codes=(1, 12), thresholds=(0.4, 0.6), backbone="mobilenetv3_large_100")
    back = ModelMetadata.from_json(meta.to_json())
    assert back == meta
    assert back.au_names == ("Inner Brow Raiser", "Lip Corner Puller")
    assert back.au_labels == ("AU01", "AU12")
    with pytest.raises(ModelError, match="re-export"):
        ModelMetadata.from_json("not json")
    with pytest.raises(ModelError, match="thresholds"):
        ModelMetadata(au_codes=(1, 2), thresholds=(0.5,))
    newer = json.loads(meta.to_json()) | {"format_version": 99}
    with pytest.raises(ModelError, match="upgrade"):
        ModelMetadata.from_json(json.dumps(newer))


def test_metadata_from_props_is_the_one_parser():
    meta = ModelMetadata(au_codes=(1, 12), thresholds=(0.4, 0.6), backbone="b")
    assert metadata_from_props({"other": "x", METADATA_KEY: meta.to_json()}) == meta
    with pytest.raises(ModelError, match=r"model.onnx has no aunce-rt metadata .*aunce-rt export"):
        metadata_from_props({"other": "x"}, "model.onnx")
    with pytest.raises(ModelError, match="not valid JSON"):
        metadata_from_props({METADATA_KEY: "{nope"})
