"""The export steps one by one: trace + metadata, parity, fp16 (ONNX Runtime's converter), int8, scheme choice."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import onnx
import pytest

from aunce_rt.errors import ModelError
from aunce_rt.export import (
    ExportResult,
    check_parity,
    choose_int8_scheme,
    load_source,
    quantize_int8,
    random_crops,
    read_metadata,
    to_fp16,
    trace_onnx,
    update_metadata,
)
from aunce_rt.metadata import METADATA_KEY


@pytest.fixture(scope="module")
def traced(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny checkpoint traced at 112 px (no features output)."""
    return trace_onnx(tiny_checkpoint, tmp_path_factory.mktemp("traced") / "m.onnx", input_size=112)


def test_trace_writes_a_self_describing_graph(traced: Path, tiny: ExportResult) -> None:
    model = onnx.load(str(traced))
    meta = read_metadata(model)
    assert meta == read_metadata(traced)  # from a ModelProto or from the file: one parser
    assert meta.precision == "fp32" and meta.input_size == 112 and not meta.has_features
    assert meta.au_codes == tiny.metadata.au_codes and meta.backbone == tiny.metadata.backbone
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 112, 112, 3]
    assert [
        [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in model.graph.output
    ] == [["batch", 12]]


def test_check_parity_against_pytorch_and_a_reference_graph(traced: Path, tiny_checkpoint: Path) -> None:
    crops = random_crops(4, seed=2, size=112)
    (torch_vs_ort,) = check_parity(traced, load_source(tiny_checkpoint), crops)
    assert torch_vs_ort.n == 4 and torch_vs_ort.max_abs_diff <= 1e-4
    (same,) = check_parity(traced, traced, [("same", crops)], tolerance=0.0)
    assert same.name == "same" and same.max_abs_diff == 0.0 and same.decision_agreement == 1.0
    with pytest.raises(ModelError, match="does not reproduce the model"):
        check_parity(traced, load_source(tiny_checkpoint), crops, tolerance=-1.0)


def test_to_fp16_uses_onnxruntime_converter_and_keeps_parity(tiny: ExportResult, tmp_path: Path) -> None:
    half = to_fp16(tiny.path, tmp_path / "m16.onnx")
    model = onnx.load(str(half))
    meta = read_metadata(model)
    assert meta.precision == "fp16" and dataclasses.replace(meta, precision="fp32") == tiny.metadata
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert {o.type.tensor_type.elem_type for o in model.graph.output} == {onnx.TensorProto.FLOAT}
    onnx.checker.check_model(model, full_check=True)  # topologically sorted, types consistent
    # the feature normalisation (a sum of squares) stays float32 inside the fp16 graph
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type for v in inferred.graph.value_info}
    norms = [n for n in model.graph.node if n.op_type in ("ReduceL2", "LpNormalization", "ReduceSumSquare")]
    assert norms and all(types[n.input[0]] == onnx.TensorProto.FLOAT for n in norms)
    # same 1e-2 bound as the fp16 export test (test_variants.test_fp16_variant)
    (agreement,) = check_parity(half, tiny.path, [("random", random_crops(6, seed=3))], tolerance=1e-2)
    assert agreement.decision_agreement >= 0.95


def test_quantize_int8_steps_describe_themselves(traced: Path, tmp_path: Path) -> None:
    dynamic = quantize_int8(traced, tmp_path / "d8.onnx", scheme="dynamic")
    assert read_metadata(dynamic).precision == "int8" and read_metadata(dynamic).input_size == 112
    with pytest.raises(ModelError, match="calibration crops"):
        quantize_int8(traced, tmp_path / "s8.onnx")
    with pytest.raises(ModelError, match="scheme"):
        quantize_int8(traced, tmp_path / "x8.onnx", scheme="fast")


def test_choose_int8_scheme_keeps_the_faster(
    traced: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aunce_rt.export._scheme as scheme

    calib = random_crops(8, seed=5, size=112)
    for faster in ("static", "dynamic"):
        monkeypatch.setattr(
            scheme,
            "ms_per_face",
            lambda paths, size, f=faster: [1.0 if f in Path(p).stem else 3.0 for p in paths],
        )
        choice = choose_int8_scheme(traced, tmp_path / f"{faster}.onnx", calib)
        ops = {n.op_type for n in onnx.load(str(choice.path)).graph.node}
        assert choice.scheme == faster and dict(choice.ms_per_face) == {
            faster: 1.0,
            ({"static", "dynamic"} - {faster}).pop(): 3.0,
        }
        assert ("QuantizeLinear" in ops) == (faster == "static")
        assert read_metadata(choice.path).precision == "int8"
    single = choose_int8_scheme(traced, tmp_path / "only.onnx", schemes=("dynamic",))
    assert single.scheme == "dynamic" and not single.ms_per_face
    with pytest.raises(ModelError, match="subset"):
        choose_int8_scheme(traced, tmp_path / "bad.onnx", calib, schemes=("fast",))


def test_update_metadata_and_missing_metadata(traced: Path, tmp_path: Path) -> None:
    copy = tmp_path / "m.onnx"
    copy.write_bytes(traced.read_bytes())
    meta = update_metadata(copy, metrics={"f1_macro": 0.5})
    assert meta.metrics == {"f1_macro": 0.5} and read_metadata(copy) == meta
    bare = onnx.load(str(copy))
    del bare.metadata_props[:]
    with pytest.raises(ModelError, match=f"no aunce-rt metadata .*{METADATA_KEY}.*aunce-rt export"):
        read_metadata(bare)
